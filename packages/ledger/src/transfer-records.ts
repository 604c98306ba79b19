import { decodeTransferFlags, encodeTransferFlags, u64Mask } from './storage.ts';
import type { TransferRecord } from './types.ts';

/**
 * Transfers in the SQLite store are packed into blocks of fixed-size binary records: one row per
 * block instead of one B-tree entry (and eleven bound columns) per transfer is what lets a
 * durable batch of thousands of transfers cost little more than its fsync. The layout is part of
 * the storage format; all integers are big-endian:
 *
 * | offset | size | field           |
 * | ------ | ---- | --------------- |
 * | 0      | 16   | id              |
 * | 16     | 16   | debitAccountId  |
 * | 32     | 16   | creditAccountId |
 * | 48     | 16   | amount          |
 * | 64     | 16   | pendingId       |
 * | 80     | 16   | userData        |
 * | 96     | 8    | timestamp       |
 * | 104    | 4    | ledger          |
 * | 108    | 4    | code            |
 * | 112    | 4    | timeoutSeconds  |
 * | 116    | 2    | flags           |
 * | 118    | 10   | reserved, zero  |
 */
export const transferRecordSize = 128;

/** Most transfers in one block: small enough that reading one transfer reads little. */
export const blockRecordsMax = 64;

/** A u128 as 16 big-endian bytes at `offset` of `view`. */
export function setU128(view: DataView, offset: number, value: bigint): void {
  view.setBigUint64(offset, value >> 64n);
  view.setBigUint64(offset + 8, value & u64Mask);
}

export function getU128(view: DataView, offset: number): bigint {
  const high = view.getBigUint64(offset);
  const low = view.getBigUint64(offset + 8);
  return high === 0n ? low : (high << 64n) | low;
}

/** Packs transfers (in timestamp order) into one buffer of consecutive records. */
export function encodeTransferRecords(transfers: readonly TransferRecord[]): Buffer {
  const bytes = Buffer.alloc(transfers.length * transferRecordSize);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  transfers.forEach((t, index) => {
    const at = index * transferRecordSize;
    setU128(view, at, t.id);
    setU128(view, at + 16, t.debitAccountId);
    setU128(view, at + 32, t.creditAccountId);
    setU128(view, at + 48, t.amount);
    setU128(view, at + 64, t.pendingId);
    setU128(view, at + 80, t.userData);
    view.setBigUint64(at + 96, t.timestamp);
    view.setUint32(at + 104, t.ledger);
    view.setUint32(at + 108, t.code);
    view.setUint32(at + 112, t.timeoutSeconds);
    view.setUint16(at + 116, encodeTransferFlags(t.flags));
  });
  return bytes;
}

/** The record at `index` of a buffer of records. */
export function decodeTransferRecord(bytes: Uint8Array, index = 0): TransferRecord {
  const at = index * transferRecordSize;
  if (bytes.byteLength < at + transferRecordSize) {
    throw new Error(`corrupt store: transfer record ${index} lies past its block`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: getU128(view, at),
    debitAccountId: getU128(view, at + 16),
    creditAccountId: getU128(view, at + 32),
    amount: getU128(view, at + 48),
    ledger: view.getUint32(at + 104),
    code: view.getUint32(at + 108),
    flags: decodeTransferFlags(view.getUint16(at + 116)),
    pendingId: getU128(view, at + 64),
    timeoutSeconds: view.getUint32(at + 112),
    userData: getU128(view, at + 80),
    timestamp: view.getBigUint64(at + 96),
  };
}

export function decodeTransferRecords(bytes: Uint8Array): TransferRecord[] {
  const count = bytes.byteLength / transferRecordSize;
  if (!Number.isInteger(count)) throw new Error('corrupt store: a transfer block is cut short');
  return Array.from({ length: count }, (_, index) => decodeTransferRecord(bytes, index));
}
