import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { loadWallet } from './session.ts';
import '../shared/styles.css';

/** One line of `GET /v1/privacy/retention`. */
interface RetentionItem {
  readonly key: string;
  readonly what: string;
  readonly days: number | null;
  readonly then: string;
}

/** The export's two forms: the API answers each as a download (Content-Disposition). */
const exportLinks = [
  { format: 'json', label: 'Download JSON', hint: 'One file, for programs and for reading.' },
  { format: 'csv', label: 'Download CSV', hint: 'A zip of spreadsheets, one per kind of record.' },
] as const;

function keptFor(days: number | null): string {
  if (days === null) return 'While your account exists, or as the law requires';
  if (days === 1) return '1 day';
  return `${days} days`;
}

/**
 * "Your data": what the platform keeps about the user and for how long (the platform's own
 * periods, `GET /v1/privacy/retention`), and the download of everything it holds about them.
 */
export class DataPage extends MiteElement {
  static override properties = {
    email: { state: true },
    retention: { state: true },
    failure: { state: true },
  };

  declare email: string | undefined;
  declare retention: readonly RetentionItem[] | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const wallet = await loadWallet();
    if (typeof wallet === 'string') {
      this.failure = wallet;
      return;
    }
    this.email = wallet.email;
    const result = await callApi<{ items: RetentionItem[] }>('GET', '/v1/privacy/retention');
    if (result.ok) this.retention = result.value.items;
    else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    return html`<h1>Your data</h1>
      ${
        this.failure === undefined
          ? nothing
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      ${this.renderExport()} ${this.renderRetention()}`;
  }

  private renderExport() {
    if (this.email === undefined) return nothing;
    return html`<h2>Download everything</h2>
      <p>
        Everything Mite holds about you (${this.email}): your account, sessions, wallet and its
        movements, top-ups, purchases, refunds, budget and memberships.
      </p>
      <ul class="export-links">
        ${exportLinks.map(
          (link) =>
            html`<li>
              <a
                class="button"
                href="/v1/users/me/export?format=${link.format}"
                download
                aria-describedby="export-${link.format}-hint"
                >${link.label}</a
              >
              <span class="hint" id="export-${link.format}-hint">${link.hint}</span>
            </li>`,
        )}
      </ul>`;
  }

  private renderRetention() {
    const items = this.retention;
    if (items === undefined) {
      return this.failure === undefined ? html`<p role="status">Loading…</p>` : nothing;
    }
    return html`<h2 id="retention-heading">What is kept, and for how long</h2>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="retention-heading">
          <thead>
            <tr>
              <th scope="col">What</th>
              <th scope="col">Kept for</th>
              <th scope="col">Then</th>
            </tr>
          </thead>
          <tbody>
            ${items.map(
              (item) =>
                html`<tr data-key=${item.key}>
                  <td data-label="What">${item.what}</td>
                  <td data-label="Kept for">${keptFor(item.days)}</td>
                  <td data-label="Then">${item.then}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`;
  }
}

customElements.define('mite-data-page', DataPage);
