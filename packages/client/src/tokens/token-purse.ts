/**
 * Spending tokens: a purse over a `TokenStore` that picks tokens worth exactly an amount, swaps
 * some for change at the platform when no set of them is (keeping the swap's blinding state in
 * the store before sending it, as withdrawals do), and drops tokens only once a merchant took
 * them. A token stays in the store until then, so a network failure loses none: the same tokens
 * presented again are deposited once (the merchant's deposit is idempotent per token set).
 *
 * Tokens a purchase is presenting are held in memory by this purse, so that two concurrent
 * purchases never present the same token.
 */
import { type RandomBytes, tokensPerCredentialMax, type TokenPaymentWire } from '@mite/protocol';
import { fetchTokenKeys, type PublishedTokenKey } from './published-keys.ts';
import type { PendingSwap, StoredToken, TokenState, TokenStore } from './token-store.ts';
import {
  finish,
  prepareWithdrawal,
  TokenWithdrawalError,
  withdrawTokens,
} from './token-withdrawal.ts';

/** The platform's limit on input tokens in one swap. */
export const tokenSwapInputsMax = 64;

export type TokenPaymentErrorCode =
  /** The tokens held are worth less than the amount. */
  | 'insufficientTokens'
  /** The amount needs more tokens than a credential carries. */
  | 'tooManyTokens'
  /** The platform refused the swap, or could not be reached (then the swap stays pending). */
  | 'swapFailed';

export class TokenPaymentError extends Error {
  override readonly name = 'TokenPaymentError';
  constructor(
    readonly code: TokenPaymentErrorCode,
    message: string,
    /** Whether a swap stays pending, to be resumed (its inputs may have been spent). */
    readonly pending = false,
  ) {
    super(message);
  }
}

export interface TokenPurseOptions {
  readonly store: TokenStore;
  /** The platform that signed the tokens, and swaps them. */
  readonly platformUrl: string | URL;
  readonly fetch?: typeof fetch;
  readonly random?: RandomBytes;
  readonly nowMs?: () => number;
}

/** Tokens picked for one payment; the purse holds them until `settle`. */
export interface TokenSpend {
  readonly amountMicros: bigint;
  readonly tokens: readonly StoredToken[];
}

/** What happened to a spend: the merchant took it, said a token was spent, or nothing is known. */
export type SpendOutcome = 'accepted' | 'tokenSpent' | 'notTaken';

const denominationOf = (token: StoredToken): bigint => BigInt(token.denominationMicros);

const largestFirst = (a: StoredToken, b: StoredToken): number =>
  a.denominationMicros === b.denominationMicros
    ? 0
    : denominationOf(a) > denominationOf(b)
      ? -1
      : 1;

/**
 * Tokens worth exactly `amountMicros`, at most `countMax`, or undefined. Every denomination is
 * a power of two, so taking the largest token that still fits finds a set whenever one exists,
 * and the fewest tokens.
 */
export function pickExact(
  tokens: readonly StoredToken[],
  amountMicros: bigint,
  countMax: number = tokensPerCredentialMax,
): StoredToken[] | undefined {
  const picked: StoredToken[] = [];
  let rest = amountMicros;
  for (const token of [...tokens].sort(largestFirst)) {
    if (rest === 0n) break;
    if (denominationOf(token) <= rest) {
      picked.push(token);
      rest -= denominationOf(token);
    }
  }
  return rest === 0n && picked.length > 0 && picked.length <= countMax ? picked : undefined;
}

/**
 * Inputs for a swap that yields `amountMicros` and change: the smallest single token worth
 * enough, else the largest tokens until they are.
 */
export function pickSwapInputs(
  tokens: readonly StoredToken[],
  amountMicros: bigint,
): StoredToken[] | undefined {
  const sorted = [...tokens].sort(largestFirst);
  const single = sorted.filter((token) => denominationOf(token) >= amountMicros).pop();
  if (single !== undefined) return [single];
  const picked: StoredToken[] = [];
  let sum = 0n;
  for (const token of sorted) {
    if (sum >= amountMicros || picked.length === tokenSwapInputsMax) break;
    picked.push(token);
    sum += denominationOf(token);
  }
  return sum >= amountMicros ? picked : undefined;
}

