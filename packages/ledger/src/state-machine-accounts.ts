import type { BatchOverlay } from './state-machine.ts';
import { type AccountRecord, type CreateAccountResult, U128_MAX } from './types.ts';
import type { AccountEvent } from './validate.ts';

/** createAccounts checks, in the order of SEMANTICS.md; changes nothing unless it returns ok. */
export function applyAccount(overlay: BatchOverlay, event: AccountEvent): CreateAccountResult {
  if (event.id === 0n) return 'idMustNotBeZero';
  if (event.id === U128_MAX) return 'idMustNotBeIntMax';
  if (event.debitsMustNotExceedCredits && event.creditsMustNotExceedDebits) {
    return 'flagsAreMutuallyExclusive';
  }
  if (event.ledger === 0) return 'ledgerMustNotBeZero';
  if (event.code === 0) return 'codeMustNotBeZero';
  const existing = overlay.account(event.id);
  if (existing !== undefined) return compareExisting(event, existing);
  overlay.createAccount({
    id: event.id,
    ledger: event.ledger,
    code: event.code,
    flags: {
      debitsMustNotExceedCredits: event.debitsMustNotExceedCredits,
      creditsMustNotExceedDebits: event.creditsMustNotExceedDebits,
      closed: event.closed,
    },
    userData: event.userData,
    debitsPending: 0n,
    debitsPosted: 0n,
    creditsPending: 0n,
    creditsPosted: 0n,
    timestamp: overlay.nextTimestamp(),
  });
  return 'ok';
}

function compareExisting(event: AccountEvent, existing: AccountRecord): CreateAccountResult {
  const flags = existing.flags;
  if (
    flags.debitsMustNotExceedCredits !== event.debitsMustNotExceedCredits ||
    flags.creditsMustNotExceedDebits !== event.creditsMustNotExceedDebits ||
    flags.closed !== event.closed
  ) {
    return 'existsWithDifferentFlags';
  }
  if (existing.userData !== event.userData) return 'existsWithDifferentUserData';
  if (existing.ledger !== event.ledger) return 'existsWithDifferentLedger';
  if (existing.code !== event.code) return 'existsWithDifferentCode';
  return 'exists';
}
