/**
 * Plain account and transfer events for tests of the engine and its stores: every flag off,
 * ledger 1, code 1, a transfer of 1 from account 1 to account 2, with the fields a test names.
 */
import type { AccountEvent, TransferEvent } from '../validate.ts';

export const accountEvent = (id: bigint): AccountEvent => ({
  id,
  ledger: 1,
  code: 1,
  userData: 0n,
  linked: false,
  debitsMustNotExceedCredits: false,
  creditsMustNotExceedDebits: false,
  closed: false,
});

export const transferEvent = (id: bigint, fields: Partial<TransferEvent> = {}): TransferEvent => ({
  id,
  debitAccountId: 1n,
  creditAccountId: 2n,
  amount: 1n,
  ledger: 1,
  code: 1,
  pendingId: 0n,
  timeoutSeconds: 0,
  userData: 0n,
  linked: false,
  pending: false,
  postPending: false,
  voidPending: false,
  balancingDebit: false,
  balancingCredit: false,
  ...fields,
});
