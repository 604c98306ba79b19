export { fetchTokenKeys, type PublishedTokenKey, rsaPublicKeyOfSpki } from './published-keys.ts';
export {
  emptyTokenState,
  memoryTokenStore,
  type PendingSwap,
  type PendingWithdrawal,
  type StoredToken,
  type TokenState,
  type TokenStore,
  tokensValueMicros,
} from './token-store.ts';
export {
  denominationsOf,
  resumeWithdrawals,
  TokenWithdrawalError,
  type TokenWithdrawalOptions,
  withdrawTokens,
} from './token-withdrawal.ts';
export {
  pickExact,
  pickSwapInputs,
  type SpendOutcome,
  TokenPaymentError,
  type TokenPaymentErrorCode,
  TokenPurse,
  type TokenPurseOptions,
  type TokenSpend,
  toWire,
} from './token-purse.ts';
