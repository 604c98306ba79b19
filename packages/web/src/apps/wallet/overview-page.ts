import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { loadWallet, type Wallet } from './session.ts';
import './dormant-notice.ts';
import './session.ts';
import './privacy-mode.ts';
import '../shared/styles.css';

/** `GET /v1/wallet/purchases` items. */
interface Purchase {
  readonly paymentId: string;
  readonly merchantName: string;
  readonly title: string | null;
  readonly resource: string | null;
  /** True once what was bought was erased after its retention period (see "Your data"). */
  readonly detailsErased: boolean;
  readonly amount: string;
  readonly refunded: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly at: string;
}

/** `GET /v1/wallet/transactions` items: one per purchase (its fee included), refund or top-up. */
interface Movement {
  readonly transferId: string;
  readonly direction: 'in' | 'out';
  readonly amount: string;
  readonly kind: string;
  /** The merchant a purchase paid, or whose purchase a refund gave back. */
  readonly merchantName: string | null;
  readonly at: string;
}

interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** Rows per page of each list; "Show older" asks for the next page. */
const pageSize = 20;

const listPaths = {
  purchases: '/v1/wallet/purchases',
  movements: '/v1/wallet/transactions',
} as const;

type ListName = keyof typeof listPaths;

const kindNames: Readonly<Record<string, string>> = {
  topUp: 'Top-up',
  payment: 'Purchase',
  // Only purchases made before the platform grouped a purchase's legs show their fee apart.
  platformFee: 'Purchase (platform fee)',
  refund: 'Refund',
  // Privacy mode's float: what the tokens later paid is known to no one but this browser.
  tokenWithdrawal: 'Tokens withdrawn',
  // What a streaming or metered session paid, once settled (its deposit is not a movement).
  sessionPayment: 'Session',
};

