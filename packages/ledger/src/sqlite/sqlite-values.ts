import { u128FromBytes, u128ToBytes } from '../storage.ts';

const int64Max = (1n << 63n) - 1n;

export type SqlU128 = bigint | Buffer;

/** A u128 in its canonical SQLite form: INTEGER below 2^63, else a 16-byte big-endian BLOB. */
export function toSqlU128(value: bigint): SqlU128 {
  return value <= int64Max ? value : u128ToBytes(value);
}

export function fromSqlU128(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (value instanceof Uint8Array) {
    const decoded = u128FromBytes(value);
    if (decoded <= int64Max) throw new Error('corrupt store: a small u128 stored as a BLOB');
    return decoded;
  }
  throw new Error(`corrupt store: a u128 stored as ${typeof value}`);
}
