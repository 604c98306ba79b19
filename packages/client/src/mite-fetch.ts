/**
 * `createMiteFetch`: a `fetch` that pays HTTP 402 `Payment` challenges (method "mite") inside the
 * user's budgets, retries with the credential, and keeps the receipt so that a resource bought
 * once opens again without paying. This file is the fetch wrapper: the rounds of one request
 * (sent, answered 402, sent again with a credential) and the merchant's refusal. The rest is one
 * file per concept:
 * - reading a 402's challenge and the resource it sells (challenge-selection.ts);
 * - obtaining a credential without paying twice (credential-broker.ts), paying at the platform
 *   within the budget (payer.ts);
 * - keeping receipts (receipt-cache.ts over a receipt-store.ts);
 * - a request that can be sent again, body included (replayable-request.ts).
 * A platform call retried after a network failure carries the same Idempotency-Key (payer.ts).
 */
import {
  type Challenge,
  isSecureOrLoopback,
  parseSessionChallengeHeader,
  type SessionChallenge,
} from '@mite/protocol';
import type { Budget, Spending } from './budget.ts';
import { paymentSiteOf, readChallenge, refuseInsecure } from './challenge-selection.ts';
import { CredentialBroker, type Obtained } from './credential-broker.ts';
import { MitePaymentError } from './errors.ts';
import { Payer, type PaymentEvent, type Wallet } from './payer.ts';
import { type PlatformRetry, type PolicyApproval, readProblem } from './platform-client.ts';
import { ReceiptCache, sameSiteKey } from './receipt-cache.ts';
import { MemoryReceiptStore, receiptKeyOf, type ReceiptStore } from './receipt-store.ts';
import {
  readTokenChallenge,
  type TokenObtained,
  type TokenSpendEvent,
  TokenSpending,
} from './token-spending.ts';
import type { SessionSummary } from './sessions/metered-session.ts';
import { type SessionOptions, SessionSpending } from './sessions/session-spending.ts';
import { TokenPurse } from './tokens/token-purse.ts';
import type { TokenStore } from './tokens/token-store.ts';
import {
  type FetchInput,
  type ReplayableRequest,
  sendArguments,
  toReplayableRequest,
} from './replayable-request.ts';

export interface MiteFetchOptions {
  readonly wallet: Wallet;
  readonly budget: Budget;
  /** The `fetch` to send with (default: the global one, looked up at each call). */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (default `Date.now`): challenge expiry, access, UTC days. */
  readonly clock?: () => number;
  /** Where receipts are kept (default: in memory, for the life of the instance). */
  readonly receiptStore?: ReceiptStore;
  /** Told of every payment the platform took; a throwing listener does not undo it. */
  readonly onPayment?: (event: PaymentEvent) => void;
  /** Retries of the platform call (same Idempotency-Key each time). */
  readonly platformRetry?: PlatformRetry;
  /**
   * Asked when the platform's policy challenges a payment (a `policy-challenged` answer: a risk
   * rule wants the person to confirm it), with why, which rule, the amount and the merchant. On
   * `true` the client confirms the decision and sends the payment once more, which then goes
   * ahead; on `false`, or without this callback, the payment fails with `policyChallenged`.
   * This is the platform's question, asked after the budget's own `budget.approve`.
   */
  readonly approve?: PolicyApproval;
  /**
   * Pay with tokens: a 402 that offers a "mite-token" challenge is paid with tokens from `store`
   * when they are worth enough (swapping some for change if need be), within the same budget;
   * otherwise its "mite" challenge is paid as usual. `platformUrl` is the wallet's by default.
   * `withdraw` sets what `refillTokens()` keeps: a float, withdrawn in round batches. With
   * `only`, nothing is paid from the wallet: a 402 the tokens cannot pay is an error.
   * `onSpend` is told of every payment a merchant took in tokens (the platform has no record
   * of it that names the payer, so this is the only one).
   */
  readonly tokens?: {
    readonly store: TokenStore;
    readonly platformUrl?: string;
    readonly only?: boolean;
    readonly onSpend?: (event: TokenSpendEvent) => void;
    readonly withdraw?: { readonly floatMicros: bigint; readonly batchMicros: bigint };
  };
  /**
   * Pay metered routes by the unit: a 402 that offers a session (`intent="session"`) is answered
   * by opening one, holding `depositMicros` (default: the merchant's suggestion) against the
   * budget, and paying vouchers as the route is used; only what the last voucher names is
   * spent. Without this option a session is opened only for a stream (a route metered by the
   * second, token or byte), which no one-off purchase pays. `closeSessions()` closes them.
   */
  readonly sessions?: SessionOptions;
}