const defaultRandom: RandomBytes = (length) =>
  globalThis.crypto.getRandomValues(new Uint8Array(length));

export const toWire = (token: StoredToken): TokenPaymentWire => ({
  keyId: token.keyId,
  message: token.message,
  signature: token.signature,
});

export class TokenPurse {
  readonly #options: TokenPurseOptions;
  readonly #platformUrl: URL;
  readonly #fetch: typeof fetch;
  /** Messages of the tokens presented by a purchase under way. */
  readonly #held = new Set<string>();
  /** Store changes one at a time: each loads, changes and saves the whole state. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: TokenPurseOptions) {
    this.#options = options;
    this.#platformUrl = new URL(options.platformUrl);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  get platformUrl(): URL {
    return this.#platformUrl;
  }

  #nowMs(): number {
    return (this.#options.nowMs ?? Date.now)();
  }

  /** Runs `change` on the stored state alone, and saves what it answers. */
  #change<T>(change: (state: TokenState) => { state?: TokenState; value: T }): Promise<T> {
    const run = this.#queue.then(async () => {
      const { state, value } = change(await this.#options.store.load());
      if (state !== undefined) await this.#options.store.save(state);
      return value;
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Runs `task` with the store to itself (a withdrawal loads and saves it several times). */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Tokens not held by a purchase and still taken by the platform. */
  #free(state: TokenState): StoredToken[] {
    const now = this.#nowMs();
    return state.tokens.filter(
      (token) => !this.#held.has(token.message) && Date.parse(token.redeemUntil) > now,
    );
  }

  /** What the free tokens are worth. */
  async spendableMicros(): Promise<bigint> {
    const state = await this.#options.store.load();
    return this.#free(state).reduce((sum, token) => sum + denominationOf(token), 0n);
  }

