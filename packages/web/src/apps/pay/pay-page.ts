import { toWire } from '@mite/client';
import { challengeEcho, formatCredentialHeader, miteTokenMethod } from '@mite/protocol';
import { html, nothing } from 'lit';
import {
  askingOriginParam,
  messageText,
  messageType,
  type PayWindowMessage,
  payMessageTypes,
} from '../paywall/pay-messages.ts';
import {
  callApi,
  confirmPolicyDecision,
  describeProblem,
  type PolicyChallenge,
  policyChallengeOf,
} from '../shared/api.ts';
import { activeConsent, type ConsentText, grantConsent, readConsents } from '../shared/consents.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { microsOf, showAmount } from '../shared/money.ts';
import {
  browserPurse,
  privacyModeOn,
  tokenFloat,
  withTokensLocked,
} from '../shared/token-wallet.ts';
import { checkBudget } from './pay-budget.ts';
import { logInView, logInWith, payButtonDelayMs } from './pay-login.ts';
import { askingOriginOf, checkChallenge, type PayRequest, showMicros } from './pay-checks.ts';
import '../shared/styles.css';
import './pay.css';

type Stage =
  'alone' | 'waiting' | 'login' | 'review' | 'challenged' | 'paying' | 'paid' | 'refused';

/**
 * The payment window (`/pay/`), opened by a site's `<mite-paywall>`: it takes one challenge from
 * its opener at the origin named in `?origin=`, checks it (pay-checks.ts) and, once the person
 * is logged in, the user's budget against it (pay-budget.ts), shows what is paid,
 * to whom and at whose request, and pays only on the person's click here. The credential goes
 * back to that origin only (pay-messages.ts describes the exchange).
 */
export class PayPage extends MiteElement {
  static override properties = {
    stage: { state: true },
    request: { state: true },
    merchant: { state: true },
    balance: { state: true },
    failure: { state: true },
    ready: { state: true },
    askAbove: { state: true },
    autoPayText: { state: true },
    tokenRequest: { state: true },
    tokenNote: { state: true },
    challenge: { state: true },
    fairPrice: { state: true },
  };

