export { fetchTokenKeys, type PublishedTokenKey, rsaPublicKeyOfSpki } from './published-keys.ts';
export {
  emptyTokenState,
  memoryTokenStore,
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
