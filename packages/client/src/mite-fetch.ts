/**
 * `createMiteFetch`: a `fetch` that pays HTTP 402 `Payment` challenges (method "mite") inside the
 * user's budgets, retries with the credential, and keeps the receipt so that a resource bought
 * once opens again without paying. This file is the fetch wrapper; paying a challenge at the
 * platform within the budget is the payer's (payer.ts).
 *
 * What is never done twice:
 * - one challenge is never paid twice by one instance (the payer's `#byChallenge`), whoever asks;
 * - concurrent calls for one resource share one payment (`#slots`, one per resource);
 * - a platform call retried after a network failure carries the same Idempotency-Key.
 */
import {
  type Challenge,
  parseChallengeHeader,
  parsePaymentReceiptHeader,
  parseX402PaymentRequired,
  paymentReceiptHeaderName,
  type Refusal,
  x402PaymentRequiredHeaderName,
} from '@mite/protocol';
import type { Budget, Spending } from './budget.ts';
import { MitePaymentError } from './errors.ts';
import {
  badChallenge,
  type Paid,
  Payer,
  type PaymentEvent,
  toStored,
  type Wallet,
} from './payer.ts';
import { type PlatformRetry, readProblem } from './platform-client.ts';
import {
  MemoryReceiptStore,
  receiptKeyOf,
  type ReceiptStore,
  type StoredReceipt,
} from './receipt-store.ts';
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
}

/** A `fetch` that pays; also reports what it has spent. */
export interface MiteFetch {
  (input: FetchInput, init?: RequestInit): Promise<Response>;
  /** What this instance has paid so far. */
  spent(): Spending;
}

/** One resource's payment: under way (no outcome yet) or settled. */
interface Slot {
  readonly done: Promise<void>;
  outcome?:
    { readonly ok: true; readonly paid: Paid } | { readonly ok: false; readonly error: unknown };
}

/** A slot's outcome, read afresh (after an await, the compiler still narrows the property). */
function outcomeOf(slot: Slot): Slot['outcome'] {
  return slot.outcome;
}

/** A credential to present, and where it came from. */
type Obtained =
  | { readonly source: 'paid' | 'shared'; readonly credential: string; readonly paid: Paid }
  | { readonly source: 'stored'; readonly credential: string; readonly stored: StoredReceipt };

/** A request goes around at most this many times (402, credential, 402 ...). */
const roundsMax = 4;

