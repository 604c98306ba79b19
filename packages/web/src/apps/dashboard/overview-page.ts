import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { showMicros, showTotal } from '../shared/money.ts';
import { DashboardScreenElement } from './dashboard-screen.ts';
import {
  bucketLabel,
  chartData,
  type EarningsBucket,
  type EarningsInterval,
  type EarningsMeasure,
  periodFor,
  totalsOf,
} from './earnings.ts';
import { leaveOnEndedSession, type MerchantSession } from './merchant-session.ts';
import './dashboard-shell.ts';
import './earnings-chart.ts';

/** `GET /v1/merchants/{id}/reports/top-offers` items. */
interface TopOffer {
  readonly offerId: string;
  readonly title: string | null;
  readonly payments: number;
  readonly gross: string;
  readonly net: string;
  readonly refunded: string;
  readonly kept: string;
}

const intervalNames: Readonly<Record<EarningsInterval, string>> = {
  day: 'Last 30 days',
  week: 'Last 26 weeks',
  month: 'Last 12 months',
};

const measureNames: Readonly<Record<EarningsMeasure, string>> = {
  net: 'Net (what you were credited)',
  gross: 'Gross (your part of the prices)',
  fees: 'Platform fees',
};

/** Top offers listed. */
const topOffersShown = 10;

/** The dashboard's home: earnings over time as a chart, the period's totals, and top offers. */
export class OverviewPage extends DashboardScreenElement {
  static override properties = {
    interval: { state: true },
    measure: { state: true },
    buckets: { state: true },
    topOffers: { state: true },
    failure: { state: true },
    busy: { state: true },
  };

