import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { DashboardScreenElement } from './dashboard-screen.ts';
import { holdsScope, leaveOnEndedSession, type MerchantSession } from './merchant-session.ts';
import { paymentName, type RefundDone, refundableMicros } from './refund-form-checks.ts';
import './dashboard-shell.ts';
import './redemptions-list.ts';
import './refund-form.ts';

type State = 'pending' | 'succeeded' | 'failed';

/** `GET /v1/merchants/{id}/payments` items. */
interface Payment {
  readonly paymentId: string;
  readonly state: State;
  readonly offerId: string | null;
  readonly offerTitle: string | null;
  readonly resource: string | null;
  /** False for a share of another merchant's sale (a revenue split), which only it refunds. */
  readonly sold: boolean;
  /** `tokens`: paid with tokens the merchant deposited; no payer is known, none to refund. */
  readonly paidWith: 'wallet' | 'tokens';
  readonly amount: string;
  readonly share: string;
  readonly refunded: string;
  readonly shareRefunded: string;
  readonly createdAt: string;
}

/** `GET /v1/merchants/{id}/refunds` items. */
interface Refund {
  readonly refundId: string;
  readonly paymentId: string;
  readonly state: State;
  readonly amount: string;
  readonly share: string;
  readonly requestedBy: 'merchant' | 'operator';
  readonly reason: string | null;
  readonly createdAt: string;
}

interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

type ListName = 'payments' | 'refunds';

/** Rows per page of each list; "Show older" asks for the next page. */
const pageSize = 20;

const stateNames: Readonly<Record<State, string>> = {
  pending: 'Pending',
  succeeded: 'Paid',
  failed: 'Failed',
};

const refundStateNames: Readonly<Record<State, string>> = {
  pending: 'Pending',
  succeeded: 'Refunded',
  failed: 'Failed',
};

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function isZero(amount: string): boolean {
  return /^0(\.0*)?$/.test(amount);
}

/**
 * The merchant's payments and refunds, newest first, a page at a time; a paid payment with
 * something left to refund has a Refund button (for those who may refund), which opens the
 * refund form above the list.
 */
export class PaymentsPage extends DashboardScreenElement {
  static override properties = {
    payments: { state: true },
    refunds: { state: true },
    failure: { state: true },
    refunding: { state: true },
    done: { state: true },
  };

  declare payments: Page<Payment> | undefined;
  declare refunds: Page<Refund> | undefined;
  declare failure: string | undefined;
  declare refunding: Payment | undefined;
  declare done: string | undefined;

  protected override async load(): Promise<void> {
    const [payments, refunds] = await Promise.all([
      this.nextPage<Payment>('payments', undefined),
      this.nextPage<Refund>('refunds', undefined),
    ]);
    this.payments = payments;
    this.refunds = refunds;
  }

  private async more(list: ListName): Promise<void> {
    if (list === 'payments') this.payments = await this.nextPage(list, this.payments);
    else this.refunds = await this.nextPage(list, this.refunds);
  }

