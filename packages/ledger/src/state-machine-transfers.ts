import type { BatchOverlay } from './state-machine.ts';
import {
  type AccountRecord,
  type CreateTransferResult,
  type TransferRecord,
  U128_MAX,
} from './types.ts';
import type { TransferEvent } from './validate.ts';

const nsPerSecond = 1_000_000_000n;
/** Timestamps and expiries are signed 64-bit in both stores: nanoseconds until the year 2262. */
const timestampMax = (1n << 63n) - 1n;

/** createTransfers checks, in the order of SEMANTICS.md; changes nothing unless it returns ok. */
export function applyTransfer(overlay: BatchOverlay, event: TransferEvent): CreateTransferResult {
  if (event.id === 0n) return 'idMustNotBeZero';
  if (event.id === U128_MAX) return 'idMustNotBeIntMax';
  const phases = Number(event.pending) + Number(event.postPending) + Number(event.voidPending);
  const balancing = event.balancingDebit || event.balancingCredit;
  if (phases > 1 || (balancing && (event.postPending || event.voidPending))) {
    return 'flagsAreMutuallyExclusive';
  }
  return event.postPending || event.voidPending
    ? applyResolve(overlay, event)
    : applySinglePhase(overlay, event);
}

function validateSinglePhase(event: TransferEvent): CreateTransferResult | undefined {
  if (event.debitAccountId === 0n) return 'debitAccountIdMustNotBeZero';
  if (event.debitAccountId === U128_MAX) return 'debitAccountIdMustNotBeIntMax';
  if (event.creditAccountId === 0n) return 'creditAccountIdMustNotBeZero';
  if (event.creditAccountId === U128_MAX) return 'creditAccountIdMustNotBeIntMax';
  if (event.debitAccountId === event.creditAccountId) return 'accountsMustBeDifferent';
  if (event.pendingId !== 0n) return 'pendingIdMustBeZero';
  if (event.timeoutSeconds !== 0 && !event.pending) return 'timeoutReservedForPendingTransfer';
  if (event.ledger === 0) return 'ledgerMustNotBeZero';
  if (event.code === 0) return 'codeMustNotBeZero';
  if (event.amount === 0n && !event.balancingDebit && !event.balancingCredit) {
    return 'amountMustNotBeZero';
  }
  return undefined;
}

function applySinglePhase(overlay: BatchOverlay, event: TransferEvent): CreateTransferResult {
  const invalid = validateSinglePhase(event);
  if (invalid !== undefined) return invalid;
  const existing = overlay.transfer(event.id);
  if (existing !== undefined) return compareSinglePhase(event, existing);
  if (overlay.isFailed(event.id)) return 'idAlreadyFailed';
  const dr = overlay.account(event.debitAccountId);
  if (dr === undefined) return 'debitAccountNotFound';
  const cr = overlay.account(event.creditAccountId);
  if (cr === undefined) return 'creditAccountNotFound';
  if (dr.ledger !== cr.ledger) return 'accountsMustHaveTheSameLedger';
  if (event.ledger !== dr.ledger) return 'transferMustHaveTheSameLedgerAsAccounts';
  if (dr.flags.closed || cr.flags.closed) return 'accountClosed';
  const amount = effectiveAmount(event, dr, cr);
  const timestamp = overlay.nextTimestamp();
  const expiresAt = event.pending
    ? event.timeoutSeconds === 0
      ? 0n
      : timestamp + BigInt(event.timeoutSeconds) * nsPerSecond
    : undefined;
  if (expiresAt !== undefined && expiresAt > timestampMax) return 'overflowsTimeout';
  const limit = checkLimits(dr, cr, amount);
  if (limit !== undefined) return limit;
  if (event.pending) {
    overlay.addBalance(dr.id, 'debitsPending', amount);
    overlay.addBalance(cr.id, 'creditsPending', amount);
  } else {
    overlay.addBalance(dr.id, 'debitsPosted', amount);
    overlay.addBalance(cr.id, 'creditsPosted', amount);
  }
  overlay.createTransfer(toRecord(event, { amount, timestamp }), expiresAt);
  return 'ok';
}

