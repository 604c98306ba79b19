/**
 * PayWord hash chains (Rivest and Shamir, 1996) for vouchers at a fixed price per unit. The client
 * draws a random seed and hashes it `length` times; the last hash, the anchor, is committed in the
 * platform's session grant at open. The word for `units` paid is the seed hashed `length - units`
 * times, so each further unit reveals the previous hash's preimage: a merchant that accepted the
 * word for `j` units checks the word for `k > j` units with `k - j` SHA-256 computations, and
 * nobody but the holder of the seed can name a word beyond the last one revealed.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Bytes of a chain word: one SHA-256. */
export const paywordWordLength = 32;
/**
 * The longest chain a session commits to (units). The client keeps the whole chain in memory
 * (32 bytes a unit: 3.2 MB at this length), and a session needing more units opens a new one.
 */
export const paywordChainLengthMax = 100_000;
/** Seeds are at least as long as a word, so that the chain's first preimage cannot be guessed. */
export const paywordSeedLengthMin = 32;

/** A client's chain: its anchor, and the word that pays for a number of units. */
export interface PaywordChain {
  readonly length: number;
  readonly anchor: Uint8Array;
  /** The word for `units` paid (0 is the anchor). */
  word(units: number): Uint8Array;
}

/** Builds the chain of `length` units from a secret seed (the caller draws it at random). */
export function paywordChain(seed: Uint8Array, length: number): PaywordChain {
  if (!(seed instanceof Uint8Array) || seed.length < paywordSeedLengthMin) {
    throw new RangeError(`a PayWord seed is at least ${paywordSeedLengthMin} bytes`);
  }
  if (!Number.isSafeInteger(length) || length < 1 || length > paywordChainLengthMax) {
    throw new RangeError(`a PayWord chain is 1 to ${paywordChainLengthMax} units long`);
  }
  // words[i] is the word for i units: words[length] = H(seed), words[i] = H(words[i + 1]).
  const words = new Uint8Array((length + 1) * paywordWordLength);
  let current = sha256(seed);
  words.set(current, length * paywordWordLength);
  for (let units = length - 1; units >= 0; units -= 1) {
    current = sha256(current);
    words.set(current, units * paywordWordLength);
  }
  const wordAt = (units: number): Uint8Array => {
    if (!Number.isSafeInteger(units) || units < 0 || units > length) {
      throw new RangeError(`units must be 0 to ${length}`);
    }
    return words.slice(units * paywordWordLength, (units + 1) * paywordWordLength);
  };
  return { length, anchor: wordAt(0), word: wordAt };
}

/**
 * Whether `word` pays for `units` given the accepted `knownWord` for `knownUnits`: hashing it
 * `units - knownUnits` times gives the known word. The caller bounds `units` (by the deposit and
 * the chain's length) before calling, since each step costs one hash.
 */
export function paywordWordMatches(
  word: Uint8Array,
  units: number,
  knownWord: Uint8Array,
  knownUnits: number,
): boolean {
  if (word.length !== paywordWordLength || knownWord.length !== paywordWordLength) return false;
  if (!Number.isSafeInteger(units) || !Number.isSafeInteger(knownUnits) || units <= knownUnits) {
    return false;
  }
  let current = word;
  for (let step = knownUnits; step < units; step += 1) current = sha256(current);
  let difference = 0;
  for (let index = 0; index < paywordWordLength; index += 1) {
    difference |= (current[index] ?? 0) ^ (knownWord[index] ?? 0);
  }
  return difference === 0;
}
