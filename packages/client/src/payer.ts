/**
 * The payer: pays one challenge at the platform inside the budgets. It checks the challenge
 * (currency, platform, amount), holds the amount against the limits, asks for approval above the
 * threshold, calls the platform (same Idempotency-Key on every retry), checks that the receipt
 * pays this very challenge, and tells the `onPayment` listener.
 *
 * One challenge is never paid twice by one instance (`#byChallenge`), whoever asks.
 */
import {
  type Challenge,
  checkChallengeTimes,
  clockSkewSecondsMax,
  currency as platformCurrency,
  formatAmount,
  formatCredentialHeader,
  isSecureOrLoopback,
  parseAmount,
  parseBaseUnits,
  type ReceiptClaims,
  type Refusal,
  sameCurrency,
} from '@mite/protocol';
import {
  type Budget,
  type BudgetHeadroom,
  BudgetLedger,
  parseBudget,
  type PaymentQuote,
  type Reservation,
  type Spending,
} from './budget.ts';
import { MitePaymentError } from './errors.ts';
import {
  type Charged,
  payAtPlatform,
  type PlatformRetry,
  type PolicyApproval,
} from './platform-client.ts';
import type { StoredReceipt } from './receipt-store.ts';

/** Who pays: the platform this client trusts, and the user's session there. */
export interface Wallet {
  /** The platform's base URL. Challenges naming any other platform are refused. */
  readonly platformUrl: string;
  /** The session bearer token, or a function that returns the current one. */
  readonly token: string | (() => string | Promise<string>);
  /** The wallet's currency; budgets are in it (default "USD"). */
  readonly currency?: string;
  /**
   * A stable random id naming this device, sent to the platform as `Mite-Device` (1 to 64
   * characters A-Z, a-z, 0-9, _ and -): the platform's risk rules count payments by device as
   * well as by account. Make one once (`crypto.randomUUID()`) and keep it with the session.
   */
  readonly deviceId?: string;
}

/** What the platform takes as a device id (its `Mite-Device` header). */
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Who asks for a payment. `createMiteFetch` knows the URL that answered 402; a caller that does
 * not (an mppx method, which is handed the challenge alone) names the site otherwise.
 */
export interface PaymentSite {
  /**
   * Whose daily budget the payment counts against: the origin that asked
   * (`https://news.example`), or `merchant <id>` where nothing names the site.
   */
  readonly origin: string;
  /** The URL that answered 402 (else the challenge's resource), for the quote and the listener. */
  readonly url: string;
  /** The key under which a reusable receipt for the challenge's resource is kept. */
  readonly resourceKey: string;
}

/** One payment the platform took. */
export interface PaymentEvent {
  readonly paymentId: string;
  readonly amount: string;
  readonly amountMicros: bigint;
  readonly currency: string;
  /**
   * The origin that asked for the payment, whose daily budget it counts against; for the mppx
   * method told no URL, `merchant <id>` (see PaymentSite).
   */
  readonly origin: string;
  /** The URL that answered 402 (for the mppx method told no URL, the challenge's resource). */
  readonly url: string;
  /** What was bought, as the challenge named it. */
  readonly resource: string;
  readonly merchant: string;
  readonly challengeId: string;
  /** Seconds since the epoch. */
  readonly issuedAtSeconds: number;
  /** Seconds since the epoch; equal to `issuedAtSeconds` for a single-use purchase. */
  readonly accessUntilSeconds: number;
  /** The platform's receipt (compact JWS). */
  readonly receipt: string;
}

export interface PayerOptions {
  readonly wallet: Wallet;
  readonly budget: Budget;
  readonly fetch: typeof fetch;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly onPayment?: ((event: PaymentEvent) => void) | undefined;
  readonly platformRetry?: PlatformRetry | undefined;
  /** Asked when the platform's policy challenges a payment (see MiteFetchOptions.approve). */
  readonly approve?: PolicyApproval | undefined;
}

/** A purchase this instance made (or saw made by a concurrent call). */
export interface Paid {
  readonly credential: string;
  readonly paymentId: string;
  readonly receipt: string;
  readonly claims: ReceiptClaims;
  readonly challenge: Challenge;
  readonly resourceKey: string;
  /** False for single-use purchases (`accessPeriodSeconds` 0): never presented again. */
  readonly reusable: boolean;
}

