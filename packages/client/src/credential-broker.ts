/**
 * Paying, at most once: a credential for a challenge comes from a payment this instance made for
 * that very challenge, a payment under way or made for the same resource by a concurrent call, a
 * live kept receipt, and only then a new payment through the payer. What is never done twice:
 * - one challenge is never paid twice by one instance (the payer's `#byChallenge`), whoever asks;
 * - concurrent calls for one resource share one payment (`#slots`, one per resource).
 */
import type { Challenge } from '@mite/protocol';
import { MitePaymentError } from './errors.ts';
import type { Paid, Payer, PaymentSite } from './payer.ts';
import type { ReceiptCache } from './receipt-cache.ts';
import type { StoredReceipt } from './receipt-store.ts';

/** A credential to present, and where it came from. */
export type Obtained =
  | { readonly source: 'paid' | 'shared'; readonly credential: string; readonly paid: Paid }
  | { readonly source: 'stored'; readonly credential: string; readonly stored: StoredReceipt };

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

export class CredentialBroker {
  readonly #payer: Payer;
  readonly #receipts: ReceiptCache;
  readonly #nowSeconds: () => number;
  /** Per resource key: the payment under way, or the last one made. */
  readonly #slots = new Map<string, Slot>();

  constructor(payer: Payer, receipts: ReceiptCache, nowSeconds: () => number) {
    this.#payer = payer;
    this.#receipts = receipts;
    this.#nowSeconds = nowSeconds;
  }

  /**
   * A credential for this challenge, by the cheapest way that is still correct, never one of
   * `tried` (those the merchant answered with a 402 already).
   */
  async obtain(
    challenge: Challenge,
    site: PaymentSite,
    tried: ReadonlySet<string>,
  ): Promise<Obtained> {
    const { resourceKey } = site;
    let storeChecked = false;
    for (;;) {
      // Synchronous from here to #lead, so no other call can slip in between the checks and the
      // claim of the resource's slot.
      const paid = this.#payer.paidFor(challenge.id);
      if (paid !== undefined) return this.#paidAlready(paid, tried);
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
        const stored = await this.#receipts.live(resourceKey);
        if (stored !== undefined && !tried.has(stored.credential)) {
          return { source: 'stored', credential: stored.credential, stored };
        }
        continue;
      }
      const mine = await this.#lead(challenge, site);
      return { source: 'paid', credential: mine.credential, paid: mine };
    }
  }

  /**
   * Forgets the payments made with `credential` (a merchant refused it), so that no call shares
   * them again; returns the keys of their resources.
   */
  forgetPaid(credential: string): string[] {
    const resourceKeys: string[] = [];
    for (const [key, slot] of this.#slots) {
      if (slot.outcome?.ok === true && slot.outcome.paid.credential === credential) {
        this.#slots.delete(key);
        resourceKeys.push(slot.outcome.paid.resourceKey);
      }
    }
    return resourceKeys;
  }

  /** The credential of a challenge this instance paid, unless the merchant refused it already. */
  #paidAlready(paid: Paid, tried: ReadonlySet<string>): Obtained {
    if (!tried.has(paid.credential)) return { source: 'shared', credential: paid.credential, paid };
    throw new MitePaymentError(
      'merchantRefused',
      'the merchant asks again for a challenge this client paid already; not paying it twice',
      { paymentId: paid.paymentId, receipt: paid.receipt },
    );
  }

  /** Claims the resource's slot at once (synchronously), then pays. */
  #lead(challenge: Challenge, site: PaymentSite): Promise<Paid> {
    const { resourceKey } = site;
    let finish = (): void => undefined;
    const slot: Slot = { done: new Promise<void>((resolve) => (finish = resolve)) };
    this.#slots.set(resourceKey, slot);
    const payment = this.#pay(challenge, site);
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

  /** Drops the settled payments whose access has ended: nothing would share them any more. */
  #prune(nowSeconds: number): void {
    for (const [key, slot] of this.#slots) {
      const outcome = slot.outcome;
      if (outcome?.ok === true && outcome.paid.claims.accessUntil <= nowSeconds) {
        this.#slots.delete(key);
      }
    }
  }

  /** Pays through the payer, then keeps a reusable receipt under the resource's key. */
  async #pay(challenge: Challenge, site: PaymentSite): Promise<Paid> {
    this.#prune(this.#nowSeconds());
    const paid = await this.#payer.pay(challenge, site);
    await this.#receipts.keepPaid(site.resourceKey, paid);
    return paid;
  }
}
