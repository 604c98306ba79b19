import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { microsOf, showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { alertOf, loadMerchantSession, type MerchantSession } from './merchant-context.ts';
import '../shared/styles.css';
import './account-screens.css';

/** `GET /v1/merchants/{id}/reports/fees`. */
interface FeeReport {
  readonly from: string;
  readonly to: string;
  readonly platformFeeBasisPoints: number;
  readonly sales: {
    readonly payments: number;
    readonly gross: string;
    readonly platformFees: string;
    readonly net: string;
    readonly refunded: string;
  };
  readonly cardComparison: {
    readonly payments: number;
    readonly paid: string;
    readonly perPaymentCardFees: string;
    readonly cardFeeBasisPoints: number;
    readonly cardFeeFixed: string;
  };
}

type PeriodField = 'from' | 'to';

/** The longest period a report covers, in days (server: reportBucketsMax). */
const periodDaysMax = 366;
const dayMs = 86_400_000;
/** The period shown first: the last 30 days, today included. */
const defaultPeriodDays = 30;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC of a typed day (YYYY-MM-DD), or undefined when it is not a day. */
function dayMsOf(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) || dayOf(ms) !== text ? undefined : ms;
}

/** "2.9% + $0.30" from basis points and a fixed amount. */
function rateText(basisPoints: number, fixed?: string): string {
  const percent = `${(basisPoints / 100).toFixed(2).replace(/\.?0+$/, '')}%`;
  return fixed === undefined ? percent : `${percent} + ${showAmount(fixed)}`;
}

/** What one amount is of another, in whole percent ("1503%"), compared as micro-units. */
function shareText(part: string, whole: string): string | undefined {
  const partMicros = microsOf(part);
  const wholeMicros = microsOf(whole);
  if (partMicros === undefined || wholeMicros === undefined || wholeMicros === 0n) return undefined;
  return `${((partMicros * 100n + wholeMicros / 2n) / wholeMicros).toString()}%`;
}

/** The fee report: what the platform fee took of the sales, against card fees per purchase. */
export class FeesPage extends MiteElement {
  static override properties = {
    session: { state: true },
    report: { state: true },
    failure: { state: true },
    errors: { state: true },
    busy: { state: true },
  };

  declare session: MerchantSession | undefined;
  declare report: FeeReport | undefined;
  declare failure: string | undefined;
  declare errors: FieldErrors<PeriodField>;
  declare busy: boolean;
  private readonly period = {
    from: dayOf(Date.now() - (defaultPeriodDays - 1) * dayMs),
    to: dayOf(Date.now()),
  };

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const session = await loadMerchantSession();
    if (typeof session === 'string') {
      this.failure = session;
      return;
    }
    this.session = session;
    await this.fetchReport(this.period);
  }

  private async fetchReport(period: { from: string; to: string }): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    this.busy = true;
    const query = `from=${period.from}&to=${period.to}`;
    const path = `/v1/merchants/${encodeURIComponent(session.merchantId)}/reports/fees?${query}`;
    const result = await callApi<FeeReport>('GET', path);
    this.busy = false;
    if (result.ok) {
      this.report = result.value;
      this.failure = undefined;
    } else this.failure = describeProblem(result.problem);
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const from = inputValue(form, 'from');
    const to = inputValue(form, 'to');
    const fromMs = dayMsOf(from);
    const toMs = dayMsOf(to);
    const errors: FieldErrors<PeriodField> = {};
    if (fromMs === undefined) errors.from = 'Enter a day, like 2027-01-31.';
    if (toMs === undefined) errors.to = 'Enter a day, like 2027-01-31.';
    else if (fromMs !== undefined && fromMs > toMs) errors.to = 'Choose a day after the first.';
    else if (fromMs !== undefined && (toMs - fromMs) / dayMs + 1 > periodDaysMax) {
      errors.to = `A report covers at most ${periodDaysMax} days.`;
    }
    this.errors = errors;
    if (Object.keys(errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.period.from = from;
    this.period.to = to;
    await this.fetchReport(this.period);
  }

  protected override render() {
    return html`<h1>Fees</h1>
      <p>
        What the platform's fee took of your sales, and what the same purchases would have cost in
        card fees had each buyer paid you by card, one charge per purchase. Buyers pay from wallets
        they top up by card, so one card fee covers many purchases, from many sites.
      </p>
      <form novalidate @submit=${this.submit} aria-label="Period" class="period-form">
        ${field({
          id: 'from',
          label: 'From (UTC day)',
          type: 'date',
          value: this.period.from,
          error: this.errors.from,
        })}
        ${field({
          id: 'to',
          label: 'To (UTC day, included)',
          type: 'date',
          value: this.period.to,
          error: this.errors.to,
        })}
        <div><button type="submit" ?disabled=${this.busy}>Show fees</button></div>
      </form>
      ${alertOf(this.failure)} ${this.renderReport()}`;
  }

  private renderReport() {
    const report = this.report;
    if (report === undefined) {
      return this.failure === undefined ? html`<p role="status">Loading the report…</p>` : nothing;
    }
    const { sales, cardComparison: cards } = report;
    const cardShare = shareText(cards.perPaymentCardFees, cards.paid);
    return html`<section aria-labelledby="platform-heading" data-testid="fee-report">
        <h2 id="platform-heading">Platform fee, ${report.from} to ${report.to}</h2>
        <dl class="figures">
          <dt>Your fee rate</dt>
          <dd>${rateText(report.platformFeeBasisPoints)} of each sale</dd>
          <dt>Sales</dt>
          <dd>${sales.payments}, worth ${showAmount(sales.gross)} to you</dd>
          <dt>Platform fees</dt>
          <dd data-testid="platform-fees">${showAmount(sales.platformFees)}</dd>
          <dt>Credited to you</dt>
          <dd>${showAmount(sales.net)}</dd>
          <dt>Refunded</dt>
          <dd>${showAmount(sales.refunded)}</dd>
        </dl>
        <p class="hint">
          Counts your share of purchases split with other merchants. Sales show here a few seconds
          after they complete.
        </p>
      </section>
      <section aria-labelledby="cards-heading">
        <h2 id="cards-heading">Against card payments</h2>
        <dl class="figures">
          <dt>Purchases you sold</dt>
          <dd>${cards.payments}, for ${showAmount(cards.paid)} in all</dd>
          <dt>Card fees, one charge each</dt>
          <dd data-testid="card-fees">
            ${showAmount(cards.perPaymentCardFees)}${
              cardShare === undefined ? nothing : html` (${cardShare} of what was paid)`
            }
          </dd>
          <dt>Card price assumed</dt>
          <dd>${rateText(cards.cardFeeBasisPoints, cards.cardFeeFixed)} per charge</dd>
        </dl>
      </section>`;
  }
}

customElements.define('mite-fees-page', FeesPage);
