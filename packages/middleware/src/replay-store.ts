/**
 * Where the middleware remembers which single-use receipts have been spent. The default lives in
 * memory, bounded; a merchant running several processes plugs a shared store (Redis `SET NX PX`,
 * a database row with a unique key) behind the same two calls.
 */

/**
 * A set of spent receipts. `claim` records a key unless it is held already, atomically: it
 * answers true to exactly one of any number of concurrent claims of one key. A claim may be
 * forgotten once `expiresAtMs` has passed, because the middleware refuses the receipt by its
 * times from then on. `release` gives a claim back (the merchant failed to deliver).
 */
export interface ReplayStore {
  claim(key: string, expiresAtMs: number): boolean | Promise<boolean>;
  release(key: string): void | Promise<void>;
}

/** How many live claims the in-memory store holds before it forgets the oldest. */
export const replayCacheSizeMax = 100_000;

export interface MemoryReplayStoreOptions {
  /** Milliseconds since the epoch; the same clock as the paywall's. */
  readonly clock?: () => number;
  readonly sizeMax?: number;
}

export interface MemoryReplayStore extends ReplayStore {
  claim(key: string, expiresAtMs: number): boolean;
  release(key: string): void;
  /** Claims held now, expired ones not yet swept included: for monitoring. */
  readonly size: number;
}

/**
 * The in-memory store. Claims are kept in insertion order, which is close to expiry order because
 * every claim lives for about one challenge lifetime, so sweeping from the front is cheap.
 *
 * When it is full of live claims it forgets the oldest rather than refusing the new one: a refusal
 * would turn away a customer who has just paid, while forgetting exposes one receipt that is
 * nearly past its redemption deadline, and filling the store takes `sizeMax` real payments.
 */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions = {}): MemoryReplayStore {
  const clock = options.clock ?? Date.now;
  const sizeMax = options.sizeMax ?? replayCacheSizeMax;
  if (!Number.isSafeInteger(sizeMax) || sizeMax < 1) {
    throw new RangeError('a replay store holds at least one claim');
  }
  const expiries = new Map<string, number>();

  function sweep(nowMs: number): void {
    for (const [key, expiresAtMs] of expiries) {
      if (expiresAtMs > nowMs) return;
      expiries.delete(key);
    }
  }

  return {
    claim(key, expiresAtMs) {
      const nowMs = clock();
      sweep(nowMs);
      const held = expiries.get(key);
      if (held !== undefined && held > nowMs) return false;
      // Delete first so that a key claimed again after its expiry moves to the back.
      expiries.delete(key);
      while (expiries.size >= sizeMax) {
        const oldest = expiries.keys().next();
        if (oldest.done === true) break;
        expiries.delete(oldest.value);
      }
      expiries.set(key, expiresAtMs);
      return true;
    },
    release(key) {
      expiries.delete(key);
    },
    get size() {
      return expiries.size;
    },
  };
}
