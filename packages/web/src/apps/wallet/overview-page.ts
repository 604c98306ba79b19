import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { loadWallet, type Wallet } from './session.ts';
import './session.ts';
import '../shared/styles.css';

/** `GET /v1/wallet/purchases` items. */
interface Purchase {
  readonly paymentId: string;
  readonly merchantName: string;
  readonly title: string | null;
  readonly resource: string | null;
  readonly amount: string;
  readonly refunded: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly at: string;
}

/** `GET /v1/wallet/transactions` items. */
interface Movement {
  readonly transferId: string;
  readonly direction: 'in' | 'out';
  readonly amount: string;
  readonly kind: string;
  readonly at: string;
}

interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

const kindNames: Readonly<Record<string, string>> = {
  topUp: 'Top-up',
  payment: 'Purchase',
  platformFee: 'Purchase (platform fee)',
  refund: 'Refund',
};

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function isZero(amount: string): boolean {
  return /^0(\.0*)?$/.test(amount);
}

function when(at: string): string {
  return dateFormat.format(new Date(at));
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
  declare purchases: Purchase[] | undefined;
  declare movements: Movement[] | undefined;
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
    const [purchases, movements] = await Promise.all([
      callApi<Page<Purchase>>('GET', '/v1/wallet/purchases?limit=50'),
      callApi<Page<Movement>>('GET', '/v1/wallet/transactions?limit=50'),
    ]);
    if (!purchases.ok || !movements.ok) {
      const problem = !purchases.ok
        ? purchases.problem
        : !movements.ok
          ? movements.problem
          : undefined;
      this.failure = problem === undefined ? undefined : describeProblem(problem);
    }
    this.purchases = purchases.ok ? purchases.value.items : [];
    this.movements = movements.ok ? movements.value.items : [];
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
      ${this.renderPurchases()} ${this.renderMovements()}`;
  }

  private renderPurchases() {
    if (this.purchases === undefined) return nothing;
    return html`<h2 id="purchases-heading">Purchases</h2>
      ${
        this.purchases.length === 0
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
                  </tr>
                </thead>
                <tbody>
                  ${this.purchases.map(
                    (purchase) =>
                      html`<tr>
                        <td data-label="When">${when(purchase.at)}</td>
                        <td data-label="From">${purchase.merchantName}</td>
                        <td data-label="What">
                          ${purchase.title ?? html`<code>${purchase.resource ?? ''}</code>`}
                          ${purchase.state === 'succeeded' ? nothing : html` (${purchase.state})`}
                        </td>
                        <td data-label="Paid" class="amount">${showAmount(purchase.amount)}</td>
                        <td data-label="Refunded" class="amount">
                          ${isZero(purchase.refunded) ? '–' : showAmount(purchase.refunded)}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`;
  }

  private renderMovements() {
    if (this.movements === undefined) return nothing;
    return html`<h2 id="movements-heading">Money in and out</h2>
      ${
        this.movements.length === 0
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
                  ${this.movements.map(
                    (movement) =>
                      html`<tr>
                        <td data-label="When">${when(movement.at)}</td>
                        <td data-label="What">${kindNames[movement.kind] ?? movement.kind}</td>
                        <td data-label="Amount" class="amount ${movement.direction}">
                          ${movement.direction === 'in' ? '+' : '−'}${showAmount(movement.amount)}
                        </td>
                      </tr>`,
                  )}
                </tbody>
              </table>
            </div>`
      }`;
  }
}

customElements.define('mite-overview-page', OverviewPage);