/** A `fetch` that pays; also reports what it has spent. */
export interface MiteFetch {
  (input: FetchInput, init?: RequestInit): Promise<Response>;
  /** What this instance has paid so far. */
  spent(): Spending;
  /** The token purse, when paying with tokens is on. */
  readonly tokens: TokenPurse | undefined;
  /**
   * Withdraws tokens (with the wallet's session) until the float `tokens.withdraw` sets is held;
   * answers the micro-units withdrawn. Never called by a purchase: call it on a schedule of your
   * own, so that a withdrawal's time says nothing of what was bought.
   */
  refillTokens(): Promise<bigint>;
  /** The sessions this instance holds (open, or closed by the merchant and not yet settled). */
  openSessions(): SessionSummary[];
  /**
   * Closes the open sessions (of one URL, when given) with their last voucher, and answers what
   * each cost: the budget keeps what was paid and frees the rest of the deposits.
   */
  closeSessions(url?: string | URL): Promise<SessionSummary[]>;
}

/** A 402's challenges this client could answer. */
interface Offered {
  readonly challenge: Challenge | undefined;
  readonly tokenChallenge: Challenge | undefined;
  /** A session challenge this client answers (see SessionSpending.wants). */
  readonly session: SessionChallenge | undefined;
}

type Presented = Obtained | TokenObtained;

/** A request goes around at most this many times (402, credential, 402 ...). */
const roundsMax = 4;

async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** The URL a response came from (after redirects), else the one asked for. */
function responseUrl(response: Response, asked: URL): URL {
  if (response.url === '') return asked;
  try {
    return new URL(response.url);
  } catch {
    return asked;
  }
}

/** The fetch wrapper: sends, reads 402 challenges, presents credentials, keeps receipts. */
class PayingFetch {
  readonly #payer: Payer;
  readonly #fetch: typeof fetch;
  readonly #clock: () => number;
  readonly #receipts: ReceiptCache;
  readonly #broker: CredentialBroker;
  readonly #tokens: TokenSpending | undefined;
  readonly #tokensOnly: boolean;
  readonly purse: TokenPurse | undefined;
  readonly sessions: SessionSpending;