  /**
   * Tokens worth exactly `amountMicros`, held for this payment until `settle`; swaps some for
   * change first when no set of the tokens is worth exactly that.
   */
  async take(amountMicros: bigint): Promise<TokenSpend> {
    const picked = await this.#hold(amountMicros);
    if (picked !== undefined) return { amountMicros, tokens: picked };
    const inputs = await this.#change((state) => {
      const chosen = pickSwapInputs(this.#free(state), amountMicros);
      for (const token of chosen ?? []) this.#held.add(token.message);
      return { value: chosen };
    });
    if (inputs === undefined) {
      throw new TokenPaymentError(
        'insufficientTokens',
        `the tokens held are worth less than ${amountMicros} micro-units`,
      );
    }
    const total = inputs.reduce((sum, token) => sum + denominationOf(token), 0n);
    try {
      await this.#swap(inputs, [amountMicros, total - amountMicros]);
    } finally {
      for (const token of inputs) this.#held.delete(token.message);
    }
    const swapped = await this.#hold(amountMicros);
    if (swapped === undefined) {
      throw new TokenPaymentError(
        'tooManyTokens',
        `${amountMicros} micro-units need more than ${tokensPerCredentialMax} tokens`,
      );
    }
    return { amountMicros, tokens: swapped };
  }

  /** Picks and holds an exact set of free tokens, if there is one. */
  #hold(amountMicros: bigint): Promise<StoredToken[] | undefined> {
    return this.#change((state) => {
      const picked = pickExact(this.#free(state), amountMicros);
      for (const token of picked ?? []) this.#held.add(token.message);
      return { value: picked };
    });
  }

  /**
   * After the merchant answered: accepted tokens leave the store; on "token spent" each token
   * is swapped alone for a fresh one, which keeps the unspent ones and drops the spent ones;
   * otherwise they stay, free for another payment.
   */
  async settle(spend: TokenSpend, outcome: SpendOutcome): Promise<void> {
    const messages = new Set(spend.tokens.map((token) => token.message));
    try {
      if (outcome === 'accepted') {
        await this.#change((state) => ({
          state: { ...state, tokens: state.tokens.filter((t) => !messages.has(t.message)) },
          value: undefined,
        }));
      } else if (outcome === 'tokenSpent') {
        for (const token of spend.tokens) {
          await this.#swap([token], [denominationOf(token)]).catch(() => undefined);
        }
      }
    } finally {
      for (const message of messages) this.#held.delete(message);
    }
  }

  /**
   * Takes the tokens of a payment out of the free ones for a page that presents them and whose
   * answer this purse will not hear: kept as handed over, for `reclaimHandedOver`.
   */
  async handOver(spend: TokenSpend): Promise<void> {
    const messages = new Set(spend.tokens.map((token) => token.message));
    const at = new Date(this.#nowMs()).toISOString();
    try {
      await this.#change((state) => ({
        state: {
          ...state,
          tokens: state.tokens.filter((token) => !messages.has(token.message)),
          handedOver: [...(state.handedOver ?? []), { at, tokens: spend.tokens }],
        },
        value: undefined,
      }));
    } finally {
      for (const message of messages) this.#held.delete(message);
    }
  }

  /**
   * Finds out what became of tokens handed over more than `afterMs` ago (long enough for any
   * presentation of them to have ended): each is swapped alone for a fresh one, which keeps a
   * token the merchant never took and drops one it did (the platform refuses it as spent).
   * Answers what came back, in micro-units.
   */
  async reclaimHandedOver(afterMs: number): Promise<bigint> {
    const cutoff = this.#nowMs() - afterMs;
    const due = await this.#change((state) => {
      const handed = state.handedOver ?? [];
      const old = handed.filter((entry) => Date.parse(entry.at) <= cutoff);
      if (old.length === 0) return { value: [] };
      const kept = handed.filter((entry) => Date.parse(entry.at) > cutoff);
      // Back among the tokens, held: each goes through a swap of its own, saved as pending.
      const tokens = old.flatMap((entry) => entry.tokens);
      for (const token of tokens) this.#held.add(token.message);
      return {
        state: { ...state, tokens: [...state.tokens, ...tokens], handedOver: kept },
        value: tokens,
      };
    });
    let reclaimed = 0n;
    for (const token of due) {
      try {
        await this.#swap([token], [denominationOf(token)]);
        reclaimed += denominationOf(token);
      } catch {
        // Spent (taken by the merchant) or out of reach: the swap's pending record decides.
      } finally {
        this.#held.delete(token.message);
      }
    }
    return reclaimed;
  }

  /**
   * Swaps `inputs` for new tokens of `amountsMicros` (each split into powers of two): saved as
   * pending (the inputs out of `tokens`) before it is sent, then finished into tokens.
   */
  async #swap(inputs: readonly StoredToken[], amountsMicros: readonly bigint[]): Promise<void> {
    const keys = await fetchTokenKeys(this.#platformUrl, this.#fetch);
    const random = this.#options.random ?? defaultRandom;
    const outputs = amountsMicros
      .filter((amount) => amount > 0n)
      .flatMap(
        (amount) =>
          prepareWithdrawal(keys, amount, this.#platformUrl.origin, random, this.#nowMs()).outputs,
      );
    const pending: PendingSwap = { platformUrl: this.#platformUrl.origin, inputs, outputs };
    const messages = new Set(inputs.map((token) => token.message));
    await this.#change((state) => ({
      state: {
        ...state,
        tokens: state.tokens.filter((token) => !messages.has(token.message)),
        pendingSwaps: [...(state.pendingSwaps ?? []), pending],
      },
      value: undefined,
    }));
    await this.#send(pending, keys);
  }

  /** Sends a pending swap; once signed, its outputs become tokens and it is no longer pending. */
  async #send(pending: PendingSwap, keys: readonly PublishedTokenKey[]): Promise<void> {
    let response: Response;
    try {
      response = await this.#fetch(new URL('/v1/tokens/swaps', this.#platformUrl), {
        method: 'POST',
        // In the platform's own pages the session cookie would name the user: a swap names no one.
        credentials: 'omit',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          inputs: pending.inputs.map(toWire),
          outputs: pending.outputs.map((o) => ({
            keyId: o.keyId,
            blindedMessage: o.blindedMessage,
          })),
        }),
      });
    } catch (error) {
      throw new TokenPaymentError(
        'swapFailed',
        `the platform could not be reached: ${String(error)}`,
        true,
      );
    }
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status >= 500 || response.status === 429) {
      throw new TokenPaymentError(
        'swapFailed',
        `the platform answered ${response.status}; try again`,
        true,
      );
    }
    const isPending = (other: PendingSwap) =>
      other.outputs[0]?.message === pending.outputs[0]?.message;
    if (response.status !== 201) {
      // Refused: a spent input is gone; any other refusal spent nothing, so the inputs return.
      const spent = response.status === 409;
      await this.#change((state) => ({
        state: {
          ...state,
          tokens: spent ? state.tokens : [...state.tokens, ...pending.inputs],
          pendingSwaps: (state.pendingSwaps ?? []).filter((other) => !isPending(other)),
        },
        value: undefined,
      }));
      throw new TokenPaymentError(
        'swapFailed',
        String(body.detail ?? body.title ?? response.status),
      );
    }
    let tokens: StoredToken[];
    try {
      tokens = finish(pending, keys, body.blindSignatures);
    } catch (error) {
      const detail = error instanceof TokenWithdrawalError ? error.message : String(error);
      throw new TokenPaymentError('swapFailed', detail, true);
    }
    await this.#change((state) => ({
      state: {
        ...state,
        tokens: [...state.tokens, ...tokens],
        pendingSwaps: (state.pendingSwaps ?? []).filter((other) => !isPending(other)),
      },
      value: undefined,
    }));
  }

  /** Sends again every swap with this platform left pending (a lost answer, a crash). */
  async resumeSwaps(): Promise<void> {
    const pending = ((await this.#options.store.load()).pendingSwaps ?? []).filter(
      (swap) => swap.platformUrl === this.#platformUrl.origin,
    );
    if (pending.length === 0) return;
    const keys = await fetchTokenKeys(this.#platformUrl, this.#fetch);
    for (const swap of pending) await this.#send(swap, keys);
  }

  /**
   * Withdraws round batches of `batchMicros` until the free tokens are worth `floatMicros` at
   * least (with the user's session). Called by the application on its own schedule, never by
   * a purchase, so that a withdrawal's time says nothing of what was bought.
   */
  async refill(options: {
    /** Absent in the platform's own pages (the session cookie goes with the request). */
    readonly sessionToken?: string;
    /** Sent as `Mite-Device` (Wallet.deviceId). */
    readonly deviceId?: string;
    readonly floatMicros: bigint;
    readonly batchMicros: bigint;
  }): Promise<bigint> {
    if (options.batchMicros <= 0n) throw new RangeError('batchMicros must be positive');
    let withdrawn = 0n;
    while ((await this.spendableMicros()) < options.floatMicros) {
      await this.#exclusive(() =>
        withdrawTokens({
          platformUrl: this.#platformUrl,
          ...(options.sessionToken === undefined ? {} : { sessionToken: options.sessionToken }),
          ...(options.deviceId === undefined ? {} : { deviceId: options.deviceId }),
          store: this.#options.store,
          fetch: this.#fetch,
          amountMicros: options.batchMicros,
          ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
          ...(this.#options.nowMs === undefined ? {} : { nowMs: this.#options.nowMs }),
        }),
      );
      withdrawn += options.batchMicros;
    }
    return withdrawn;
  }
}