  declare stage: Stage;
  declare request: PayRequest | undefined;
  declare merchant: string;
  declare balance: string;
  declare failure: string | undefined;
  declare ready: boolean;
  /** Above this the person confirms the price once more (the budget's approveAbove); else undefined. */
  declare askAbove: bigint | undefined;
  /**
   * The autoPay consent's text, offered beside the Pay button when this payment could be made
   * automatically next time (within the budget, not asked about) and the site has no consent yet.
   */
  declare autoPayText: ConsentText | undefined;
  /**
   * In privacy mode, the site's "mite-token" challenge when the tokens this browser holds are
   * worth its price: Pay then pays it with tokens, not from the wallet.
   */
  declare tokenRequest: PayRequest | undefined;
  /** In privacy mode, why this payment is from the wallet after all; else undefined. */
  declare tokenNote: string | undefined;
  /** The platform's policy asks the person to confirm this payment: why, and its decision. */
  declare challenge: PolicyChallenge | undefined;
  /** Under the merchant's fair-price cap: what this item costs and what the window says of it. */
  declare fairPrice: FairPriceNote | undefined;
  readonly #askingOrigin = askingOriginOf(
    new URLSearchParams(location.search).get(askingOriginParam),
  );
  readonly #idempotencyKey = crypto.randomUUID();
  #header: string | undefined;

  constructor() {
    super();
    this.stage = 'waiting';
    this.request = undefined;
    this.merchant = '';
    this.balance = '';
    this.failure = undefined;
    this.ready = false;
    this.askAbove = undefined;
    this.autoPayText = undefined;
    this.tokenRequest = undefined;
    this.tokenNote = undefined;
    this.challenge = undefined;
    this.fairPrice = undefined;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.#askingOrigin === undefined || window.opener === null) {
      this.stage = 'alone';
      return;
    }
    window.addEventListener('message', this.#onMessage);
    window.addEventListener('pagehide', this.#onLeave);
    this.#send({ type: payMessageTypes.ready });
  }

  #send(message: PayWindowMessage): void {
    // Addressed to the asking origin only: if the opener is another page, the browser drops it.
    if (this.#askingOrigin === undefined) return;
    (window.opener as Window | null)?.postMessage(message, this.#askingOrigin);
  }

  readonly #onMessage = (event: MessageEvent): void => {
    // One challenge, from the opener, at the origin it named; anything else is ignored.
    if (event.source !== window.opener || event.origin !== this.#askingOrigin) return;
    if (this.#header !== undefined || messageType(event.data) !== payMessageTypes.challenge) return;
    const header = messageText(event.data, 'header');
    if (header === undefined) return;
    this.#header = header;
    void this.#consider(header);
  };

  readonly #onLeave = (): void => {
    // Closed before paying: the site is told. Closed while paying, the outcome is not known
    // here, so nothing is said rather than "not paid".
    if (this.stage !== 'paid' && this.stage !== 'refused' && this.stage !== 'paying') {
      this.#send({ type: payMessageTypes.cancelled });
    }
  };

  #refuse(reason: string): void {
    this.failure = reason;
    this.stage = 'refused';
    this.#send({ type: payMessageTypes.refused, reason });
  }

  async #consider(header: string): Promise<void> {
    const checked = checkChallenge(header, {
      askingOrigin: this.#askingOrigin ?? '',
      platformOrigin: location.origin,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    if (!checked.ok) return this.#refuse(checked.reason);
    this.request = checked.value;
    this.tokenRequest = await this.#tokenRequestOf(header);
    await this.#review();
  }

  /** The site's token challenge, in privacy mode and when the tokens held can pay it. */
  async #tokenRequestOf(header: string): Promise<PayRequest | undefined> {
    if (!privacyModeOn()) return undefined;
    const checked = checkChallenge(header, {
      askingOrigin: this.#askingOrigin ?? '',
      platformOrigin: location.origin,
      nowSeconds: Math.floor(Date.now() / 1000),
      method: miteTokenMethod,
    });
    if (!checked.ok) {
      this.tokenNote =
        'Privacy mode is on, but this site takes no tokens: you pay from your wallet.';
      return undefined;
    }
    if ((await tokenFloat()) >= checked.value.amountMicros) return checked.value;
    this.tokenNote =
      'Privacy mode is on, but the tokens this browser holds are worth less than the price: ' +
      'you pay from your wallet. Opening your wallet withdraws more.';
    return undefined;
  }

  /**
   * Reads the wallet, checks the user's budget, and reads the merchant's name; asks the person to
   * log in first if need be.
   */
  async #review(): Promise<void> {
    const request = this.request;
    if (request === undefined) return;
    const wallet = await callApi<{ balance: string }>('GET', '/v1/wallet');
    if (!wallet.ok) {
      if (wallet.problem.status === 401) this.stage = 'login';
      else this.#refuse(describeProblem(wallet.problem));
      return;
    }
    const budget = await checkBudget(request.amountMicros, {
      askingOrigin: this.#askingOrigin ?? '',
      nowMs: Date.now(),
    });
    if (!budget.ok) return this.#refuse(budget.reason);
    this.askAbove = budget.value.askFirst ? budget.value.budget.approveAboveMicros : undefined;
    // With tokens nothing goes through the platform's payments, automatic ones included.
    if (this.tokenRequest === undefined && !budget.value.askFirst && (await this.#autoPayOffered()))
      return;
    const merchantId = encodeURIComponent(request.challenge.request.recipient);
    const profile = await callApi<{ name: string }>('GET', `/v1/merchants/${merchantId}/profile`);
    if (!profile.ok) return this.#refuse(describeProblem(profile.problem));
    this.merchant = profile.value.name;
    this.fairPrice = await fairPriceNoteOf(merchantId, profile.value.name, request.amountMicros);
    this.balance = wallet.value.balance;
    this.ready = false;
    this.stage = 'review';
    setTimeout(() => {
      this.ready = true;
    }, payButtonDelayMs);
  }

  /**
   * With the site's autoPay consent active, pays at once without asking (the server checks the
   * consent again) and answers true; without it, offers the consent with the Pay button. A
   * consent that cannot be read is no consent: the person is asked.
   */
  async #autoPayOffered(): Promise<boolean> {
    const site = this.#askingOrigin ?? '';
    const consents = await readConsents();
    if (!consents.ok) return false;
    if (activeConsent(consents.value.consents, 'autoPay', site) !== undefined) {
      if (await this.#payNow({ site })) return true;
    } else {
      this.autoPayText = consents.value.texts.find((text) => text.purpose === 'autoPay');
    }
    return false;
  }

  /**
   * Pays, automatically when `automatic` says for which site. An automatic payment the platform
   * refuses for want of consent (revoked meanwhile), or that its policy wants confirmed, answers
   * false, so that the person is asked. A payment the person is paying that the policy wants
   * confirmed shows why, with a button to confirm it; `confirmation` names that decision when
   * the payment is sent again, confirmed.
   */
  async #payNow(automatic?: { site: string }, confirmation?: string): Promise<boolean> {
    const request = this.request;
    if (request === undefined) return true;
    if (this.tokenRequest !== undefined && automatic === undefined) {
      await this.#payWithTokens(this.tokenRequest);
      return true;
    }
    this.stage = 'paying';
    this.failure = undefined;
    const paid = await callApi<{ receipt: string }>('POST', '/v1/payments', {
      body: {
        challenge: challengeEcho(request.challenge),
        ...(automatic === undefined ? {} : { automatic }),
      },
      idempotencyKey: this.#idempotencyKey,
      ...(confirmation === undefined ? {} : { policyConfirmation: confirmation }),
    });
    if (!paid.ok) {
      const challenge = policyChallengeOf(paid.problem);
      if (
        automatic !== undefined &&
        (paid.problem.slug === 'consent-required' || challenge !== undefined)
      ) {
        return false;
      }
      // Confirmed already and challenged again: refused, not asked twice.
      if (challenge !== undefined && confirmation === undefined) {
        this.challenge = challenge;
        this.stage = 'challenged';
        return true;
      }
      this.#refuse(describeProblem(paid.problem));
      return true;
    }
    const authorization = formatCredentialHeader({
      challenge: request.challenge,
      payload: { receipt: paid.value.receipt },
    });
    this.stage = 'paid';
    this.#send({ type: payMessageTypes.credential, authorization });
    window.close();
    return true;
  }

  /**
   * Pays with tokens from this browser (swapping some for change, anonymously, if need be). The
   * tokens are handed to the site's page, which presents them; this window does not hear the
   * merchant's answer, so they are kept as handed over, and the wallet later swaps back any the
   * merchant never took (`keepFloat`).
   */
  async #payWithTokens(request: PayRequest): Promise<void> {
    this.stage = 'paying';
    this.failure = undefined;
    const purse = browserPurse();
    let authorization: string;
    try {
      authorization = await withTokensLocked(async () => {
        const spend = await purse.take(request.amountMicros);
        await purse.handOver(spend);
        return formatCredentialHeader({
          challenge: request.challenge,
          payload: { tokens: spend.tokens.map(toWire) },
        });
      });
    } catch (error) {
      return this.#refuse(
        `the tokens could not pay: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    this.stage = 'paid';
    this.#send({ type: payMessageTypes.credential, authorization });
    window.close();
  }

  private async logIn(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    this.failure = await logInWith(event.currentTarget as HTMLFormElement);
    if (this.failure === undefined) await this.#review();
  }

  private async pay(event: MouseEvent): Promise<void> {
    // Only a person's click pays: a script's synthetic click is not trusted.
    const request = this.request;
    if (!event.isTrusted || !this.ready || request === undefined || this.stage !== 'review') return;
    const confirm = this.querySelector<HTMLInputElement>('#confirm-amount');
    if (this.askAbove !== undefined && confirm?.checked !== true) {
      this.failure = `Tick the box to confirm ${showMicros(request.amountMicros)}.`;
      confirm?.focus();
      return;
    }
    const autoPay = this.querySelector<HTMLInputElement>('#auto-pay');
    const text = this.autoPayText;
    if (autoPay?.checked === true && text !== undefined) {
      const granted = await grantConsent('autoPay', this.#askingOrigin ?? '', text);
      if (!granted.ok) {
        this.failure = `Not paid: ${describeProblem(granted.problem)}`;
        return;
      }
    }
    await this.#payNow();
  }

  /** The person confirms the payment the policy challenged: confirmed, then paid once more. */
  private async confirmAndPay(event: MouseEvent): Promise<void> {
    const challenge = this.challenge;
    if (!event.isTrusted || this.stage !== 'challenged' || challenge === undefined) return;
    this.stage = 'paying';
    const confirmed = await confirmPolicyDecision(challenge.decisionId);
    if (!confirmed.ok) return this.#refuse(describeProblem(confirmed.problem));
    await this.#payNow(undefined, challenge.decisionId);
  }

  private cancel(): void {
    this.#send({ type: payMessageTypes.cancelled });
    this.stage = 'refused';
    this.failure = 'You did not pay.';
    window.close();
  }

  protected override render() {
    switch (this.stage) {
      case 'alone':
        return html`<h1>Mite payment</h1>
          <p>This window opens from a site’s Pay button, to pay it from your wallet.</p>
          <p><a href="/wallet/">Open your wallet</a></p>`;
      case 'waiting':
        return html`<h1>Mite payment</h1>
          <p role="status">Waiting for the site’s payment request…</p>`;
      case 'login':
        return this.renderLogIn();
      case 'refused':
        return html`<h1>Not paid</h1>
          <p class="notice error" role="alert">${this.failure}</p>
          <p>Nothing was taken from your wallet. You can close this window.</p>`;
      case 'paying':
        // Before the review was shown (no payee read yet): an automatic payment under way.
        if (this.merchant !== '') return this.renderReview();
        return html`<h1>Paying…</h1>
          <p role="status">
            Paying ${this.#askingOrigin} automatically, as you allowed. You can stop this in your
            wallet’s Consents.
          </p>`;
      case 'challenged':
        return this.renderChallenge();
      case 'paid':
        return html`<h1>Paid</h1>
          <p class="notice success" role="status">Paid. This window closes now.</p>`;
      default:
        return this.renderReview();
    }
  }

  private renderLogIn() {
    return logInView(this.#askingOrigin, this.failure, (event) => void this.logIn(event));
  }

  /** Why the platform asks the person to confirm, the payment, and the button that confirms it. */
  private renderChallenge() {
    const request = this.request;
    const challenge = this.challenge;
    if (request === undefined || challenge === undefined) return nothing;
    return html`<h1>Confirm this payment</h1>
      <p class="notice" role="alert" data-testid="policy-challenge">${challenge.message}</p>
      <p>Nothing has been paid yet. Confirm to pay ${showMicros(request.amountMicros)}.</p>
      ${this.renderSummary(request)}
      <p>
        <button type="button" @click=${this.confirmAndPay}>Confirm and pay</button>
        <button type="button" class="secondary" @click=${this.cancel}>Cancel</button>
      </p>`;
  }

  private renderReview() {
    const request = this.request;
    if (request === undefined) return nothing;
    // Under a fair-price cap the wallet pays what is left of it (tokens pay the full price).
    const charged = this.tokenRequest === undefined ? this.fairPrice?.chargedMicros : undefined;
    const price = showMicros(charged ?? request.amountMicros);
    return html`<h1>Pay ${price}?</h1>
      ${this.renderSummary(request)}
      ${
        this.askAbove !== undefined
          ? html`<p class="field">
              <input type="checkbox" id="confirm-amount" />
              <label for="confirm-amount"
                >Yes, pay ${price}: it is more than ${showMicros(this.askAbove)}, the amount above
                which your budget asks first.</label
              >
            </p>`
          : nothing
      }
      ${this.tokenNote === undefined ? nothing : html`<p class="hint" data-testid="token-note">${this.tokenNote}</p>`}
      ${this.renderAutoPayOffer()}
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      <p>
        <button
          type="button"
          @click=${this.pay}
          ?disabled=${!this.ready || this.stage === 'paying'}
        >
          Pay ${price}
        </button>
        <button type="button" class="secondary" @click=${this.cancel}>Cancel</button>
      </p>`;
  }

  /** What is paid, to whom, for what, at whose request, and from what. */
  private renderSummary(request: PayRequest) {
    const price = showMicros(request.amountMicros);
    const what = request.challenge.request.description ?? request.challenge.description;
    return html`<dl class="pay-summary" data-testid="pay-summary">
      <dt>To</dt>
      <dd>${this.merchant}</dd>
      <dt>For</dt>
      <dd>
        ${what === undefined ? nothing : html`${what}<br />`}<code>${request.resourceUrl}</code>
      </dd>
      <dt>Asked by</dt>
      <dd>${this.#askingOrigin}</dd>
      <dt>Price</dt>
      <dd>${price}</dd>
      ${
        this.fairPrice === undefined || this.tokenRequest !== undefined
          ? nothing
          : html`<dt>Fair price</dt>
              <dd data-testid="fair-price">${this.fairPrice.text}</dd>`
      }
      ${
        this.tokenRequest === undefined
          ? html`<dt>Your balance</dt>
              <dd>${showAmount(this.balance)}</dd>`
          : html`<dt>Paid with</dt>
              <dd data-testid="paid-with-tokens">
                Tokens from this browser (privacy mode): the platform does not learn what you buy,
                and this purchase is not in your wallet’s history.
              </dd>`
      }
    </dl>`;
  }

  /** The autoPay consent, offered with its text and version; granted only if ticked on Pay. */
  private renderAutoPayOffer() {
    const text = this.autoPayText;
    if (text === undefined || this.askAbove !== undefined) return nothing;
    return html`<p class="field">
      <input type="checkbox" id="auto-pay" aria-describedby="auto-pay-text" />
      <label for="auto-pay">From now on, pay ${this.#askingOrigin} without asking me</label>
      <span class="hint" id="auto-pay-text">${text.text} (Text version ${text.version}.)</span>
    </p>`;
  }
}

/** What the pay window says of the merchant's fair-price cap, and what the item then costs. */
interface FairPriceNote {
  readonly text: string;
  readonly chargedMicros: bigint;
}

/**
 * The user's standing with the merchant's fair-price cap this month, as a sentence: free once the
 * cap is reached, else what is left before it. Undefined when the merchant has no cap or the
 * standing cannot be read (the platform charges by the cap all the same).
 */
async function fairPriceNoteOf(
  merchantId: string,
  merchantName: string,
  priceMicros: bigint,
): Promise<FairPriceNote | undefined> {
  const standing = await callApi<{ cap: string | null; left: string | null }>(
    'GET',
    `/v1/users/me/spending/merchants/${merchantId}`,
  );
  if (!standing.ok || standing.value.cap === null || standing.value.left === null) return undefined;
  const cap = showAmount(standing.value.cap);
  const leftMicros = microsOf(standing.value.left);
  if (leftMicros === undefined) return undefined;
  if (leftMicros === 0n) {
    return {
      text: `Free: you have reached ${merchantName}\u2019s monthly cap of ${cap}.`,
      chargedMicros: 0n,
    };
  }
  const left = showAmount(standing.value.left);
  return {
    text: `${left} left before ${merchantName}\u2019s monthly cap of ${cap}; after that, its items are free this month.`,
    chargedMicros: leftMicros < priceMicros ? leftMicros : priceMicros,
  };
}

customElements.define('mite-pay-page', PayPage);
