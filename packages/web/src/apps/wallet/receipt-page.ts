import type { ReceiptClaims } from '@mite/protocol';
import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { type ReceiptVerification, verifyReceipt } from '../shared/receipt-verification.ts';
import './session.ts';
import '../shared/styles.css';

/** `GET /v1/wallet/purchases/{paymentId}`. */
interface Purchase {
  readonly merchantName: string;
  readonly title: string | null;
  readonly state: 'pending' | 'succeeded' | 'failed';
  /** What was bought is no longer kept (its retention period passed), nor its receipt. */
  readonly detailsErased: boolean;
}

/** `GET /v1/payments/{paymentId}`: the receipt once the payment succeeded. */
interface PaymentView {
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly receipt?: string;
}

type Loaded =
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'noReceipt'; readonly purchase: Purchase }
  | {
      readonly kind: 'receipt';
      readonly purchase: Purchase;
      readonly receipt: string;
      readonly verification: ReceiptVerification;
    };

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });

function atSeconds(seconds: number): string {
  return dateFormat.format(new Date(seconds * 1000));
}

/** The payment id the page is about, from `?payment=`. */
function paymentIdOfPage(): string | undefined {
  const id = new URLSearchParams(window.location.search).get('payment');
  return id === null || id === '' || id.length > 100 ? undefined : id;
}

/**
 * One purchase's receipt: the claims the platform signed, checked in this page against the keys
 * the platform publishes, so that what is shown is what a merchant would accept.
 */
export class ReceiptPage extends MiteElement {
  static override properties = { loaded: { state: true } };
  declare loaded: Loaded | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load().then((loaded) => {
      this.loaded = loaded;
    });
  }

  private async load(): Promise<Loaded> {
    const paymentId = paymentIdOfPage();
    if (paymentId === undefined) {
      return { kind: 'failed', message: 'No purchase is named: open a receipt from your history.' };
    }
    const path = encodeURIComponent(paymentId);
    const [purchase, payment, keys] = await Promise.all([
      callApi<Purchase>('GET', `/v1/wallet/purchases/${path}`),
      callApi<PaymentView>('GET', `/v1/payments/${path}`),
      callApi<unknown>('GET', '/v1/keys'),
    ]);
    for (const answer of [purchase, payment, keys]) {
      if (answer.ok) continue;
      if (answer.problem.status === 401) window.location.assign(walletPaths.logIn);
      return { kind: 'failed', message: describeProblem(answer.problem) };
    }
    if (!purchase.ok || !payment.ok || !keys.ok) throw new Error('bug: a failure passed');
    const receipt = payment.value.receipt;
    if (receipt === undefined) return { kind: 'noReceipt', purchase: purchase.value };
    let verification = await verifyReceipt(receipt, keys.value);
    if (verification.ok && verification.claims.paymentId !== paymentId) {
      verification = {
        ok: false,
        code: 'malformed',
        detail: 'it is the receipt of another payment',
      };
    }
    return { kind: 'receipt', purchase: purchase.value, receipt, verification };
  }

  protected override render() {
    const loaded = this.loaded;
    return html`<h1>Receipt</h1>
      ${
        loaded === undefined
          ? html`<p role="status">Loading the receipt…</p>`
          : loaded.kind === 'failed'
            ? html`<p class="notice error" role="alert">${loaded.message}</p>`
            : loaded.kind === 'noReceipt'
              ? this.renderNoReceipt(loaded.purchase)
              : this.renderReceipt(loaded.purchase, loaded.receipt, loaded.verification)
      }
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderNoReceipt(purchase: Purchase) {
    if (purchase.detailsErased) {
      return html`<p class="notice" data-testid="no-receipt">
        This purchase from ${purchase.merchantName} no longer has a receipt: a receipt names what
        was bought, which is erased once its retention period has passed (see
        <a href=${walletPaths.data}>Your data</a>).
      </p>`;
    }
    return html`<p class="notice" data-testid="no-receipt">
      This purchase from ${purchase.merchantName} has no receipt: it is ${purchase.state}. A receipt
      is issued once a payment succeeds.
    </p>`;
  }

  private renderReceipt(purchase: Purchase, receipt: string, verification: ReceiptVerification) {
    if (!verification.ok) {
      return html`<p class="notice error" role="alert" data-testid="verification">
        Not verified: ${verification.detail}. Do not rely on this receipt.
      </p>`;
    }
    return html`<p class="notice success" role="status" data-testid="verification">
        Verified: signed by the platform with its published key
        <code>${verification.kid}</code>.
      </p>
      ${this.renderClaims(purchase, verification.claims)}
      <details>
        <summary>The signed receipt, as merchants receive it</summary>
        <p><code data-testid="receipt">${receipt}</code></p>
      </details>`;
  }

  private renderClaims(purchase: Purchase, claims: ReceiptClaims) {
    const once = claims.accessUntil === claims.issuedAt;
    const amount =
      claims.currency === 'USD' ? showAmount(claims.amount) : `${claims.amount} ${claims.currency}`;
    return html`<dl class="claims" data-testid="claims">
      <dt>Payment</dt>
      <dd><code>${claims.paymentId}</code></dd>
      <dt>Merchant</dt>
      <dd>${purchase.merchantName} (<code>${claims.merchantId}</code>)</dd>
      <dt>What</dt>
      <dd>
        ${purchase.title === null ? nothing : html`${purchase.title}: `}<code
          >${claims.resource}</code
        >
      </dd>
      <dt>Amount</dt>
      <dd>${amount}</dd>
      <dt>Paid</dt>
      <dd>${atSeconds(claims.issuedAt)}</dd>
      <dt>Access until</dt>
      <dd>${once ? 'Used once, when bought' : atSeconds(claims.accessUntil)}</dd>
      <dt>You, as the merchant knows you</dt>
      <dd><code>${claims.payer}</code></dd>
    </dl>`;
  }
}

customElements.define('mite-receipt-page', ReceiptPage);