/** The key a stored receipt's resource has on this site, if it reads as a URL there. */
function sameSiteKey(stored: StoredReceipt, base: URL): string[] {
  try {
    const resource = new URL(stored.resource, base);
    return resource.hostname === base.hostname
      ? [receiptKeyOf(new URL(`${resource.pathname}${resource.search}`, base))]
      : [];
  } catch {
    return [];
  }
}

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
  readonly #store: ReceiptStore;
  /** Per resource key: the payment under way, or the last one made. */
  readonly #slots = new Map<string, Slot>();

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
    });
    this.#store =
      options.receiptStore ?? new MemoryReceiptStore({ nowSeconds: () => this.#nowSeconds() });
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

  #live(stored: StoredReceipt | undefined): StoredReceipt | undefined {
    return stored !== undefined && stored.accessUntil > this.#nowSeconds() ? stored : undefined;
  }

  async fetch(input: FetchInput, init?: RequestInit): Promise<Response> {
    const request = await toReplayableRequest(input, init);
    // The caller speaks for itself: its Authorization is not ours to replace.
    if (request.headers.has('authorization')) return this.#send(request, request.url);
    const urlKey = receiptKeyOf(request.url);
    const tried = new Set<string>();
    let response: Response;
    const upFront = this.#live(await this.#store.get(urlKey));
    if (upFront === undefined) {
      response = await this.#send(request, request.url);
    } else {
      tried.add(upFront.credential);
      response = await this.#send(request, request.url, upFront.credential);
      if (response.status === 402) {
        await this.#forget(upFront.credential, [urlKey, ...sameSiteKey(upFront, request.url)]);
      }
    }
    let last: Obtained | undefined;
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
        } else {
          throw await this.#refused(last, response);
        }
      }
      let challenge: Challenge | undefined;
      try {
        challenge = this.#readChallenge(response);
      } catch (error) {
        await discard(response);
        throw error;
      }
      if (challenge === undefined) return response;
      await discard(response);
      if (round > roundsMax) {
        throw new MitePaymentError('merchantRefused', 'the merchant keeps answering 402');
      }
      request.init.signal?.throwIfAborted();
      last = await this.#obtain(challenge, target, tried);
      tried.add(last.credential);
      response = await this.#send(request, target, last.credential);
    }
  }

  /** The Mite challenge of a 402; undefined when it carries none (the 402 is then returned). */
  #readChallenge(response: Response): Challenge | undefined {
    const nowSeconds = this.#nowSeconds();
    let refusal: Refusal | undefined;
    const header = response.headers.get('www-authenticate');
    if (header !== null) {
      const parsed = parseChallengeHeader(header, { nowSeconds });
      if (parsed.ok) return parsed.value;
      if (parsed.code !== 'unknownScheme' && parsed.code !== 'unsupportedMethod') refusal = parsed;
    }
    const x402 = response.headers.get(x402PaymentRequiredHeaderName);
    if (x402 !== null) {
      const parsed = parseX402PaymentRequired(x402, { nowSeconds });
      if (parsed.ok) return parsed.value;
      if (parsed.code !== 'unsupportedMethod') refusal ??= parsed;
    }
    if (refusal !== undefined) throw badChallenge(refusal);
    return undefined;
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

  /** Drops a receipt the merchant refused, wherever it is kept. */
  async #forget(credential: string, keys: readonly string[]): Promise<void> {
    for (const key of new Set(keys)) {
      const stored = await this.#store.get(key);
      if (stored?.credential === credential) await this.#store.delete(key);
    }
    for (const [key, slot] of this.#slots) {
      if (slot.outcome?.ok === true && slot.outcome.paid.credential === credential) {
        this.#slots.delete(key);
        const resource = slot.outcome.paid.resourceKey;
        const stored = await this.#store.get(resource);
        if (stored?.credential === credential) await this.#store.delete(resource);
      }
    }
  }

  /** After the merchant accepted a credential: keep it under the URL asked for, too. */
  async #remember(last: Obtained, response: Response, keys: readonly string[]): Promise<void> {
    if (last.source === 'stored') {
      for (const key of new Set(keys)) {
        const existing = await this.#store.get(key);
        if (existing?.credential !== last.credential) await this.#store.put(key, last.stored);
      }
      return;
    }
    const { paid } = last;
    if (!paid.reusable) return;
    let accessUntilSeconds = paid.claims.accessUntil;
    const header = response.headers.get(paymentReceiptHeaderName);
    if (response.ok && header !== null) {
      // The merchant enforces access, so its word on how long counts when it is shorter.
      const receipt = parsePaymentReceiptHeader(header);
      if (receipt.ok)
        accessUntilSeconds = Math.min(accessUntilSeconds, receipt.value.accessUntilSeconds);
    }
    const allKeys = new Set([...keys, paid.resourceKey]);
    if (accessUntilSeconds <= this.#nowSeconds()) {
      for (const key of allKeys) await this.#forgetKey(key, paid.credential);
      return;
    }
    const stored = toStored(paid, accessUntilSeconds);
    for (const key of allKeys) {
      const existing = await this.#store.get(key);
      if (
        existing?.credential !== stored.credential ||
        existing.accessUntil !== accessUntilSeconds
      ) {
        await this.#store.put(key, stored);
      }
    }
  }

  async #forgetKey(key: string, credential: string): Promise<void> {
    const stored = await this.#store.get(key);
    if (stored?.credential === credential) await this.#store.delete(key);
  }

  /** The key of the challenge's resource, on the origin that asked (see the README). */
  #resourceKey(challenge: Challenge, target: URL): string {
    let resource: URL;
    try {
      resource = new URL(challenge.request.resource, target);
    } catch {
      throw new MitePaymentError('badChallenge', 'the challenge names an unreadable resource', {
        protocolCode: 'badUrl',
      });
    }
    if (resource.hostname !== target.hostname) {
      throw new MitePaymentError(
        'badChallenge',
        `${target.origin} asks to pay for a resource of ${resource.hostname}`,
        { protocolCode: 'wrongResource' },
      );
    }
    return receiptKeyOf(new URL(`${resource.pathname}${resource.search}`, target));
  }

  /**
   * A credential for this challenge, by the cheapest way that is still correct: a payment this
   * instance made for this very challenge, a concurrent payment for the same resource, a live
   * stored receipt for it, and only then a new payment.
   */
  async #obtain(challenge: Challenge, target: URL, tried: ReadonlySet<string>): Promise<Obtained> {
    const resourceKey = this.#resourceKey(challenge, target);
    let storeChecked = false;
    for (;;) {
      // Synchronous from here to #lead, so no other call can slip in between the checks and the
      // claim of the resource's slot.
      const paid = this.#payer.paidFor(challenge.id);
      if (paid !== undefined) {
        if (!tried.has(paid.credential))
          return { source: 'shared', credential: paid.credential, paid };
        throw new MitePaymentError(
          'merchantRefused',
          'the merchant asks again for a challenge this client paid already; not paying it twice',
          { paymentId: paid.paymentId, receipt: paid.receipt },
        );
      }
      const slot = this.#slots.get(resourceKey);
      if (slot !== undefined && slot.outcome === undefined) {
        await slot.done;
        const settled = outcomeOf(slot);
        if (settled?.ok === false) throw settled.error;
        continue;
      }
      if (slot?.outcome?.ok === true) {
        const shared = slot.outcome.paid;
        if (
          shared.reusable &&
          shared.claims.accessUntil > this.#nowSeconds() &&
          !tried.has(shared.credential)
        ) {
          return { source: 'shared', credential: shared.credential, paid: shared };
        }
      }
      if (!storeChecked) {
        storeChecked = true;
        const stored = this.#live(await this.#store.get(resourceKey));
        if (stored !== undefined && !tried.has(stored.credential)) {
          return { source: 'stored', credential: stored.credential, stored };
        }
        continue;
      }
      const mine = await this.#lead(challenge, target, resourceKey);
      return { source: 'paid', credential: mine.credential, paid: mine };
    }
  }

  /** Claims the resource's slot at once (synchronously), then pays. */
  #lead(challenge: Challenge, target: URL, resourceKey: string): Promise<Paid> {
    let finish = (): void => undefined;
    const slot: Slot = { done: new Promise<void>((resolve) => (finish = resolve)) };
    this.#slots.set(resourceKey, slot);
    const payment = this.#pay(challenge, target, resourceKey);
    payment
      .then(
        (paid) => {
          slot.outcome = { ok: true, paid };
        },
        (error: unknown) => {
          slot.outcome = { ok: false, error };
          if (this.#slots.get(resourceKey) === slot) this.#slots.delete(resourceKey);
        },
      )
      .finally(finish);
    return payment;
  }

  #prune(nowSeconds: number): void {
    for (const [key, slot] of this.#slots) {
      const outcome = slot.outcome;
      if (outcome?.ok === true && outcome.paid.claims.accessUntil <= nowSeconds) {
        this.#slots.delete(key);
      }
    }
  }

  /** Pays through the payer, then keeps a reusable receipt under the resource's key. */
  async #pay(challenge: Challenge, target: URL, resourceKey: string): Promise<Paid> {
    this.#prune(this.#nowSeconds());
    const paid = await this.#payer.pay(challenge, target, resourceKey);
    if (paid.reusable && paid.claims.accessUntil > this.#nowSeconds()) {
      await this.#store.put(resourceKey, toStored(paid, paid.claims.accessUntil));
    }
    return paid;
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
  return Object.assign(miteFetch, { spent: () => payer.spent() });
}