/** "Purchase from The Daily Mite", "Refund from ...", "Top-up". */
function movementName(movement: Movement): string {
  const kind = kindNames[movement.kind] ?? movement.kind;
  return movement.merchantName === null ? kind : `${kind} from ${movement.merchantName}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function isZero(amount: string): boolean {
  return /^0(\.0*)?$/.test(amount);
}

function when(at: string): string {
  return dateFormat.format(new Date(at));
}

/** A link to a succeeded purchase's receipt, named for screen readers by what was bought. */
function receiptLink(purchase: Purchase) {
  if (purchase.state !== 'succeeded') return '–';
  const href = `${walletPaths.receipt}?payment=${encodeURIComponent(purchase.paymentId)}`;
  return html`<a href=${href}
    >Receipt<span class="visually-hidden">
      for ${purchase.title ?? purchase.resource ?? 'this purchase'}</span
    ></a
  >`;
}

/** The wallet's home: balance, purchases (with merchants and refunds) and every movement. */
export class OverviewPage extends MiteElement {
  static override properties = {
    wallet: { state: true },
    purchases: { state: true },
    movements: { state: true },
    failure: { state: true },
  };

  declare wallet: Wallet | undefined;
  declare purchases: Page<Purchase> | undefined;
  declare movements: Page<Movement> | undefined;
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
    this.wallet = wallet;
    await Promise.all([this.more('purchases'), this.more('movements')]);
  }

  /** The balance and both lists again, from their first pages (money moved meanwhile). */
  private async reload(): Promise<void> {
    this.purchases = undefined;
    this.movements = undefined;
    await this.load();
  }

  /** The list's first page, or its next one after what is shown. */
  private async more(list: ListName): Promise<void> {
    if (list === 'purchases') this.purchases = await this.nextPage(list, this.purchases);
    else this.movements = await this.nextPage(list, this.movements);
  }

  private async nextPage<T>(list: ListName, shown: Page<T> | undefined): Promise<Page<T>> {
    const cursor = shown?.nextCursor;
    const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const result = await callApi<Page<T>>('GET', `${listPaths[list]}?limit=${pageSize}${after}`);
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return shown ?? { items: [], nextCursor: null };
    }
    return {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  private moreButton(list: ListName, label: string) {
    if (this[list]?.nextCursor == null) return nothing;
    return html`<p>
      <button type="button" class="secondary" @click=${() => this.more(list)}>${label}</button>
    </p>`;
  }

  protected override render() {
    const wallet = this.wallet;
    return html`<h1>Your wallet</h1>
      ${
        this.failure === undefined
          ? nothing
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      ${
        wallet === undefined
          ? html`<p role="status">Loading your wallet…</p>`
          : html`<section class="balance-panel" aria-labelledby="balance-heading">
              <div>
                <h2 id="balance-heading">Balance</h2>
                <p class="balance" data-testid="balance">${showAmount(wallet.balance)}</p>
                <p class="hint" data-testid="owner">
                  ${wallet.email}${
                    isZero(wallet.reserved)
                      ? nothing
                      : html` · ${showAmount(wallet.reserved)} held for purchases being settled`
                  }
                </p>
              </div>
              <a class="button" href=${walletPaths.topUp}>Top up</a>
            </section>`
      }
      <mite-privacy-mode @tokens-withdrawn=${() => this.reload()}></mite-privacy-mode>
      ${this.renderPurchases()} ${this.renderMovements()}
      <h2 id="sessions-heading">Sessions</h2>
      <p>
        Logged in on a computer you no longer use, or lost a phone? End every session of this
        wallet, this one included: each device has to log in again.
      </p>
      <mite-log-out-everywhere></mite-log-out-everywhere>`;
  }

  private renderPurchases() {
    const purchases = this.purchases?.items;
    if (purchases === undefined) return nothing;
    return html`<h2 id="purchases-heading">Purchases</h2>
      ${
        purchases.length === 0
          ? html`<p>No purchases yet.</p>`
          : html`<div class="table-scroll">
              <table class="responsive-table" aria-labelledby="purchases-heading">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">From</th>
                    <th scope="col">What</th>
                    <th scope="col" class="amount">Paid</th>
                    <th scope="col" class="amount">Refunded</th>
                    <th scope="col">Receipt</th>
                  </tr>
                </thead>
                <tbody>
                  ${purchases.map(
                    (purchase) =>
                      html`<tr>
                        <td data-label="When">${when(purchase.at)}</td>
                        <td data-label="From">${purchase.merchantName}</td>
                        <td data-label="What">
                          ${
                            purchase.detailsErased
                              ? html`<span class="hint">No longer kept</span>`
                              : (purchase.title ?? html`<code>${purchase.resource ?? ''}</code>`)
                          }
                          ${purchase.state === 'succeeded' ? nothing : html` (${purchase.state})`}
                        </td>
                        <td data-label="Paid" class="amount">${showAmount(purchase.amount)}</td>
                        <td data-label="Refunded" class="amount">
                          ${isZero(purchase.refunded) ? '–' : showAmount(purchase.refunded)}
                        </td>
                        <td data-label="Receipt">${receiptLink(purchase)}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      ${this.moreButton('purchases', 'Show older purchases')}`;
  }

  private renderMovements() {
    const movements = this.movements?.items;
    if (movements === undefined) return nothing;
    return html`<h2 id="movements-heading">Money in and out</h2>
      ${
        movements.length === 0
          ? html`<p>Nothing yet: <a href=${walletPaths.topUp}>top up</a> to start.</p>`
          : html`<div class="table-scroll">
              <table
                class="responsive-table"
                aria-labelledby="movements-heading"
                data-testid="movements"
              >
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">What</th>
                    <th scope="col" class="amount">Amount</th>
                  </tr>
                </thead>
                <tbody>
                  ${movements.map(
                    (movement) =>
                      html`<tr>
                        <td data-label="When">${when(movement.at)}</td>
                        <td data-label="What">${movementName(movement)}</td>
                        <td data-label="Amount" class="amount ${movement.direction}">
                          ${movement.direction === 'in' ? '+' : '−'}${showAmount(movement.amount)}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }
      ${this.moreButton('movements', 'Show older movements')}`;
  }
}

customElements.define('mite-overview-page', OverviewPage);
