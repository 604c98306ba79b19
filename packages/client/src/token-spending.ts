/**
 * Paying a 402's "mite-token" challenge with tokens from a purse, for `createMiteFetch`: the
 * budget's checks and hold as for any payment (the payer's `hold`), tokens worth exactly the
 * price, and the credential that carries them. The merchant's answer settles the spend: taken
 * (the tokens leave the store, the hold becomes spending, and a purchase with an access period
 * is kept as a receipt, since the same tokens open it again), refused as spent (the purse keeps
 * the unspent ones), or unknown (the tokens stay; presenting them again is charged once).
 */
import {
  type Challenge,
  formatCredentialHeader,
  miteTokenMethod,
  parseChallengeHeader,
  parsePaymentReceiptHeader,
  paymentReceiptHeaderName,
  requestAmountMicros,
} from '@mite/protocol';
import type { Reservation } from './budget.ts';
import { MitePaymentError } from './errors.ts';
import type { Payer, PaymentSite } from './payer.ts';
import { readProblem } from './platform-client.ts';
import type { ReceiptCache } from './receipt-cache.ts';
import {
  TokenPaymentError,
  type TokenPurse,
  type TokenSpend,
  toWire,
} from './tokens/token-purse.ts';

/** A payment a merchant took in tokens. */
export interface TokenSpendEvent {
  readonly amountMicros: bigint;
  /** The origin that asked, whose daily budget it counts against. */
  readonly origin: string;
  readonly url: string;
  readonly resource: string;
  readonly merchant: string;
  readonly tokens: number;
  /** Seconds since the epoch: the merchant's access end, for a purchase with an access period. */
  readonly accessUntilSeconds?: number;
}

/** A credential made of tokens, presented and not yet settled. */
export interface TokenObtained {
  readonly source: 'tokens';
  readonly credential: string;
  readonly spend: TokenSpend;
  readonly reservation: Reservation;
  readonly challenge: Challenge;
  readonly site: PaymentSite;
}

/** The 402's "mite-token" challenge, if it offers one that reads. */
export function readTokenChallenge(response: Response, nowSeconds: number): Challenge | undefined {
  const header = response.headers.get('www-authenticate');
  if (header === null) return undefined;
  const parsed = parseChallengeHeader(header, { nowSeconds, method: miteTokenMethod });
  return parsed.ok ? parsed.value : undefined;
}

/** The access end a merchant's Payment-Receipt states, in seconds; undefined if none reads. */
function accessUntilOf(response: Response): { until: number; reference: string } | undefined {
  const header = response.headers.get(paymentReceiptHeaderName);
  if (header === null) return undefined;
  const receipt = parsePaymentReceiptHeader(header);
  if (!receipt.ok) return undefined;
  return { until: receipt.value.accessUntilSeconds, reference: receipt.value.reference };
}

export class TokenSpending {
  readonly #purse: TokenPurse;
  readonly #payer: Payer;
  readonly #receipts: ReceiptCache;
  readonly #nowSeconds: () => number;
  readonly #onSpend: ((event: TokenSpendEvent) => void) | undefined;

  constructor(
    purse: TokenPurse,
    payer: Payer,
    receipts: ReceiptCache,
    options: {
      readonly nowSeconds: () => number;
      readonly onSpend?: ((event: TokenSpendEvent) => void) | undefined;
    },
  ) {
    this.#purse = purse;
    this.#payer = payer;
    this.#receipts = receipts;
    this.#nowSeconds = options.nowSeconds;
    this.#onSpend = options.onSpend;
  }

  /**
   * A token credential for `challenge`, or undefined when the purse cannot pay it (then the
   * caller pays the "mite" challenge, if there is one).
   */
  async obtain(challenge: Challenge, site: PaymentSite): Promise<TokenObtained | undefined> {
    const amountMicros = requestAmountMicros(challenge.request);
    if ((await this.#purse.spendableMicros()) < amountMicros) return undefined;
    const reservation = await this.#payer.hold(challenge, site);
    let spend: TokenSpend;
    try {
      spend = await this.#purse.take(amountMicros);
    } catch (error) {
      reservation.release();
      if (error instanceof TokenPaymentError && error.code !== 'swapFailed') return undefined;
      throw new MitePaymentError('paymentFailed', `paying with tokens failed: ${String(error)}`, {
        cause: error,
      });
    }
    const payload = { tokens: spend.tokens.map(toWire) };
    const credential = formatCredentialHeader({ challenge, payload });
    return { source: 'tokens', credential, spend, reservation, challenge, site };
  }

  /** The credential could not be sent, or its answer was lost: nothing is known to be spent. */
  async notTaken(obtained: TokenObtained): Promise<void> {
    obtained.reservation.release();
    await this.#purse.settle(obtained.spend, 'notTaken');
  }

  /** The merchant took the tokens: they leave the store; the access is kept as a receipt. */
  async accepted(obtained: TokenObtained, response: Response, keys: readonly string[]) {
    obtained.reservation.commit();
    await this.#purse.settle(obtained.spend, 'accepted');
    const access = accessUntilOf(response);
    const { challenge } = obtained;
    this.#notify(obtained, access?.until);
    if (challenge.request.methodDetails.accessPeriodSeconds <= 0) return;
    if (access === undefined || access.until <= this.#nowSeconds()) return;
    const stored = {
      credential: obtained.credential,
      accessUntil: access.until,
      paymentId: access.reference,
      receipt: '',
      resource: challenge.request.methodDetails.resource,
      challengeId: challenge.id,
    };
    await this.#receipts.rememberStored(stored, [...keys, obtained.site.resourceKey]);
  }

  #notify(obtained: TokenObtained, accessUntilSeconds: number | undefined): void {
    const { challenge, site, spend } = obtained;
    try {
      this.#onSpend?.({
        amountMicros: spend.amountMicros,
        origin: site.origin,
        url: site.url,
        resource: challenge.request.methodDetails.resource,
        merchant: challenge.request.recipient,
        tokens: spend.tokens.length,
        ...(accessUntilSeconds === undefined ? {} : { accessUntilSeconds }),
      });
    } catch {
      // The tokens were taken; a listener's failure must not turn that into an error.
    }
  }

  /**
   * The merchant answered 402 to the tokens. A spent token: the purse sorts the spent from the
   * unspent, and the caller tries again. Any other refusal throws, the tokens kept.
   */
  async refused(obtained: TokenObtained, response: Response): Promise<void> {
    const problem = await readProblem(response);
    obtained.reservation.release();
    if (problem?.miteCode === 'tokenSpent') {
      await this.#purse.settle(obtained.spend, 'tokenSpent');
      return;
    }
    await this.#purse.settle(obtained.spend, 'notTaken');
    const said = typeof problem?.detail === 'string' ? `: ${problem.detail}` : '';
    throw new MitePaymentError(
      'merchantRefused',
      `the merchant refused the tokens (${String(problem?.miteCode ?? response.status)})${said}`,
      { status: response.status, ...(problem === undefined ? {} : { problem }) },
    );
  }
}
