/**
 * @mite/client: a `fetch` that pays HTTP 402 `Payment` challenges (method "mite") inside the
 * user's budgets, in Node and in browsers. See README.md beside this package.
 */
export {
  type Budget,
  type BudgetHeadroom,
  BudgetLedger,
  type BudgetLimits,
  parseBudget,
  type PaymentQuote,
  type Reservation,
  type Spending,
  utcDay,
} from './budget.ts';
export {
  type BudgetLimit,
  isMitePaymentError,
  MitePaymentError,
  type MitePaymentErrorCode,
  mitePaymentErrorCodes,
  type MitePaymentErrorDetails,
  type ReceivedProblem,
} from './errors.ts';
export { createMiteFetch, type MiteFetch, type MiteFetchOptions } from './mite-fetch.ts';
export { type PaymentEvent, type Wallet } from './payer.ts';
export { type TokenSpendEvent } from './token-spending.ts';
export {
  type PlatformRetry,
  type PolicyApproval,
  type PolicyChallenge,
  policyConfirmationHeader,
} from './platform-client.ts';
export {
  MemoryReceiptStore,
  receiptKeyOf,
  type ReceiptStore,
  type StoredReceipt,
} from './receipt-store.ts';
export { type FetchInput } from './replayable-request.ts';
export { watchedEventLengthMax } from './sessions/event-watcher.ts';
export type { SessionSummary } from './sessions/metered-session.ts';
export { defaultDepositSteps, type SessionOptions } from './sessions/session-spending.ts';
export {
  createVoucherSigner,
  paywordChainHeadroom,
  type VoucherSigner,
} from './sessions/voucher-signer.ts';
export { budgetFromStored, type StoredBudget } from './stored-budget.ts';
export * from './tokens/index.ts';
