/**
 * Where the client keeps receipts that still open their resource, so that a resource bought once
 * opens again without paying. Keys are `origin + path + query` of a URL (see `receiptKeyOf`).
 */

/** A purchase that keeps its resource open until `accessUntil`. */
export interface StoredReceipt {
  /** The `Authorization` value to send: `Payment <credential>`. */
  readonly credential: string;
  /**
   * Seconds since the epoch: the resource stays open until then (exclusive). Named as in the
   * receipt's claims and without the unit suffix other times carry, because stores keep this
   * object as it is (the CLI's receipts file, IndexedDB): renaming it would forget saved receipts.
   */
  readonly accessUntil: number;
  readonly paymentId: string;
  /** The platform's receipt (compact JWS). */
  readonly receipt: string;
  /** The resource as the challenge named it. */
  readonly resource: string;
  readonly challengeId: string;
}

/**
 * Receipt storage. Methods may return promises (IndexedDB, a file, a database); the client awaits
 * them. `get` may return expired entries: the client checks `accessUntil` itself.
 */
export interface ReceiptStore {
  get(key: string): StoredReceipt | undefined | Promise<StoredReceipt | undefined>;
  put(key: string, receipt: StoredReceipt): void | Promise<void>;
  delete(key: string): void | Promise<void>;
}

/** The key of a URL: origin, path and query, without the fragment. */
export function receiptKeyOf(url: URL | string): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.origin}${parsed.pathname}${parsed.search}`;
}

/**
 * The default store: a Map in memory, for the life of the instance. Expired entries are dropped
 * when read, and the oldest are dropped beyond `maxEntries`.
 */
export class MemoryReceiptStore implements ReceiptStore {
  readonly #entries = new Map<string, StoredReceipt>();
  readonly #maxEntries: number;
  readonly #nowSeconds: () => number;

  constructor(options: { readonly maxEntries?: number; readonly nowSeconds?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#nowSeconds = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  get(key: string): StoredReceipt | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.accessUntil <= this.#nowSeconds()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  put(key: string, receipt: StoredReceipt): void {
    this.#entries.delete(key);
    this.#entries.set(key, receipt);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
