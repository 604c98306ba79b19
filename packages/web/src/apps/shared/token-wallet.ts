/**
 * Privacy mode in the platform's own pages: the setting, and the tokens it pays with, both kept
 * in the platform origin's localStorage (the wallet and the payment window share that origin;
 * a site's page cannot read it). Tokens are withdrawn in round batches ahead of time, to keep a
 * float, by the wallet's pages (when privacy mode is turned on, and when the wallet is opened):
 * never by a purchase, so that no withdrawal happens at the time of one. A purchase paid with
 * tokens is known to the platform only as a merchant's deposit, which names no payer, so it is
 * not in the wallet's history; the withdrawals are.
 */
import {
  memoryTokenStore,
  resumeWithdrawals,
  type TokenState,
  type TokenStore,
  TokenPurse,
  tokensValueMicros,
} from '@mite/client';

const privacyModeKey = 'mite:privacy-mode';
const tokensKey = 'mite:tokens';

/** The float privacy mode keeps: $0.50, withdrawn in batches of $0.25 when it runs below. */
export const tokenFloatMicros = 500_000n;
export const tokenBatchMicros = 250_000n;

export function privacyModeOn(): boolean {
  try {
    return localStorage.getItem(privacyModeKey) === 'on';
  } catch {
    return false;
  }
}

export function setPrivacyMode(on: boolean): void {
  if (on) localStorage.setItem(privacyModeKey, 'on');
  else localStorage.removeItem(privacyModeKey);
}

/** The tokens in this origin's localStorage; in memory where storage is off (nothing kept). */
export function browserTokenStore(): TokenStore {
  try {
    localStorage.getItem(tokensKey);
  } catch {
    return memoryTokenStore();
  }
  return {
    load: async (): Promise<TokenState> => {
      const text = localStorage.getItem(tokensKey);
      return text === null
        ? { tokens: [], pendingWithdrawals: [] }
        : (JSON.parse(text) as TokenState);
    },
    save: async (state) => {
      localStorage.setItem(tokensKey, JSON.stringify(state));
    },
  };
}

export function browserPurse(): TokenPurse {
  return new TokenPurse({ store: browserTokenStore(), platformUrl: location.origin });
}

/** What the tokens held are worth, pending withdrawals and swaps aside. */
export async function tokenFloat(): Promise<bigint> {
  return tokensValueMicros(await browserTokenStore().load());
}

/**
 * Finishes what was left pending and withdraws batches until the float is held (the session
 * cookie goes with the withdrawal). Answers what was withdrawn now.
 */
export async function keepFloat(): Promise<bigint> {
  const store = browserTokenStore();
  await resumeWithdrawals({ platformUrl: location.origin, store });
  const purse = new TokenPurse({ store, platformUrl: location.origin });
  await purse.resumeSwaps();
  return purse.refill({ floatMicros: tokenFloatMicros, batchMicros: tokenBatchMicros });
}
