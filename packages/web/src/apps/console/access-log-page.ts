import { html } from 'lit';
import { MiteElement } from '../shared/mite-element.ts';
import {
  consolePaths,
  failureNotice,
  moreButton,
  nextPage,
  type Page,
  when,
} from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/** `GET /v1/operator/personal-data-views` items. */
interface View {
  readonly viewId: string;
  readonly operator: string;
  readonly operatorEmail: string | null;
  readonly recordKind: string;
  readonly recordId: string;
  readonly field: string;
  readonly reason: string;
  readonly viewedAt: string;
}

function recordLink(view: View) {
  if (view.recordKind !== 'topUp') return html`<code>${view.recordId}</code>`;
  const href = `${consolePaths.topUp}?topup=${encodeURIComponent(view.recordId)}`;
  return html`Top-up <a href=${href}><code>${view.recordId}</code></a>`;
}

/** Every view of personal data an operator made, newest first: who, what, when and why. */
export class AccessLogPage extends MiteElement {
  static override properties = { views: { state: true }, failure: { state: true } };
  declare views: Page<View> | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
  }

  private async more(): Promise<void> {
    const { page, failure } = await nextPage<View>('/v1/operator/personal-data-views', this.views);
    this.views = page;
    this.failure = failure;
  }

  protected override render() {
    const views = this.views?.items;
    return html`<h1>Personal data access log</h1>
      <p>
        Every time an operator was shown a person's data (an email, for a dispute), the platform
        wrote it here first. Entries are never changed or removed.
      </p>
      ${failureNotice(this.failure)}
      ${
        views === undefined
          ? html`<p role="status">Loading…</p>`
          : views.length === 0
            ? html`<p>No one has viewed personal data.</p>`
            : html`<div class="table-scroll">
                <table class="responsive-table" aria-label="Access log" data-testid="access-log">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Who</th>
                      <th scope="col">Record</th>
                      <th scope="col">Field</th>
                      <th scope="col">Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${views.map(
                      (view) =>
                        html`<tr>
                          <td data-label="When">${when(view.viewedAt)}</td>
                          <td data-label="Who">
                            <span class="cell"
                              >${view.operatorEmail ?? 'an admin key'}<br /><code class="hint"
                                >${view.operator}</code
                              ></span
                            >
                          </td>
                          <td data-label="Record"><span class="cell">${recordLink(view)}</span></td>
                          <td data-label="Field">${view.field}</td>
                          <td data-label="Reason">${view.reason}</td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
      }
      ${moreButton(this.views, 'Show older entries', () => void this.more())}`;
  }
}

customElements.define('mite-access-log-page', AccessLogPage);
