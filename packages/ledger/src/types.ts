/**
 * The ledger's public shapes. Semantics follow TigerBeetle's accounts and transfers; the exact
 * order of checks is written down in packages/ledger/SEMANTICS.md and both the engine and the
 * reference model in the tests follow it.
 */

/** Largest value of every id, amount and balance: ids and amounts are unsigned 128-bit. */
export const U128_MAX = (1n << 128n) - 1n;

/** Largest `ledger` and `code` value (they are unsigned 32-bit in TigerBeetle; we keep that range). */
export const U32_MAX = 0xffff_ffff;

/** Largest `timeoutSeconds` of a pending transfer (unsigned 32-bit, as in TigerBeetle). */
export const TIMEOUT_SECONDS_MAX = 0xffff_ffff;

export interface AccountFlags {
  /** The event is linked to the next one in its batch: they succeed or fail together. */
  readonly linked?: boolean;
  /** debitsPending + debitsPosted may never exceed creditsPosted (a wallet that cannot go negative). */
  readonly debitsMustNotExceedCredits?: boolean;
  /** creditsPending + creditsPosted may never exceed debitsPosted. */
  readonly creditsMustNotExceedDebits?: boolean;
  /** The account takes no new transfers (voiding a pending transfer is still allowed). */
  readonly closed?: boolean;
}

export interface TransferFlags {
  readonly linked?: boolean;
  /** Reserve the amount (pending balances) until posted, voided or expired. */
  readonly pending?: boolean;
  /** Post a pending transfer named by `pendingId`, for its full amount or part of it. */
  readonly postPending?: boolean;
  /** Void a pending transfer named by `pendingId`, releasing all of it. */
  readonly voidPending?: boolean;
  /** Clamp the amount to what the debit account can pay without exceeding its credits. */
  readonly balancingDebit?: boolean;
  /** Clamp the amount to what the credit account can take without exceeding its debits. */
  readonly balancingCredit?: boolean;
}

/** What a caller submits to create an account. */
export interface Account {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags?: AccountFlags;
  readonly userData?: bigint;
}

/** What a caller submits to create a transfer. */
export interface Transfer {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  readonly amount: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags?: TransferFlags;
  readonly pendingId?: bigint;
  readonly timeoutSeconds?: number;
  readonly userData?: bigint;
}

/** An account as stored, with its balances and the engine's creation timestamp (ns). */
export interface AccountRecord {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags: Required<Omit<AccountFlags, 'linked'>>;
  readonly userData: bigint;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  readonly timestamp: bigint;
}

/**
 * A transfer as stored. Post and void transfers are stored with the accounts, ledger and code of
 * the pending transfer they resolve, and with the amount actually posted (or the amount voided).
 */
export interface TransferRecord {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  readonly amount: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags: Required<Omit<TransferFlags, 'linked'>>;
  readonly pendingId: bigint;
  readonly timeoutSeconds: number;
  readonly userData: bigint;
  readonly timestamp: bigint;
}

export const createAccountResults = [
  'ok',
  'linkedEventFailed',
  'linkedEventChainOpen',
  'idMustNotBeZero',
  'idMustNotBeIntMax',
  'flagsAreMutuallyExclusive',
  'ledgerMustNotBeZero',
  'codeMustNotBeZero',
  'existsWithDifferentFlags',
  'existsWithDifferentUserData',
  'existsWithDifferentLedger',
  'existsWithDifferentCode',
  'exists',
] as const;
export type CreateAccountResult = (typeof createAccountResults)[number];

export const createTransferResults = [
  'ok',
  'linkedEventFailed',
  'linkedEventChainOpen',
  'idMustNotBeZero',
  'idMustNotBeIntMax',
  'flagsAreMutuallyExclusive',
  'debitAccountIdMustNotBeZero',
  'debitAccountIdMustNotBeIntMax',
  'creditAccountIdMustNotBeZero',
  'creditAccountIdMustNotBeIntMax',
  'accountsMustBeDifferent',
  'pendingIdMustBeZero',
  'pendingIdMustNotBeZero',
  'pendingIdMustNotBeIntMax',
  'pendingIdMustBeDifferent',
  'timeoutReservedForPendingTransfer',
  'ledgerMustNotBeZero',
  'codeMustNotBeZero',
  'amountMustNotBeZero',
  'existsWithDifferentFlags',
  'existsWithDifferentPendingId',
  'existsWithDifferentTimeout',
  'existsWithDifferentDebitAccountId',
  'existsWithDifferentCreditAccountId',
  'existsWithDifferentAmount',
  'existsWithDifferentUserData',
  'existsWithDifferentLedger',
  'existsWithDifferentCode',
  'exists',
  'idAlreadyFailed',
  'debitAccountNotFound',
  'creditAccountNotFound',
  'accountsMustHaveTheSameLedger',
  'transferMustHaveTheSameLedgerAsAccounts',
  'pendingTransferNotFound',
  'pendingTransferNotPending',
  'pendingTransferHasDifferentDebitAccountId',
  'pendingTransferHasDifferentCreditAccountId',
  'pendingTransferHasDifferentLedger',
  'pendingTransferHasDifferentCode',
  'exceedsPendingTransferAmount',
  'pendingTransferHasDifferentAmount',
  'pendingTransferAlreadyPosted',
  'pendingTransferAlreadyVoided',
  'pendingTransferExpired',
  'accountClosed',
  'overflowsDebits',
  'overflowsCredits',
  'overflowsTimeout',
  'exceedsCredits',
  'exceedsDebits',
] as const;
export type CreateTransferResult = (typeof createTransferResults)[number];

/**
 * Failures that depend on the ledger's state at the time, not on the event alone. A transfer id
 * that failed with one of these is remembered, and every later event with that id gets
 * `idAlreadyFailed`, so that a retry can never flip a failure into a success.
 */
export const transientTransferResults: ReadonlySet<CreateTransferResult> = new Set([
  'debitAccountNotFound',
  'creditAccountNotFound',
  'pendingTransferNotFound',
  'pendingTransferExpired',
  'accountClosed',
  'overflowsDebits',
  'overflowsCredits',
  'exceedsCredits',
  'exceedsDebits',
]);

/** Status of a pending transfer, as the engine tracks it. */
export type PendingStatus = 'pending' | 'posted' | 'voided' | 'expired';

export interface AccountFilter {
  readonly accountId: bigint;
  /** Inclusive lower bound on the transfer timestamp (ns). */
  readonly timestampMin?: bigint;
  /** Inclusive upper bound on the transfer timestamp (ns). */
  readonly timestampMax?: bigint;
  /** At most this many transfers; at most `accountTransfersLimitMax`. */
  readonly limit: number;
  /** Include transfers that debit the account (default true when neither is given). */
  readonly debits?: boolean;
  /** Include transfers that credit the account (default true when neither is given). */
  readonly credits?: boolean;
  /** Newest first. */
  readonly reversed?: boolean;
}

/** Most transfers one `getAccountTransfers` call returns. */
export const accountTransfersLimitMax = 8190;

export interface VerifyReport {
  readonly ok: boolean;
  readonly problems: string[];
}

export interface Ledger {
  createAccounts(accounts: readonly Account[]): Promise<CreateAccountResult[]>;
  createTransfers(transfers: readonly Transfer[]): Promise<CreateTransferResult[]>;
  lookupAccounts(ids: readonly bigint[]): Promise<AccountRecord[]>;
  lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]>;
  getAccountTransfers(filter: AccountFilter): Promise<TransferRecord[]>;
  verify(): Promise<VerifyReport>;
  close(): Promise<void>;
}
