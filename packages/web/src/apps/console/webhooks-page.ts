import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { ageOf, failureNotice, operatorCall } from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/** `GET /v1/operator/webhook-backlog`. */
interface Backlog {
  readonly pending: number;
  readonly due: number;
  readonly oldestPendingAt: string | null;
  readonly failedLastDay: number;
  readonly failingEndpoints: readonly {
    readonly endpointId: string;
    readonly merchantId: string | null;
    readonly origin: string;
    readonly pending: number;
    readonly attemptsMax: number;
    readonly oldestAt: string | null;
    readonly lastStatus: number | null;
    readonly lastError: string | null;
  }[];
}

/** The webhook outbox: what waits to be delivered, and the endpoints that keep failing. */
export class WebhooksPage extends MiteElement {
  static override properties = { backlog: { state: true }, failure: { state: true } };
  declare backlog: Backlog | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await operatorCall<Backlog>('GET', '/v1/operator/webhook-backlog');
    if (result.ok) this.backlog = result.value;
    else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    const backlog = this.backlog;
    return html`<h1>Webhooks</h1>
      ${failureNotice(this.failure)}
      ${
        backlog === undefined
          ? html`<p role="status">Loading…</p>`
          : html`<ul class="figures" aria-label="Backlog" data-testid="backlog">
                <li>Waiting <span class="figure">${backlog.pending}</span></li>
                <li>Due now <span class="figure">${backlog.due}</span></li>
                <li>
                  Oldest waiting
                  <span class="figure"
                    >${backlog.oldestPendingAt === null ? '–' : ageOf(backlog.oldestPendingAt)}</span
                  >
                </li>
                <li>Given up, last 24 h <span class="figure">${backlog.failedLastDay}</span></li>
              </ul>
              ${this.renderFailing(backlog)}`
      }`;
  }

  private renderFailing(backlog: Backlog) {
    if (backlog.failingEndpoints.length === 0) {
      return html`<h2>Failing endpoints</h2>
        <p>No endpoint is failing: every waiting delivery is on its first try.</p>`;
    }
    return html`<h2 id="failing-heading">Failing endpoints</h2>
      <p class="hint">Endpoints whose deliveries were tried and are being retried with backoff.</p>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="failing-heading">
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Merchant</th>
              <th scope="col" class="amount">Waiting</th>
              <th scope="col" class="amount">Attempts</th>
              <th scope="col">Oldest</th>
              <th scope="col">Last answer</th>
            </tr>
          </thead>
          <tbody>
            ${backlog.failingEndpoints.map(
              (endpoint) =>
                html`<tr>
                  <td data-label="Endpoint">
                    <span class="cell"
                      >${endpoint.origin}<br /><code class="hint"
                        >${endpoint.endpointId}</code
                      ></span
                    >
                  </td>
                  <td data-label="Merchant">
                    ${
                      endpoint.merchantId === null
                        ? 'The platform'
                        : html`<code>${endpoint.merchantId}</code>`
                    }
                  </td>
                  <td data-label="Waiting" class="amount">${endpoint.pending}</td>
                  <td data-label="Attempts" class="amount">${endpoint.attemptsMax}</td>
                  <td data-label="Oldest">${ageOf(endpoint.oldestAt)}</td>
                  <td data-label="Last answer">
                    <span class="cell"
                      >${endpoint.lastStatus ?? nothing} ${endpoint.lastError ?? nothing}</span
                    >
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`;
  }
}

customElements.define('mite-webhooks-page', WebhooksPage);
