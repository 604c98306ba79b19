/**
 * Where a client keeps its tokens, and the withdrawals it has sent but not finished: each token
 * is money to whoever holds it, and a pending withdrawal's blinding state is what turns its
 * signatures into tokens, so a store must keep both as it would keep cash (the CLI's file is
 * readable by its owner only). `save` replaces the whole state and must be atomic.
 */

/** A token: a random message and the platform's signature on it under a key of a denomination. */
export interface StoredToken {
  readonly keyId: string;
  /** Micro-units, decimal. */
  readonly denominationMicros: string;
  /** base64url. */
  readonly message: string;
  readonly signature: string;
  /** ISO 8601: after this the platform no longer takes it. */
  readonly redeemUntil: string;
}

/** A withdrawal sent (or about to be) whose signatures have not been turned into tokens yet. */
export interface PendingWithdrawal {
  readonly idempotencyKey: string;
  readonly platformUrl: string;
  readonly outputs: readonly {
    readonly keyId: string;
    readonly denominationMicros: string;
    readonly redeemUntil: string;
    readonly message: string;
    readonly blindedMessage: string;
    readonly inverse: string;
  }[];
}

/**
 * A swap sent (or about to be) whose signatures have not been turned into tokens yet: its inputs
 * are out of `tokens` (the platform may have spent them) and its outputs' blinding state is here,
 * so that sending it again (the same inputs and outputs, answered with the same signatures)
 * finishes it.
 */
export interface PendingSwap {
  readonly platformUrl: string;
  readonly inputs: readonly StoredToken[];
  readonly outputs: PendingWithdrawal['outputs'];
}

/**
 * Tokens handed to a page that presents them to a merchant, which this store will not hear the
 * answer of (the platform's payment window hands a credential to the site's page): kept until
 * `TokenPurse.reclaimHandedOver` finds out, long after the credential's challenge ended,
 * whether the merchant took them (spent: dropped) or not (swapped for fresh ones).
 */
export interface HandedOverTokens {
  /** ISO 8601: when they were handed over. */
  readonly at: string;
  readonly tokens: readonly StoredToken[];
}

export interface TokenState {
  readonly tokens: readonly StoredToken[];
  readonly pendingWithdrawals: readonly PendingWithdrawal[];
  /** Absent in stores written before swaps: read as none. */
  readonly pendingSwaps?: readonly PendingSwap[];
  /** Absent in stores written before hand-overs: read as none. */
  readonly handedOver?: readonly HandedOverTokens[];
}

export interface TokenStore {
  load(): Promise<TokenState>;
  save(state: TokenState): Promise<void>;
}

export const emptyTokenState: TokenState = { tokens: [], pendingWithdrawals: [] };

/** A store in memory (tests, a browser tab that keeps nothing). */
export function memoryTokenStore(initial: TokenState = emptyTokenState): TokenStore {
  let state = initial;
  return {
    load: async () => state,
    save: async (next) => {
      state = next;
    },
  };
}

/** What the tokens are worth together, in micro-units. */
export function tokensValueMicros(state: TokenState): bigint {
  return state.tokens.reduce((sum, token) => sum + BigInt(token.denominationMicros), 0n);
}
