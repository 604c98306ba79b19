import { html } from 'lit';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { failureNotice, moreButton, nextPage, type Page, when } from './console-session.ts';
import '../shared/styles.css';
import './console.css';
import './merchant-onboarding.ts';
import './spending-class.ts';

/** `GET /v1/operator/merchants` items. */
interface Merchant {
  readonly merchantId: string;
  readonly name: string;
  readonly createdAt: string;
  readonly state: 'active' | 'payoutsHeld';
  readonly feeBasisPoints: number;
  readonly payoutThreshold: string;
  readonly balance: string;
  readonly bankAccount: 'none' | 'held' | 'ready';
  readonly payoutsHeldUntil: string | null;
  readonly spendingCategory: 'content' | 'goods';
  readonly resellable: boolean;
}

function stateOf(merchant: Merchant) {
  if (merchant.state === 'payoutsHeld') {
    return html`<span class="status-wait">Payouts held</span>
      <span class="hint">until ${when(merchant.payoutsHeldUntil)}: bank details changed</span>`;
  }
  if (merchant.bankAccount === 'none') {
    return html`Active <span class="hint">(no bank account: not paid out)</span>`;
  }
  return html`<span class="status-ok">Active</span>`;
}

/** Fee in basis points as a percentage: 1000 is "10%", 250 is "2.5%". */
function percent(basisPoints: number): string {
  const whole = Math.trunc(basisPoints / 100);
  const rest = (basisPoints % 100).toString().padStart(2, '0').replace(/0+$/, '');
  return rest === '' ? `${whole}%` : `${whole}.${rest}%`;
}

/** Every merchant, by id: its state, payout hold, balance and terms. */
export class MerchantsPage extends MiteElement {
  static override properties = { merchants: { state: true }, failure: { state: true } };
  declare merchants: Page<Merchant> | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
  }

  /** From the first page again: a merchant was added. */
  private async reload(): Promise<void> {
    this.merchants = undefined;
    await this.more();
  }

  private async more(): Promise<void> {
    const { page, failure } = await nextPage<Merchant>('/v1/operator/merchants', this.merchants);
    this.merchants = page;
    this.failure = failure;
  }

  protected override render() {
    const merchants = this.merchants?.items;
    return html`<h1>Merchants</h1>
      <mite-merchant-onboarding
        @merchant-added=${() => void this.reload()}
      ></mite-merchant-onboarding>
      ${failureNotice(this.failure)}
      ${
        merchants === undefined
          ? html`<p role="status">Loading…</p>`
          : merchants.length === 0
            ? html`<p>No merchants yet.</p>`
            : html`<div class="table-scroll">
                <table class="responsive-table" aria-label="Merchants" data-testid="merchants">
                  <thead>
                    <tr>
                      <th scope="col">Merchant</th>
                      <th scope="col">State</th>
                      <th scope="col" class="amount">Balance</th>
                      <th scope="col" class="amount">Payout threshold</th>
                      <th scope="col" class="amount">Fee</th>
                      <th scope="col">Since</th>
                      <th scope="col">Spending class</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${merchants.map(
                      (merchant) =>
                        html`<tr>
                          <td data-label="Merchant">
                            <span class="cell"
                              >${merchant.name}<br /><code class="hint"
                                >${merchant.merchantId}</code
                              ></span
                            >
                          </td>
                          <td data-label="State"><span class="cell">${stateOf(merchant)}</span></td>
                          <td data-label="Balance" class="amount">
                            ${showAmount(merchant.balance)}
                          </td>
                          <td data-label="Payout threshold" class="amount">
                            ${showAmount(merchant.payoutThreshold)}
                          </td>
                          <td data-label="Fee" class="amount">
                            ${percent(merchant.feeBasisPoints)}
                          </td>
                          <td data-label="Since">${when(merchant.createdAt)}</td>
                          <td data-label="Spending class">
                            <mite-merchant-spending-class
                              merchant-id=${merchant.merchantId}
                              category=${merchant.spendingCategory}
                              ?resellable=${merchant.resellable}
                            ></mite-merchant-spending-class>
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
      }
      ${moreButton(this.merchants, 'Show more merchants', () => void this.more())}`;
  }
}

customElements.define('mite-merchants-page', MerchantsPage);
