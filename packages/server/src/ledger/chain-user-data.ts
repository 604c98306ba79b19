/**
 * Which record a ledger transfer belongs to, written into the transfer's `userData` (128 bits):
 * the UUID of the payment (`pay_<uuid>`) or refund (`ref_<uuid>`) whose chain it is a leg of.
 * Every leg of one chain carries the same value, so that a wallet's history can show the legs of
 * one purchase as one movement and name it by its merchant (wallets/wallet-movements.ts), with
 * one lookup by primary key. Transfers made before this carry 0, which names no record.
 */

/** The record kinds whose chains carry their id, by their id's prefix. */
export type ChainRecordPrefix = 'pay_' | 'ref_';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The `userData` of a payment's or refund's transfers: its id's UUID as a 128-bit number; 0 for
 * an id that is not a prefix and a UUID (one written by hand, as some tests do), whose legs are
 * then shown apart.
 */
export function chainUserData(recordId: string): bigint {
  const uuid = recordId.slice(4);
  if (!(recordId.startsWith('pay_') || recordId.startsWith('ref_')) || !uuidPattern.test(uuid)) {
    return 0n;
  }
  return BigInt(`0x${uuid.replaceAll('-', '')}`);
}

/** The id of the record with this prefix whose chain carries `userData`; undefined for 0. */
export function chainRecordId(prefix: ChainRecordPrefix, userData: bigint): string | undefined {
  if (userData <= 0n || userData >= 1n << 128n) return undefined;
  const hex = userData.toString(16).padStart(32, '0');
  const uuid = [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-');
  return `${prefix}${uuid}`;
}