function effectiveAmount(event: TransferEvent, dr: AccountRecord, cr: AccountRecord): bigint {
  let amount = event.amount;
  if (!event.balancingDebit && !event.balancingCredit) return amount;
  if (amount === 0n) amount = U128_MAX;
  if (event.balancingDebit) {
    const room = dr.creditsPosted - dr.debitsPosted - dr.debitsPending;
    amount = minimum(amount, room > 0n ? room : 0n);
  }
  if (event.balancingCredit) {
    const room = cr.debitsPosted - cr.creditsPosted - cr.creditsPending;
    amount = minimum(amount, room > 0n ? room : 0n);
  }
  return amount;
}

function checkLimits(
  dr: AccountRecord,
  cr: AccountRecord,
  amount: bigint,
): CreateTransferResult | undefined {
  const debits = dr.debitsPending + dr.debitsPosted + amount;
  const credits = cr.creditsPending + cr.creditsPosted + amount;
  if (debits > U128_MAX) return 'overflowsDebits';
  if (credits > U128_MAX) return 'overflowsCredits';
  if (dr.flags.debitsMustNotExceedCredits && debits > dr.creditsPosted) return 'exceedsCredits';
  if (cr.flags.creditsMustNotExceedDebits && credits > cr.debitsPosted) return 'exceedsDebits';
  return undefined;
}

function compareSinglePhase(event: TransferEvent, existing: TransferRecord): CreateTransferResult {
  const common = compareFlagsAndPendingId(event, existing);
  if (common !== undefined) return common;
  if (existing.timeoutSeconds !== event.timeoutSeconds) return 'existsWithDifferentTimeout';
  if (existing.debitAccountId !== event.debitAccountId) return 'existsWithDifferentDebitAccountId';
  if (existing.creditAccountId !== event.creditAccountId) {
    return 'existsWithDifferentCreditAccountId';
  }
  const balancing = event.balancingDebit || event.balancingCredit;
  const amountDiffers = balancing
    ? event.amount !== 0n && existing.amount > event.amount
    : existing.amount !== event.amount;
  if (amountDiffers) return 'existsWithDifferentAmount';
  if (existing.userData !== event.userData) return 'existsWithDifferentUserData';
  if (existing.ledger !== event.ledger) return 'existsWithDifferentLedger';
  if (existing.code !== event.code) return 'existsWithDifferentCode';
  return 'exists';
}

function compareFlagsAndPendingId(
  event: TransferEvent,
  existing: TransferRecord,
): CreateTransferResult | undefined {
  const flags = existing.flags;
  if (
    flags.pending !== event.pending ||
    flags.postPending !== event.postPending ||
    flags.voidPending !== event.voidPending ||
    flags.balancingDebit !== event.balancingDebit ||
    flags.balancingCredit !== event.balancingCredit
  ) {
    return 'existsWithDifferentFlags';
  }
  if (existing.pendingId !== event.pendingId) return 'existsWithDifferentPendingId';
  return undefined;
}

