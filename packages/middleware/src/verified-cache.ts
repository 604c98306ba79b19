/**
 * A bounded cache of credentials whose expensive checks have passed: the decoding of the
 * credential, the challenge's HMAC and the receipt's signature. A ticket (a receipt with an access
 * period) is shown again and again; with this cache each showing costs a lookup instead of all of
 * that. Everything that depends on the request or on the time is judged again on every request by
 * the caller; this only remembers what the credential text alone proves.
 *
 * An entry answers only the exact text it was stored for, from the same header: the text is kept
 * and compared in full (a text longer than `credentialKeyTextLengthMax` by its SHA-256 instead, so
 * that no entry holds more than that). The map is keyed by the text's last
 * `credentialKeyTailLength` characters, which hold the receipt's signature, so that a lookup hashes
 * a few dozen characters rather than a header of a thousand; two texts with the same tail (one
 * receipt shown with two challenges, or in both headers) share a slot, the later replacing the
 * earlier.
 *
 * Each entry lives until its own expiry (the receipt's `accessUntil`, or a single-use receipt's
 * redemption deadline), after which the receipt is refused by its times anyway. When full, the
 * oldest entry not used since eviction last passed it goes (CLOCK, close to least recently used). Only credentials that passed the checks are stored, so filling
 * the cache takes real payments (or re-spellings of one; they only push older entries out).
 */
import { createHash } from 'node:crypto';
import type { CredentialSource } from './credential-source.ts';

/** How many verified credentials the paywall remembers by default. */
export const verifiedCacheSizeMax = 10_000;
/**
 * Credential texts up to this many characters are kept whole and compared as they are; longer
 * ones (up to the protocol's 12,288) by their SHA-256. A platform receipt's credential is about
 * 1,300 characters.
 */
export const credentialKeyTextLengthMax = 4096;
/** The characters at the end of a credential text that its slot in the map is found by. */
export const credentialKeyTailLength = 64;

export interface VerifiedCacheEntry {
  /** Seconds since the epoch; the entry is not returned at or after this time. */
  readonly expiresAtSeconds: number;
}

export interface VerifiedCache<Entry extends VerifiedCacheEntry> {
  /** The live entry stored for this very text from this header, now the most recently used. */
  get(via: CredentialSource, text: string, nowSeconds: number): Entry | undefined;
  set(via: CredentialSource, text: string, entry: Entry): void;
  delete(via: CredentialSource, text: string): void;
  /** Keeps only the entries for which `keep` answers true. */
  retain(keep: (entry: Entry) => boolean): void;
  /** Entries held now, expired ones not yet dropped included: for tests and monitoring. */
  readonly size: number;
}

interface Slot<Entry> {
  /** Set by a hit, cleared when eviction passes over the slot (a second chance). */
  used: boolean;
  readonly via: CredentialSource;
  /** The text itself, or for a long text its SHA-256. */
  readonly fingerprint: string;
  readonly hashed: boolean;
  readonly entry: Entry;
}

// The header is compared in the slot, not made part of the key: a key built by concatenation
// would cost a copy on every lookup.
function slotKey(text: string): string {
  return text.slice(-credentialKeyTailLength);
}

function isLong(text: string): boolean {
  return text.length > credentialKeyTextLengthMax;
}

function fingerprintOf(text: string): string {
  return isLong(text) ? createHash('sha256').update(text).digest('base64') : text;
}

function answers<Entry>(slot: Slot<Entry>, via: CredentialSource, text: string): boolean {
  return (
    slot.via === via && slot.hashed === isLong(text) && slot.fingerprint === fingerprintOf(text)
  );
}

/** A cache of at most `sizeMax` entries; 0 stores nothing. */
export function createVerifiedCache<Entry extends VerifiedCacheEntry>(
  sizeMax: number = verifiedCacheSizeMax,
): VerifiedCache<Entry> {
  if (!Number.isSafeInteger(sizeMax) || sizeMax < 0) {
    throw new RangeError('verifiedCacheSizeMax is a whole number, 0 to turn the cache off');
  }
  // Map order is insertion order. Eviction takes the front, but gives a slot used since it was
  // last passed over a second chance at the back (the CLOCK approximation of least recently
  // used), so that a hit costs a flag rather than moving the slot.
  const slots = new Map<string, Slot<Entry>>();

  function evictOne(): void {
    for (;;) {
      const oldest = slots.entries().next();
      if (oldest.done === true) return;
      const [key, slot] = oldest.value;
      slots.delete(key);
      if (!slot.used) return;
      slot.used = false;
      slots.set(key, slot);
    }
  }

  return {
    get(via, text, nowSeconds) {
      const key = slotKey(text);
      const slot = slots.get(key);
      if (slot === undefined || !answers(slot, via, text)) return undefined;
      if (nowSeconds >= slot.entry.expiresAtSeconds) {
        slots.delete(key);
        return undefined;
      }
      slot.used = true;
      return slot.entry;
    },
    set(via, text, entry) {
      if (sizeMax === 0) return;
      const key = slotKey(text);
      slots.delete(key);
      while (slots.size >= sizeMax) evictOne();
      const fingerprint = fingerprintOf(text);
      slots.set(key, { used: false, via, fingerprint, hashed: isLong(text), entry });
    },
    delete(via, text) {
      const key = slotKey(text);
      const slot = slots.get(key);
      if (slot !== undefined && answers(slot, via, text)) slots.delete(key);
    },
    retain(keep) {
      for (const [key, slot] of slots) {
        if (!keep(slot.entry)) slots.delete(key);
      }
    },
    get size() {
      return slots.size;
    },
  };
}