  constructor(options: MiteFetchOptions) {
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#clock = options.clock ?? Date.now;
    this.#payer = new Payer({
      wallet: options.wallet,
      budget: options.budget,
      fetch: this.#fetch,
      clock: this.#clock,
      onPayment: options.onPayment,
      platformRetry: options.platformRetry,
      approve: options.approve,
    });
    const nowSeconds = () => this.#nowSeconds();
    const store = options.receiptStore ?? new MemoryReceiptStore({ nowSeconds });
    this.#receipts = new ReceiptCache(store, nowSeconds);
    this.#broker = new CredentialBroker(this.#payer, this.#receipts, nowSeconds);
    this.#tokensOnly = options.tokens?.only === true;
    const { wallet } = options;
    this.sessions = new SessionSpending(
      this.#payer,
      {
        fetch: this.#fetch,
        platformUrl: new URL(wallet.platformUrl),
        token: async () => (typeof wallet.token === 'string' ? wallet.token : await wallet.token()),
        retry: options.platformRetry ?? {},
        deviceId: wallet.deviceId,
      },
      options.sessions,
    );
    if (options.tokens !== undefined) {
      this.purse = new TokenPurse({
        store: options.tokens.store,
        platformUrl: options.tokens.platformUrl ?? options.wallet.platformUrl,
        fetch: this.#fetch,
        nowMs: this.#clock,
      });
      this.#tokens = new TokenSpending(this.purse, this.#payer, this.#receipts, {
        nowSeconds,
        onSpend: options.tokens.onSpend,
      });
    }
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock() / 1000);
  }

  spent(): Spending {
    return this.#payer.spent();
  }

  #send(request: ReplayableRequest, url: URL, credential?: string): Promise<Response> {
    const [href, init] = sendArguments(request, url, credential);
    return this.#fetch(href, init);
  }

  async fetch(input: FetchInput, init?: RequestInit): Promise<Response> {
    const request = await toReplayableRequest(input, init);
    // The caller speaks for itself: its Authorization is not ours to replace.
    if (request.headers.has('authorization')) return this.#send(request, request.url);
    // A URL paid by an open session: its next voucher goes with the request at once (unless the
    // merchant has lost the session: then the request goes as any other, and its 402 opens anew).
    if (this.sessions.sessionAt(request.url) !== undefined && isSecureOrLoopback(request.url)) {
      const answered = await this.sessions.fetch(request, request.url, undefined);
      if (answered !== undefined) return answered;
    }
    const urlKey = receiptKeyOf(request.url);
    const tried = new Set<string>();
    let response: Response;
    const upFront = isSecureOrLoopback(request.url) ? await this.#receipts.live(urlKey) : undefined;
    if (upFront === undefined) {
      response = await this.#send(request, request.url);
    } else {
      tried.add(upFront.credential);
      response = await this.#send(request, request.url, upFront.credential);
      if (response.status === 402) {
        await this.#forget(upFront.credential, [urlKey, ...sameSiteKey(upFront, request.url)]);
      }
    }
    let last: Presented | undefined;
    for (let round = 1; ; round += 1) {
      const target = responseUrl(response, request.url);
      if (response.status !== 402) {
        if (last !== undefined)
          await this.#remember(last, response, [urlKey, receiptKeyOf(target)]);
        return response;
      }
      if (last !== undefined) {
        if (last.source === 'stored') {
          await this.#forget(last.credential, [urlKey, ...sameSiteKey(last.stored, target)]);
        } else if (last.source === 'tokens') {
          // A spent token: the purse has sorted its tokens, and the next round pays afresh.
          await this.#tokens?.refused(last, response);
        } else {
          throw await this.#refused(last, response);
        }
      }
      const offered = await this.#challengeOf(response);
      if (offered === undefined) return response;
      if (round > roundsMax) {
        throw new MitePaymentError('merchantRefused', 'the merchant keeps answering 402');
      }
      request.init.signal?.throwIfAborted();
      refuseInsecure(target);
      if (offered.session !== undefined) {
        const answered = await this.sessions.fetch(request, target, offered.session);
        if (answered !== undefined) return answered;
      }
      last = await this.#obtain(offered, target, tried);
      tried.add(last.credential);
      response = await this.#present(request, target, last);
    }
  }

  /** Tokens for a "mite-token" challenge when the purse can pay, else the "mite" challenge's way. */
  async #obtain(offered: Offered, target: URL, tried: ReadonlySet<string>): Promise<Presented> {
    const { challenge, tokenChallenge } = offered;
    if (tokenChallenge !== undefined && this.#tokens !== undefined) {
      const site = paymentSiteOf(tokenChallenge, target);
      const stored = await this.#receipts.live(site.resourceKey);
      if (stored !== undefined && !tried.has(stored.credential)) {
        return { source: 'stored', credential: stored.credential, stored };
      }
      const paid = await this.#tokens.obtain(tokenChallenge, site);
      if (paid !== undefined) return paid;
    }
    if (challenge === undefined || this.#tokensOnly) {
      const why =
        tokenChallenge === undefined
          ? 'the merchant does not take tokens'
          : 'the tokens held cannot pay this price';
      throw new MitePaymentError('paymentFailed', `${why}; nothing was paid`);
    }
    return this.#broker.obtain(challenge, paymentSiteOf(challenge, target), tried);
  }

  /** Sends with the credential; tokens whose answer never came stay in the store. */
  async #present(request: ReplayableRequest, target: URL, last: Presented): Promise<Response> {
    if (last.source !== 'tokens') return this.#send(request, target, last.credential);
    try {
      return await this.#send(request, target, last.credential);
    } catch (error) {
      await this.#tokens?.notTaken(last);
      throw error;
    }
  }

  /** A 402's challenges, its body let go; undefined (the 402 is then returned whole) if none. */
  async #challengeOf(response: Response): Promise<Offered | undefined> {
    try {
      const tokenChallenge =
        this.#tokens === undefined ? undefined : readTokenChallenge(response, this.#nowSeconds());
      let challenge: Challenge | undefined;
      try {
        challenge = readChallenge(response, this.#nowSeconds());
      } catch (error) {
        // An unusable "mite" challenge beside a usable "mite-token" one: the tokens answer.
        if (tokenChallenge === undefined) throw error;
      }
      const session = this.#sessionChallengeOf(response);
      if (challenge === undefined && tokenChallenge === undefined && session === undefined) {
        return undefined;
      }
      await discard(response);
      return { challenge, tokenChallenge, session };
    } catch (error) {
      await discard(response);
      throw error;
    }
  }

  /** The 402's session challenge, when this client answers it rather than a charge. */
  #sessionChallengeOf(response: Response): SessionChallenge | undefined {
    const header = response.headers.get('www-authenticate');
    if (header === null) return undefined;
    const parsed = parseSessionChallengeHeader(header, { nowSeconds: this.#nowSeconds() });
    return parsed.ok && this.sessions.wants(parsed.value) ? parsed.value : undefined;
  }

  async #refused(last: Obtained, response: Response): Promise<MitePaymentError> {
    const problem = await readProblem(response);
    const paid = last.source === 'stored' ? undefined : last.paid;
    const slug = typeof problem?.type === 'string' ? problem.type.split('/').pop() : undefined;
    const said = typeof problem?.detail === 'string' ? `: ${problem.detail}` : '';
    const details = {
      status: response.status,
      paid: last.source === 'paid',
      ...(problem === undefined ? {} : { problem }),
      ...(paid === undefined ? {} : { paymentId: paid.paymentId, receipt: paid.receipt }),
    };
    if (paid !== undefined) await this.#forget(paid.credential, [paid.resourceKey]);
    return new MitePaymentError(
      'merchantRefused',
      `the merchant refused the paid credential (${slug ?? response.status})${said}`,
      details,
    );
  }

  /** Drops a credential the merchant refused, wherever it is kept or shared. */
  async #forget(credential: string, keys: readonly string[]): Promise<void> {
    await this.#receipts.forget(credential, keys);
    await this.#receipts.forget(credential, this.#broker.forgetPaid(credential));
  }

  /** After the merchant accepted a credential: keep it under the URL asked for, too. */
  async #remember(last: Presented, response: Response, keys: readonly string[]): Promise<void> {
    if (last.source === 'tokens') await this.#tokens?.accepted(last, response, keys);
    else if (last.source === 'stored') await this.#receipts.rememberStored(last.stored, keys);
    else await this.#receipts.rememberPaid(last.paid, response, keys);
  }
}

/**
 * A `fetch` that pays HTTP 402 challenges inside `budget`, from `wallet`. Refusals and failures
 * throw `MitePaymentError`; a 402 without a Mite challenge is returned as is.
 */
export function createMiteFetch(options: MiteFetchOptions): MiteFetch {
  const payer = new PayingFetch(options);
  const miteFetch = (input: FetchInput, init?: RequestInit): Promise<Response> =>
    payer.fetch(input, init);
  const refillTokens = async (): Promise<bigint> => {
    const withdraw = options.tokens?.withdraw;
    if (payer.purse === undefined || withdraw === undefined) return 0n;
    const { token, deviceId } = options.wallet;
    const sessionToken = typeof token === 'string' ? token : await token();
    return payer.purse.refill({
      sessionToken,
      ...(deviceId === undefined ? {} : { deviceId }),
      ...withdraw,
    });
  };
  return Object.assign(miteFetch, {
    spent: () => payer.spent(),
    tokens: payer.purse,
    refillTokens,
    openSessions: () => payer.sessions.list(),
    closeSessions: (url?: string | URL) =>
      payer.sessions.closeAll(url === undefined ? undefined : new URL(url)),
  });
}
