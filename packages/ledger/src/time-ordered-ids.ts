import { randomBytes } from 'node:crypto';

/** Bits below the millisecond part of a time-ordered id. */
const randomBits = 80n;
const randomMask = (1n << randomBits) - 1n;

/**
 * Time-ordered 128-bit ids as DESIGN.md section 3 asks of clients: 48 bits of milliseconds, then
 * 80 random bits. Within one millisecond the random part counts up from a random start (as a
 * monotonic UUIDv7 generator does), so every id is unique and larger than the one before.
 */
export class TimeOrderedIds {
  private ms = -1;
  private high = 0n;
  private low = 0n;

  next(): bigint {
    const now = Date.now();
    if (now > this.ms) {
      this.ms = now;
      this.high = BigInt(now) << randomBits;
      // The top random bit starts clear, so counting up within a millisecond cannot carry into
      // the millisecond part.
      this.low = BigInt(`0x${randomBytes(10).toString('hex')}`) & (randomMask >> 1n);
    } else {
      this.low += 1n;
    }
    return this.high | this.low;
  }
}