  declare interval: EarningsInterval;
  declare measure: EarningsMeasure;
  declare buckets: readonly EarningsBucket[] | undefined;
  declare topOffers: readonly TopOffer[] | undefined;
  declare failure: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.interval = 'day';
    this.measure = 'net';
    this.busy = false;
  }

  /** Counts reads, so that an earlier period's answer arriving late is not shown. */
  private reads = 0;

  protected override async load(session: MerchantSession): Promise<void> {
    const read = ++this.reads;
    this.busy = true;
    const base = `/v1/merchants/${encodeURIComponent(session.merchantId)}/reports`;
    const { from, to } = periodFor(this.interval, Date.now());
    const range = `from=${from}&to=${to}`;
    const [earnings, top] = await Promise.all([
      callApi<{ buckets: EarningsBucket[] }>(
        'GET',
        `${base}/earnings?interval=${this.interval}&${range}`,
      ),
      callApi<{ offers: TopOffer[] }>('GET', `${base}/top-offers?${range}&limit=${topOffersShown}`),
    ]);
    if (read !== this.reads) return;
    this.busy = false;
    const refused = !earnings.ok ? earnings.problem : !top.ok ? top.problem : undefined;
    if (refused !== undefined) {
      if (!leaveOnEndedSession(refused.status)) this.failure = describeProblem(refused);
      return;
    }
    this.failure = undefined;
    if (earnings.ok) this.buckets = earnings.value.buckets;
    if (top.ok) this.topOffers = top.value.offers;
  }

  private choose(event: Event): void {
    const input = event.target as HTMLInputElement;
    if (input.name === 'interval') {
      this.interval = input.value as EarningsInterval;
      if (this.session !== undefined) void this.load(this.session);
    } else if (input.name === 'measure') {
      this.measure = input.value as EarningsMeasure;
    }
  }

  private refresh(): void {
    if (this.session !== undefined) void this.load(this.session);
  }

  protected override render() {
    return html`<h1>Overview</h1>
      ${
        this.failure === undefined
          ? nothing
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <section aria-labelledby="earnings-heading" class="panel">
        <h2 id="earnings-heading">Earnings</h2>
        <div class="field-row" @change=${this.choose}>
          ${this.radios('interval', 'Period', intervalNames, this.interval)}
          ${this.radios('measure', 'Show', measureNames, this.measure)}
        </div>
        ${this.renderEarnings()}
        <p class="hint">
          A sale shows here about 7 seconds after it is paid.
          <button type="button" class="secondary" ?disabled=${this.busy} @click=${this.refresh}>
            Refresh
          </button>
        </p>
      </section>
      ${this.renderTopOffers()}`;
  }

  private radios<K extends string>(
    name: string,
    legend: string,
    choices: Readonly<Record<K, string>>,
    chosen: K,
  ) {
    return html`<fieldset>
      <legend>${legend}</legend>
      <div class="choices">
        ${(Object.keys(choices) as K[]).map(
          (key) =>
            html`<label
              ><input type="radio" name=${name} value=${key} .checked=${key === chosen} />
              ${choices[key]}</label
            >`,
        )}
      </div>
    </fieldset>`;
  }

  private renderEarnings() {
    const buckets = this.buckets;
    if (buckets === undefined) return html`<p role="status">Loading your earnings…</p>`;
    const totals = totalsOf(buckets);
    const label = `${measureNames[this.measure]}, ${intervalNames[this.interval].toLowerCase()}`;
    return html`<dl class="totals" aria-label="Totals for the period" data-testid="totals">
        <div>
          <dt>Payments</dt>
          <dd data-testid="total-payments">${totals.payments}</dd>
        </div>
        <div>
          <dt>Gross</dt>
          <dd data-testid="total-gross">${showMicros(totals.gross)}</dd>
        </div>
        <div>
          <dt>Fees</dt>
          <dd data-testid="total-fees">${showMicros(totals.fees)}</dd>
        </div>
        <div>
          <dt>Net</dt>
          <dd data-testid="total-net">${showMicros(totals.net)}</dd>
        </div>
        <div>
          <dt>Refunded</dt>
          <dd data-testid="total-refunded">${showMicros(totals.refunded)}</dd>
        </div>
      </dl>
      <mite-earnings-chart
        .label=${label}
        .data=${chartData(this.interval, buckets, this.measure)}
      ></mite-earnings-chart>
      <details>
        <summary>The chart's figures as a table</summary>
        ${this.renderBucketTable(buckets)}
      </details>`;
  }

  private renderBucketTable(buckets: readonly EarningsBucket[]) {
    return html`<div class="table-scroll">
      <table class="responsive-table">
        <caption class="visually-hidden">
          Earnings per ${this.interval}
        </caption>
        <thead>
          <tr>
            <th scope="col">
              ${this.interval === 'day' ? 'Day' : this.interval === 'week' ? 'Week of' : 'Month'}
            </th>
            <th scope="col" class="amount">Payments</th>
            <th scope="col" class="amount">Gross</th>
            <th scope="col" class="amount">Fees</th>
            <th scope="col" class="amount">Net</th>
            <th scope="col" class="amount">Refunded</th>
          </tr>
        </thead>
        <tbody>
          ${buckets.map(
            (bucket) =>
              html`<tr>
                <td data-label="Period">${bucketLabel(this.interval, bucket)}</td>
                <td data-label="Payments" class="amount">${bucket.payments}</td>
                <td data-label="Gross" class="amount">${showTotal(bucket.gross)}</td>
                <td data-label="Fees" class="amount">${showTotal(bucket.fees)}</td>
                <td data-label="Net" class="amount">${showTotal(bucket.net)}</td>
                <td data-label="Refunded" class="amount">${showTotal(bucket.refunded)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }

  private renderTopOffers() {
    const offers = this.topOffers;
    if (offers === undefined) return nothing;
    return html`<h2 id="top-offers-heading">
        Top offers, ${intervalNames[this.interval].toLowerCase()}
      </h2>
      ${
        offers.length === 0
          ? html`<p>No sales in this period yet.</p>`
          : html`<div class="table-scroll">
              <table
                class="responsive-table"
                aria-labelledby="top-offers-heading"
                data-testid="top-offers"
              >
                <thead>
                  <tr>
                    <th scope="col">Offer</th>
                    <th scope="col" class="amount">Payments</th>
                    <th scope="col" class="amount">Net</th>
                    <th scope="col" class="amount">Refunded</th>
                    <th scope="col" class="amount">Kept</th>
                  </tr>
                </thead>
                <tbody>
                  ${offers.map(
                    (offer) =>
                      html`<tr>
                        <td data-label="Offer">
                          ${offer.title ?? html`<code>${offer.offerId}</code>`}
                        </td>
                        <td data-label="Payments" class="amount">${offer.payments}</td>
                        <td data-label="Net" class="amount">${showTotal(offer.net)}</td>
                        <td data-label="Refunded" class="amount">${showTotal(offer.refunded)}</td>
                        <td data-label="Kept" class="amount">${showTotal(offer.kept)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`;
  }
}

customElements.define('mite-dashboard-overview', OverviewPage);