function platformIdentity(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function toStored(paid: Paid, accessUntilSeconds: number): StoredReceipt {
  return {
    credential: paid.credential,
    accessUntil: accessUntilSeconds,
    paymentId: paid.paymentId,
    receipt: paid.receipt,
    resource: paid.challenge.request.methodDetails.resource,
    challengeId: paid.challenge.id,
  };
}

export function badChallenge(refusal: Refusal): MitePaymentError {
  return new MitePaymentError(
    'badChallenge',
    `the payment challenge is unusable: ${refusal.detail}`,
    {
      protocolCode: refusal.code,
    },
  );
}

export class Payer {
  readonly #wallet: { readonly platformUrl: URL; readonly currency: string };
  readonly #token: () => Promise<string>;
  readonly #ledger: BudgetLedger;
  readonly #approve: Budget['approve'];
  readonly #fetch: typeof fetch;
  readonly #clock: () => number;
  readonly #onPayment: ((event: PaymentEvent) => void) | undefined;
  readonly #retry: PlatformRetry;
  readonly #policyApproval: PolicyApproval | undefined;
  readonly #deviceId: string | undefined;
  /** Every challenge this instance paid, until it expires: never paid again. */
  readonly #byChallenge = new Map<string, Paid>();

  constructor(options: PayerOptions) {
    const { wallet } = options;
    if (typeof wallet !== 'object' || wallet === null) throw new TypeError('a wallet is required');
    const platformUrl = new URL(wallet.platformUrl);
    if (platformUrl.protocol !== 'https:' && platformUrl.protocol !== 'http:') {
      throw new TypeError('wallet.platformUrl must be an http(s) URL');
    }
    // The session token and the payments would travel in the clear (see isSecureOrLoopback).
    if (!isSecureOrLoopback(platformUrl)) {
      throw new TypeError(
        `wallet.platformUrl must be https (plain http only on the loopback: localhost, ` +
          `127.0.0.0/8, [::1]), not ${platformUrl.href}`,
      );
    }
    const { token } = wallet;
    if (typeof token !== 'string' && typeof token !== 'function') {
      throw new TypeError('wallet.token must be a string or a function');
    }
    if (wallet.deviceId !== undefined && !deviceIdPattern.test(wallet.deviceId)) {
      throw new TypeError('wallet.deviceId must be 1 to 64 characters A-Z, a-z, 0-9, _ and -');
    }
    this.#deviceId = wallet.deviceId;
    this.#token = async () => (typeof token === 'string' ? token : await token());
    this.#wallet = { platformUrl, currency: wallet.currency ?? platformCurrency };
    this.#ledger = new BudgetLedger(parseBudget(options.budget));
    this.#approve = options.budget.approve;
    this.#fetch = options.fetch;
    this.#clock = options.clock;
    this.#onPayment = options.onPayment;
    this.#retry = options.platformRetry ?? {};
    if (options.approve !== undefined && typeof options.approve !== 'function') {
      throw new TypeError('approve must be a function');
    }
    this.#policyApproval = options.approve;
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock() / 1000);
  }

  spent(): Spending {
    return this.#ledger.spent();
  }

  /** The payment this instance made for this challenge, if it has not expired yet. */
  paidFor(challengeId: string): Paid | undefined {
    return this.#byChallenge.get(challengeId);
  }

  /** The checks, the reservation, the approval, the platform call, the accounting. */
  async pay(challenge: Challenge, site: PaymentSite): Promise<Paid> {
    const { request } = challenge;
    this.#prune(this.#nowSeconds());
    const micros = this.#payableMicros(challenge);
    const quote = this.#quote(challenge, site, micros);
    const reservation: Reservation = this.#ledger.reserve(site.origin, micros, this.#clock());
    let charged: Charged = 'no';
    try {
      await this.#approval(quote, micros);
      const expiry = checkChallengeTimes(challenge, this.#nowSeconds());
      if (!expiry.ok) throw badChallenge(expiry);
      const outcome = await payAtPlatform({
        fetch: this.#fetch,
        platformUrl: this.#wallet.platformUrl,
        token: this.#token,
        challenge,
        idempotencyKey: crypto.randomUUID(),
        retry: this.#retry,
        approve: this.#policyApproval,
        deviceId: this.#deviceId,
      });
      if (!outcome.ok) {
        charged = outcome.charged;
        throw outcome.error;
      }
      charged = 'yes';
      const { payment } = outcome;
      const mismatch = this.#mismatch(payment.claims, challenge, micros);
      if (mismatch !== undefined) {
        throw new MitePaymentError(
          'badReceipt',
          `the platform's receipt does not pay this challenge: ${mismatch}`,
          { paid: true, paymentId: payment.paymentId, receipt: payment.receipt },
        );
      }
      reservation.commit();
      const paid: Paid = {
        credential: formatCredentialHeader({ challenge, payload: { receipt: payment.receipt } }),
        paymentId: payment.paymentId,
        receipt: payment.receipt,
        claims: payment.claims,
        challenge,
        resourceKey: site.resourceKey,
        reusable:
          request.methodDetails.accessPeriodSeconds > 0 &&
          payment.claims.accessUntil > payment.claims.issuedAt,
      };
      this.#byChallenge.set(challenge.id, paid);
      this.#notify(paid, site, micros);
      return paid;
    } finally {
      // Refused: the hold goes. Taken: it is spending. Unknown (the network hid the answer): it
      // stays held, so that a payment which may have happened still counts against the limits.
      if (charged === 'no') reservation.release();
      else if (charged === 'yes') reservation.commit();
    }
  }

  /**
   * The checks and the budget hold of a payment made with tokens, which the platform does not
   * take: the caller commits the hold once the merchant took the tokens, else releases it.
   */
  async hold(challenge: Challenge, site: PaymentSite): Promise<Reservation> {
    const micros = this.#payableMicros(challenge);
    const quote = this.#quote(challenge, site, micros);
    const reservation = this.#ledger.reserve(site.origin, micros, this.#clock());
    try {
      await this.#approval(quote, micros);
      const expiry = checkChallengeTimes(challenge, this.#nowSeconds());
      if (!expiry.ok) throw badChallenge(expiry);
    } catch (error) {
      reservation.release();
      throw error;
    }
    return reservation;
  }

  #prune(nowSeconds: number): void {
    for (const [id, paid] of this.#byChallenge) {
      if (paid.challenge.expiresAtSeconds + clockSkewSecondsMax < nowSeconds) {
        this.#byChallenge.delete(id);
      }
    }
  }

  /** The challenge's price in micro-units, once its currency and platform are this wallet's. */
  #payableMicros(challenge: Challenge): bigint {
    const { request } = challenge;
    this.checkTerms(request.currency, request.methodDetails.platform);
    const amount = parseBaseUnits(request.amount);
    if (!amount.ok) {
      throw new MitePaymentError('badChallenge', `the price ${request.amount} is not payable`, {
        protocolCode: 'badAmount',
      });
    }
    return amount.value;
  }

  /**
   * Refuses terms this wallet cannot pay: another currency, or another platform than the one it
   * trusts (a charge's and a session's alike).
   */
  checkTerms(currency: string, platformUrl: string): void {
    if (!sameCurrency(currency, this.#wallet.currency)) {
      throw new MitePaymentError(
        'wrongCurrency',
        `the merchant asks for ${currency}, the wallet holds ${this.#wallet.currency}`,
        { protocolCode: 'wrongCurrency' },
      );
    }
    let platform: URL | undefined;
    try {
      platform = new URL(platformUrl);
    } catch {
      platform = undefined;
    }
    if (
      platform === undefined ||
      platformIdentity(platform) !== platformIdentity(this.#wallet.platformUrl)
    ) {
      throw new MitePaymentError(
        'untrustedPlatform',
        `the merchant asks to pay at ${platformUrl}, this client pays only at ` +
          this.#wallet.platformUrl.href,
      );
    }
  }

  /** What each budget limit still allows at `origin` now. */
  headroom(origin: string): BudgetHeadroom {
    return this.#ledger.headroom(origin, this.#clock());
  }

  /**
   * Holds a session's deposit (or a top-up) against the limits, once the approval a payment of
   * that amount needs is given: the caller commits what the session paid when it closes, and
   * releases the hold if the platform did not take the deposit.
   */
  async holdDeposit(quote: Omit<PaymentQuote, 'headroom'>): Promise<Reservation> {
    const full: PaymentQuote = { ...quote, headroom: this.headroom(quote.origin) };
    const reservation = this.#ledger.reserve(quote.origin, quote.amountMicros, this.#clock());
    try {
      await this.#approval(full, quote.amountMicros);
    } catch (error) {
      reservation.release();
      throw error;
    }
    return reservation;
  }

  #quote(challenge: Challenge, site: PaymentSite, micros: bigint): PaymentQuote {
    const { request } = challenge;
    const description = request.description ?? challenge.description;
    const { methodDetails } = request;
    // The quote speaks the wallet's terms: a decimal amount and the wallet's currency code, which
    // #payableMicros has found to be the request's.
    const quote: PaymentQuote = {
      amount: formatAmount(micros),
      amountMicros: micros,
      currency: this.#wallet.currency,
      origin: site.origin,
      url: site.url,
      resource: methodDetails.resource,
      merchant: request.recipient,
      platform: methodDetails.platform,
      realm: challenge.realm,
      challengeId: challenge.id,
      accessPeriodSeconds: methodDetails.accessPeriodSeconds,
      headroom: this.#ledger.headroom(site.origin, this.#clock()),
      ...(description === undefined ? {} : { description }),
      ...(methodDetails.category === undefined ? {} : { category: methodDetails.category }),
    };
    return quote;
  }

  async #approval(quote: PaymentQuote, micros: bigint): Promise<void> {
    const approve = this.#approve;
    if (!this.#ledger.needsApproval(micros, approve !== undefined)) return;
    if (approve === undefined) {
      throw new MitePaymentError(
        'approvalDenied',
        `${quote.amount} is above the approval threshold and no approve callback is configured`,
      );
    }
    let approved: unknown;
    try {
      approved = await approve(quote);
    } catch (error) {
      throw new MitePaymentError('approvalDenied', 'the approval callback failed', {
        cause: error,
      });
    }
    if (approved !== true) {
      throw new MitePaymentError(
        'approvalDenied',
        `the payment of ${quote.amount} ${quote.currency} to ${quote.origin} was not approved`,
      );
    }
  }

  #mismatch(claims: ReceiptClaims, challenge: Challenge, micros: bigint): string | undefined {
    const { request } = challenge;
    if (claims.merchantId !== request.recipient) return `merchant ${claims.merchantId}`;
    if (claims.resource !== request.methodDetails.resource) return `resource ${claims.resource}`;
    if (!sameCurrency(claims.currency, request.currency)) return `currency ${claims.currency}`;
    if (!paysPrice(claims, micros)) return `amount ${claims.amount}`;
    if (claims.challengeId !== undefined && claims.challengeId !== challenge.id) {
      return 'another challenge';
    }
    return undefined;
  }

  #notify(paid: Paid, site: PaymentSite, micros: bigint): void {
    const listener = this.#onPayment;
    if (listener === undefined) return;
    const { claims, challenge } = paid;
    try {
      listener({
        paymentId: paid.paymentId,
        amount: formatAmount(micros),
        amountMicros: micros,
        currency: claims.currency,
        origin: site.origin,
        url: site.url,
        resource: challenge.request.methodDetails.resource,
        merchant: challenge.request.recipient,
        challengeId: challenge.id,
        issuedAtSeconds: claims.issuedAt,
        accessUntilSeconds: claims.accessUntil,
        receipt: paid.receipt,
      });
    } catch {
      // The payment happened; a listener's failure must not turn it into an error.
    }
  }
}

/**
 * Whether the receipt pays the price: exactly, or less (down to zero) when the platform signed
 * that the merchant's fair-price cap lowered it for this very price (`fairPriceCap`), as the
 * merchant's middleware accepts it.
 */
function paysPrice(claims: ReceiptClaims, priceMicros: bigint): boolean {
  const amount = parseAmount(claims.amount);
  if (!amount.ok) return false;
  if (claims.fairPriceCap === undefined) return amount.value === priceMicros;
  const listPrice = parseAmount(claims.fairPriceCap);
  return listPrice.ok && listPrice.value === priceMicros && amount.value <= priceMicros;
}