/** A post or void of a pending transfer: SEMANTICS.md's second list of checks. */
function applyResolve(overlay: BatchOverlay, event: TransferEvent): CreateTransferResult {
  if (event.pendingId === 0n) return 'pendingIdMustNotBeZero';
  if (event.pendingId === U128_MAX) return 'pendingIdMustNotBeIntMax';
  if (event.pendingId === event.id) return 'pendingIdMustBeDifferent';
  if (event.timeoutSeconds !== 0) return 'timeoutReservedForPendingTransfer';
  const existing = overlay.transfer(event.id);
  if (existing !== undefined) return compareResolve(event, existing);
  if (overlay.isFailed(event.id)) return 'idAlreadyFailed';
  const pending = overlay.transfer(event.pendingId);
  if (pending === undefined) return 'pendingTransferNotFound';
  if (!pending.flags.pending) return 'pendingTransferNotPending';
  const mismatch = comparePending(event, pending);
  if (mismatch !== undefined) return mismatch;
  const status = overlay.pendingStatus(pending.id);
  if (status === 'posted') return 'pendingTransferAlreadyPosted';
  if (status === 'voided') return 'pendingTransferAlreadyVoided';
  if (status === 'expired') return 'pendingTransferExpired';
  if (status !== 'pending') throw new Error(`bug: pending transfer ${pending.id} has no status`);
  const dr = overlay.account(pending.debitAccountId);
  const cr = overlay.account(pending.creditAccountId);
  if (dr === undefined || cr === undefined)
    throw new Error('bug: pending transfer lost an account');
  if (event.postPending && (dr.flags.closed || cr.flags.closed)) return 'accountClosed';
  const amount = event.voidPending || event.amount === 0n ? pending.amount : event.amount;
  overlay.addBalance(dr.id, 'debitsPending', -pending.amount);
  overlay.addBalance(cr.id, 'creditsPending', -pending.amount);
  if (event.postPending) {
    overlay.addBalance(dr.id, 'debitsPosted', amount);
    overlay.addBalance(cr.id, 'creditsPosted', amount);
  }
  overlay.setPendingStatus(pending.id, event.postPending ? 'posted' : 'voided');
  const record = toRecord(event, { amount, timestamp: overlay.nextTimestamp() });
  overlay.createTransfer(
    {
      ...record,
      debitAccountId: pending.debitAccountId,
      creditAccountId: pending.creditAccountId,
      ledger: pending.ledger,
      code: pending.code,
    },
    undefined,
  );
  return 'ok';
}

function comparePending(
  event: TransferEvent,
  pending: TransferRecord,
): CreateTransferResult | undefined {
  if (event.debitAccountId !== 0n && event.debitAccountId !== pending.debitAccountId) {
    return 'pendingTransferHasDifferentDebitAccountId';
  }
  if (event.creditAccountId !== 0n && event.creditAccountId !== pending.creditAccountId) {
    return 'pendingTransferHasDifferentCreditAccountId';
  }
  if (event.ledger !== 0 && event.ledger !== pending.ledger) {
    return 'pendingTransferHasDifferentLedger';
  }
  if (event.code !== 0 && event.code !== pending.code) return 'pendingTransferHasDifferentCode';
  if (event.postPending && event.amount > pending.amount) return 'exceedsPendingTransferAmount';
  if (event.voidPending && event.amount !== 0n && event.amount !== pending.amount) {
    return 'pendingTransferHasDifferentAmount';
  }
  return undefined;
}

function compareResolve(event: TransferEvent, existing: TransferRecord): CreateTransferResult {
  const common = compareFlagsAndPendingId(event, existing);
  if (common !== undefined) return common;
  const differs = (value: bigint | number, stored: bigint | number) =>
    value !== 0 && value !== 0n && value !== stored;
  if (differs(event.debitAccountId, existing.debitAccountId)) {
    return 'existsWithDifferentDebitAccountId';
  }
  if (differs(event.creditAccountId, existing.creditAccountId)) {
    return 'existsWithDifferentCreditAccountId';
  }
  if (differs(event.amount, existing.amount)) return 'existsWithDifferentAmount';
  if (differs(event.userData, existing.userData)) return 'existsWithDifferentUserData';
  if (differs(event.ledger, existing.ledger)) return 'existsWithDifferentLedger';
  if (differs(event.code, existing.code)) return 'existsWithDifferentCode';
  return 'exists';
}

function toRecord(
  event: TransferEvent,
  computed: { amount: bigint; timestamp: bigint },
): TransferRecord {
  return {
    id: event.id,
    debitAccountId: event.debitAccountId,
    creditAccountId: event.creditAccountId,
    amount: computed.amount,
    ledger: event.ledger,
    code: event.code,
    flags: {
      pending: event.pending,
      postPending: event.postPending,
      voidPending: event.voidPending,
      balancingDebit: event.balancingDebit,
      balancingCredit: event.balancingCredit,
    },
    pendingId: event.pendingId,
    timeoutSeconds: event.timeoutSeconds,
    userData: event.userData,
    timestamp: computed.timestamp,
  };
}

function minimum(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