  private async nextPage<T>(list: ListName, shown: Page<T> | undefined): Promise<Page<T>> {
    const merchantId = encodeURIComponent(this.session?.merchantId ?? '');
    const cursor = shown?.nextCursor;
    const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const path = `/v1/merchants/${merchantId}/${list}?limit=${pageSize}${after}`;
    const result = await callApi<Page<T>>('GET', path);
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = describeProblem(result.problem);
      }
      return shown ?? { items: [], nextCursor: null };
    }
    return {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  private async startRefund(payment: Payment): Promise<void> {
    this.done = undefined;
    this.refunding = payment;
    await this.updateComplete;
    this.querySelector<HTMLElement>('#refund-heading')?.focus();
  }

  private async refunded(event: CustomEvent<RefundDone>): Promise<void> {
    const payment = this.refunding;
    this.refunding = undefined;
    this.done =
      `Refunded ${showAmount(event.detail.amount)} of “${payment === undefined ? '' : paymentName(payment)}”` +
      ` (${showAmount(event.detail.refundedTotal)} refunded in all).`;
    // The lists again from their first pages: the refund is the newest row.
    if (this.session !== undefined) await this.load();
  }

  protected override render() {
    return html`<h1>Payments</h1>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.done === undefined ? nothing : html`<p class="notice success" role="status">${this.done}</p>`}
      ${
        this.refunding === undefined
          ? nothing
          : html`<section class="panel" aria-labelledby="refund-heading">
              <mite-refund-form
                .payment=${this.refunding}
                @refunded=${this.refunded}
                @cancelled=${() => (this.refunding = undefined)}
              ></mite-refund-form>
            </section>`
      }
      ${this.renderPayments()} ${this.renderRefunds()} ${this.renderRedemptions()}`;
  }

  /** The codes the merchant reported redeemed, for those who may read them. */
  private renderRedemptions() {
    const session = this.session;
    if (session === undefined || !holdsScope(session, 'redemptions:read')) return nothing;
    return html`<mite-redemptions-list .merchantId=${session.merchantId}></mite-redemptions-list>`;
  }

  private moreButton(list: ListName, label: string) {
    if (this[list]?.nextCursor == null) return nothing;
    return html`<p>
      <button type="button" class="secondary" @click=${() => this.more(list)}>${label}</button>
    </p>`;
  }

  private refundButton(payment: Payment, session: MerchantSession | undefined) {
    if (session === undefined || !holdsScope(session, 'refunds:write')) return nothing;
    if (
      !payment.sold ||
      payment.paidWith === 'tokens' ||
      payment.state !== 'succeeded' ||
      refundableMicros(payment) === 0n
    ) {
      return nothing;
    }
    return html`<button type="button" class="secondary" @click=${() => this.startRefund(payment)}>
      Refund<span class="visually-hidden"> “${paymentName(payment)}”</span>
    </button>`;
  }

  private renderPayments() {
    const payments = this.payments?.items;
    if (payments === undefined) return html`<p role="status">Loading your payments…</p>`;
    return html`<h2 id="payments-heading">Sales</h2>
      ${
        payments.length === 0
          ? html`<p>No payments yet.</p>`
          : html`<div class="table-scroll">
              <table
                class="responsive-table"
                aria-labelledby="payments-heading"
                data-testid="payments"
              >
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">What</th>
                    <th scope="col">State</th>
                    <th scope="col" class="amount">Paid</th>
                    <th scope="col" class="amount">Your share</th>
                    <th scope="col" class="amount">Refunded</th>
                    <th scope="col"><span class="visually-hidden">Actions</span></th>
                  </tr>
                </thead>
                <tbody>
                  ${payments.map(
                    (payment) =>
                      html`<tr>
                        <td data-label="When">${dateFormat.format(new Date(payment.createdAt))}</td>
                        <td data-label="What">
                          ${payment.offerTitle ?? html`<code>${payment.resource ?? payment.paymentId}</code>`}
                          ${payment.sold ? nothing : html`<span class="hint">(your share of a split)</span>`}
                          ${payment.paidWith === 'tokens' ? html`<span class="hint">(paid with tokens)</span>` : nothing}
                        </td>
                        <td data-label="State">${stateNames[payment.state]}</td>
                        <td data-label="Paid" class="amount">${showAmount(payment.amount)}</td>
                        <td data-label="Your share" class="amount">${showAmount(payment.share)}</td>
                        <td data-label="Refunded" class="amount">
                          ${isZero(payment.refunded) ? '–' : showAmount(payment.refunded)}
                        </td>
                        <td data-label="Actions">${this.refundButton(payment, this.session)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      ${this.moreButton('payments', 'Show older payments')}`;
  }

  private renderRefunds() {
    const refunds = this.refunds?.items;
    if (refunds === undefined) return nothing;
    return html`<h2 id="refunds-heading">Refunds</h2>
      ${
        refunds.length === 0
          ? html`<p>No refunds.</p>`
          : html`<div class="table-scroll">
              <table
                class="responsive-table"
                aria-labelledby="refunds-heading"
                data-testid="refunds"
              >
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Payment</th>
                    <th scope="col">State</th>
                    <th scope="col" class="amount">Refunded</th>
                    <th scope="col" class="amount">From you</th>
                    <th scope="col">Reason</th>
                  </tr>
                </thead>
                <tbody>
                  ${refunds.map(
                    (refund) =>
                      html`<tr>
                        <td data-label="When">${dateFormat.format(new Date(refund.createdAt))}</td>
                        <td data-label="Payment"><code>${refund.paymentId}</code></td>
                        <td data-label="State">${refundStateNames[refund.state]}</td>
                        <td data-label="Refunded" class="amount">${showAmount(refund.amount)}</td>
                        <td data-label="From you" class="amount">${showAmount(refund.share)}</td>
                        <td data-label="Reason">
                          ${refund.reason ?? '–'}${refund.requestedBy === 'operator' ? ' (by the platform)' : ''}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      ${this.moreButton('refunds', 'Show older refunds')}`;
  }
}

customElements.define('mite-dashboard-payments', PaymentsPage);
