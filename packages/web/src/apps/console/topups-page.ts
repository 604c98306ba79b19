import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  consolePaths,
  failureNotice,
  moreButton,
  nextPage,
  operatorCall,
  type Page,
  when,
  showSignedAmount,
} from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/** `GET /v1/operator/topups` items. */
export interface TopUp {
  readonly topUpId: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly amount: string;
  readonly cardFee: string | null;
  readonly provider: string;
  readonly sandbox: boolean;
  readonly cardLast4: string | null;
  /** The user erased their account: their personal data is gone. */
  readonly userErased: boolean;
  readonly failureCode: string | null;
  readonly createdAt: string;
  readonly completedAt: string | null;
}

/** `GET /v1/fee-report`. */
interface FeeReport {
  readonly topUps: number;
  readonly topUpCardFees: string;
  readonly payments: number;
  readonly perPaymentCardFees: string;
  readonly saving: string;
}

/** The fee report's period: the last 30 days, to now. */
const reportDays = 30;
const dayMs = 86_400_000;

export function topUpLink(topUp: TopUp) {
  const href = `${consolePaths.topUp}?topup=${encodeURIComponent(topUp.topUpId)}`;
  return html`<a href=${href}
    ><code>${topUp.topUpId}</code><span class="visually-hidden"> details</span></a
  >`;
}

/** Every top-up, newest first, with its card fee; and the fee report's totals. */
export class TopUpsPage extends MiteElement {
  static override properties = {
    topUps: { state: true },
    report: { state: true },
    failure: { state: true },
  };

  declare topUps: Page<TopUp> | undefined;
  declare report: FeeReport | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
    void this.loadReport();
  }

  private async more(): Promise<void> {
    const { page, failure } = await nextPage<TopUp>('/v1/operator/topups', this.topUps);
    this.topUps = page;
    if (failure !== undefined) this.failure = failure;
  }

  private async loadReport(): Promise<void> {
    const toMs = Date.now();
    const query = new URLSearchParams({
      from: new Date(toMs - reportDays * dayMs).toISOString(),
      to: new Date(toMs).toISOString(),
    });
    const result = await operatorCall<FeeReport>('GET', `/v1/fee-report?${query.toString()}`);
    if (result.ok) this.report = result.value;
    else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    return html`<h1>Top-ups</h1>
      ${failureNotice(this.failure)} ${this.renderReport()} ${this.renderList()}`;
  }

  private renderReport() {
    const report = this.report;
    if (report === undefined) return nothing;
    return html`<h2 id="totals-heading">The last ${reportDays} days</h2>
      <ul class="figures" aria-labelledby="totals-heading" data-testid="fee-report">
        <li>Top-ups <span class="figure">${report.topUps}</span></li>
        <li>Card fees paid <span class="figure">${showAmount(report.topUpCardFees)}</span></li>
        <li>
          Purchases <span class="figure">${report.payments}</span>
          <span class="hint"
            >each by card would have cost ${showAmount(report.perPaymentCardFees)} in fees</span
          >
        </li>
        <li>Saved <span class="figure">${showSignedAmount(report.saving)}</span></li>
      </ul>`;
  }

  private renderList() {
    const topUps = this.topUps?.items;
    if (topUps === undefined) return html`<p role="status">Loading…</p>`;
    if (topUps.length === 0)
      return html`<h2>All top-ups</h2>
        <p>No top-ups yet.</p>`;
    return html`<h2 id="list-heading">All top-ups</h2>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="list-heading" data-testid="topups">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Top-up</th>
              <th scope="col">State</th>
              <th scope="col" class="amount">Amount</th>
              <th scope="col" class="amount">Card fee</th>
              <th scope="col">Card</th>
            </tr>
          </thead>
          <tbody>
            ${topUps.map(
              (topUp) =>
                html`<tr>
                  <td data-label="When">${when(topUp.createdAt)}</td>
                  <td data-label="Top-up">${topUpLink(topUp)}</td>
                  <td data-label="State">${topUp.state}${topUp.sandbox ? ' (sandbox)' : ''}</td>
                  <td data-label="Amount" class="amount">${showAmount(topUp.amount)}</td>
                  <td data-label="Card fee" class="amount">
                    ${topUp.cardFee === null ? '–' : showAmount(topUp.cardFee)}
                  </td>
                  <td data-label="Card">
                    ${
                      topUp.userErased
                        ? 'erased'
                        : topUp.cardLast4 === null
                          ? '–'
                          : `•••• ${topUp.cardLast4}`
                    }
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${moreButton(this.topUps, 'Show older top-ups', () => void this.more())}`;
  }
}

customElements.define('mite-topups-page', TopUpsPage);
