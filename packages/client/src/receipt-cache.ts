/**
 * The receipts this client keeps, over a `ReceiptStore`, so that a resource bought once opens
 * again without paying: each is kept under the key of the resource it bought and of the URLs that
 * asked for it, for as long as it opens the resource, and dropped wherever it is kept once a
 * merchant refuses it.
 */
import { parsePaymentReceiptHeader, paymentReceiptHeaderName } from '@mite/protocol';
import { type Paid, toStored } from './payer.ts';
import { receiptKeyOf, type ReceiptStore, type StoredReceipt } from './receipt-store.ts';

export class ReceiptCache {
  readonly #store: ReceiptStore;
  readonly #nowSeconds: () => number;

  constructor(store: ReceiptStore, nowSeconds: () => number) {
    this.#store = store;
    this.#nowSeconds = nowSeconds;
  }

  /** The receipt kept under `key`, while it still opens its resource. */
  async live(key: string): Promise<StoredReceipt | undefined> {
    const stored = await this.#store.get(key);
    return stored !== undefined && stored.accessUntil > this.#nowSeconds() ? stored : undefined;
  }

  /** Keeps a new payment's receipt under its resource's key, if it opens it again later. */
  async keepPaid(resourceKey: string, paid: Paid): Promise<void> {
    if (paid.reusable && paid.claims.accessUntil > this.#nowSeconds()) {
      await this.#store.put(resourceKey, toStored(paid, paid.claims.accessUntil));
    }
  }

  /** Drops the receipt of `credential` from each of `keys` where it is kept. */
  async forget(credential: string, keys: Iterable<string>): Promise<void> {
    for (const key of new Set(keys)) {
      const stored = await this.#store.get(key);
      if (stored?.credential === credential) await this.#store.delete(key);
    }
  }

  /** After the merchant accepted a kept receipt: keep it under the URLs asked for, too. */
  async rememberStored(stored: StoredReceipt, keys: Iterable<string>): Promise<void> {
    for (const key of new Set(keys)) {
      const existing = await this.#store.get(key);
      if (existing?.credential !== stored.credential) await this.#store.put(key, stored);
    }
  }

  /**
   * After the merchant accepted a paid credential: keep a reusable one under the URLs asked for
   * and its resource's key, until the access ends.
   */
  async rememberPaid(paid: Paid, response: Response, keys: Iterable<string>): Promise<void> {
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
      await this.forget(paid.credential, allKeys);
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
}

/** The key a stored receipt's resource has on this site, if it reads as a URL there. */
export function sameSiteKey(stored: StoredReceipt, base: URL): string[] {
  try {
    const resource = new URL(stored.resource, base);
    return resource.hostname === base.hostname
      ? [receiptKeyOf(new URL(`${resource.pathname}${resource.search}`, base))]
      : [];
  } catch {
    return [];
  }
}
