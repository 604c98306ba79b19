import type {
  AccountFilter,
  AccountRecord,
  CreateTransferResult,
  PendingStatus,
  TransferRecord,
} from './types.ts';

/**
 * The engine is the only writer of a store, so it reads the whole account table once and then
 * keeps balances in memory; the store is written once per batch and read for what memory does
 * not hold (transfers, failed ids, resolved pending transfers).
 */
export interface LedgerStorage {
  readonly kind: 'sqlite' | 'postgres';
  /** Everything the engine keeps in memory, read on open. */
  load(): Promise<StoredState>;
  /** The transfers with these ids (ids not found are absent), their pending status, failed ids. */
  read(ids: readonly bigint[]): Promise<BatchReads>;
  /** Applies one batch in one durable transaction; resolves only once it is durable. */
  write(writes: BatchWrites): Promise<void>;
  lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]>;
  getAccountTransfers(filter: AccountFilter): Promise<TransferRecord[]>;
  /** Every account as stored, for verification. */
  scanAccounts(): Promise<AccountRecord[]>;
  /** Every transfer in timestamp order, in chunks, for verification. */
  scanTransfers(): AsyncIterable<TransferRecord[]>;
  /** Every pending transfer's status, for verification. */
  scanPendingStatuses(): Promise<Map<bigint, PendingStatus>>;
  /**
   * Bounded upkeep the engine runs when it has nothing to write (deriving indexes kept off the
   * hot path); resolves true while more remains to do.
   */
  idle?(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenPending {
  readonly transfer: TransferRecord;
  /** Expiry in engine-clock nanoseconds; 0n when the transfer never expires. */
  readonly expiresAt: bigint;
}

export interface StoredState {
  readonly accounts: AccountRecord[];
  /** Pending transfers whose status is still `pending`. */
  readonly openPendings: OpenPending[];
  /** The largest timestamp of any account or transfer, 0n for an empty store. */
  readonly lastTimestamp: bigint;
  /**
   * The largest id of any stored or failed transfer, if the store can tell cheaply. Transfer ids
   * are time-ordered, so most new ids are above it and need no look-up at all.
   */
  readonly maxTransferId?: bigint;
}

export interface BatchReads {
  readonly transfers: Map<bigint, TransferRecord>;
  /** Status of each found transfer that has the `pending` flag. */
  readonly pendingStatuses: Map<bigint, PendingStatus>;
  readonly failedIds: Set<bigint>;
}

export interface BatchWrites {
  readonly accountsCreated: AccountRecord[];
  /** New balances of every existing account the batch touched, once each. */
  readonly accountsUpdated: AccountRecord[];
  readonly transfersCreated: TransferRecord[];
  readonly failedIds: { readonly id: bigint; readonly result: CreateTransferResult }[];
  /** New pending transfers, with their expiry (0n: never). */
  readonly pendingsCreated: { readonly id: bigint; readonly expiresAt: bigint }[];
  /** Status changes of pending transfers (created earlier or in this batch). */
  readonly pendingsResolved: { readonly id: bigint; readonly status: PendingStatus }[];
  /**
   * Answers to submissions another node forwarded (PostgreSQL only), written in the batch's own
   * transaction: a forwarded submission is answered exactly when its effects are durable.
   */
  readonly forwardedResults?: readonly ForwardedResult[];
}

export interface ForwardedResult {
  readonly requestId: bigint;
  /** The result codes, as JSON. */
  readonly results: string;
}

export function isEmptyWrites(writes: BatchWrites): boolean {
  return (
    writes.accountsCreated.length === 0 &&
    writes.accountsUpdated.length === 0 &&
    writes.transfersCreated.length === 0 &&
    writes.failedIds.length === 0 &&
    writes.pendingsCreated.length === 0 &&
    writes.pendingsResolved.length === 0 &&
    (writes.forwardedResults?.length ?? 0) === 0
  );
}

/** Flags are stored as bit sets; the bit positions are part of the storage format. */
export const accountFlagBits = {
  debitsMustNotExceedCredits: 1 << 1,
  creditsMustNotExceedDebits: 1 << 2,
  closed: 1 << 3,
} as const;

export const transferFlagBits = {
  pending: 1 << 1,
  postPending: 1 << 2,
  voidPending: 1 << 3,
  balancingDebit: 1 << 4,
  balancingCredit: 1 << 5,
} as const;

export const pendingStatusCodes: Record<PendingStatus, number> = {
  pending: 1,
  posted: 2,
  voided: 3,
  expired: 4,
};

export function pendingStatusFromCode(code: number): PendingStatus {
  switch (code) {
    case 1:
      return 'pending';
    case 2:
      return 'posted';
    case 3:
      return 'voided';
    case 4:
      return 'expired';
    default:
      throw new Error(`corrupt store: unknown pending status code ${code}`);
  }
}

export function encodeAccountFlags(flags: AccountRecord['flags']): number {
  let bits = 0;
  if (flags.debitsMustNotExceedCredits) bits |= accountFlagBits.debitsMustNotExceedCredits;
  if (flags.creditsMustNotExceedDebits) bits |= accountFlagBits.creditsMustNotExceedDebits;
  if (flags.closed) bits |= accountFlagBits.closed;
  return bits;
}

export function decodeAccountFlags(bits: number): AccountRecord['flags'] {
  return {
    debitsMustNotExceedCredits: (bits & accountFlagBits.debitsMustNotExceedCredits) !== 0,
    creditsMustNotExceedDebits: (bits & accountFlagBits.creditsMustNotExceedDebits) !== 0,
    closed: (bits & accountFlagBits.closed) !== 0,
  };
}

export function encodeTransferFlags(flags: TransferRecord['flags']): number {
  let bits = 0;
  if (flags.pending) bits |= transferFlagBits.pending;
  if (flags.postPending) bits |= transferFlagBits.postPending;
  if (flags.voidPending) bits |= transferFlagBits.voidPending;
  if (flags.balancingDebit) bits |= transferFlagBits.balancingDebit;
  if (flags.balancingCredit) bits |= transferFlagBits.balancingCredit;
  return bits;
}

export function decodeTransferFlags(bits: number): TransferRecord['flags'] {
  return {
    pending: (bits & transferFlagBits.pending) !== 0,
    postPending: (bits & transferFlagBits.postPending) !== 0,
    voidPending: (bits & transferFlagBits.voidPending) !== 0,
    balancingDebit: (bits & transferFlagBits.balancingDebit) !== 0,
    balancingCredit: (bits & transferFlagBits.balancingCredit) !== 0,
  };
}

export const u64Mask = (1n << 64n) - 1n;

/** A u128 as 16 big-endian bytes: compact, and byte order equals numeric order. */
export function u128ToBytes(value: bigint): Buffer {
  const bytes = Buffer.allocUnsafe(16);
  bytes.writeBigUInt64BE(value >> 64n, 0);
  bytes.writeBigUInt64BE(value & u64Mask, 8);
  return bytes;
}

export function u128FromBytes(bytes: Uint8Array): bigint {
  if (bytes.length !== 16) throw new Error(`corrupt store: u128 of ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return (view.getBigUint64(0) << 64n) | view.getBigUint64(8);
}

/** A u128 as a UUID string, PostgreSQL's native 16-byte type. */
export function u128ToUuid(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function u128FromUuid(uuid: string): bigint {
  return BigInt(`0x${uuid.replaceAll('-', '')}`);
}
