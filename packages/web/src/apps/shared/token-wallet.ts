/**
 * Privacy mode in the platform's own pages: the setting, and the tokens it pays with, both kept
 * in the platform origin's localStorage (the wallet and the payment window share that origin;
 * a site's page cannot read it). Tokens are withdrawn in round batches ahead of time, to keep a
 * float, by the wallet's pages (when privacy mode is turned on, and when the wallet is opened):
 * never by a purchase, so that no withdrawal happens at the time of one. A purchase paid with
 * tokens is known to the platform only as a merchant's deposit, which names no payer, so it is
 * not in the wallet's history; the withdrawals are.
 */
import { deviceId } from './device-id.ts';
import {
  memoryTokenStore,
  resumeWithdrawals,
  type TokenState,
  type TokenStore,
  TokenPurse,
} from '@mite/client';

const privacyModeKey = 'mite:privacy-mode';
const tokensKey = 'mite:tokens';

/**
 * How long after the payment window handed tokens to a page the wallet asks what became of them:
 * past the challenge's life (5 minutes), the middleware's grace for a single-use receipt
 * (5 more) and clock skew (2), so that no presentation of them can still be under way.
 */
export const handedOverReclaimAfterMs = 20 * 60_000;

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

/** What the tokens held are worth and the platform still takes, pending ones aside. */
export async function tokenFloat(): Promise<bigint> {
  return browserPurse().spendableMicros();
}

/**
 * Runs `task` with the tokens to itself across this origin's tabs and windows (the wallet
 * refilling, the payment window paying): each loads and saves the whole store, and two at once
 * would lose one's change. Browsers without the Web Locks API run it as it is.
 */
export function withTokensLocked<T>(task: () => Promise<T>): Promise<T> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks === undefined) return task();
  // The lock is held until the callback's promise settles, which settles this one.
  return new Promise<T>((resolve, reject) => {
    locks.request(tokensKey, () => task().then(resolve, reject)).catch(reject);
  });
}

/**
 * Finishes what was left pending and withdraws batches until the float is held (the session
 * cookie goes with the withdrawal). Answers what was withdrawn now.
 */
export function keepFloat(): Promise<bigint> {
  return withTokensLocked(async () => {
    const store = browserTokenStore();
    const device = deviceId();
    await resumeWithdrawals({ platformUrl: location.origin, store, deviceId: device });
    const purse = new TokenPurse({ store, platformUrl: location.origin });
    await purse.resumeSwaps();
    // Tokens the payment window handed to a site that never deposited them come back.
    await purse.reclaimHandedOver(handedOverReclaimAfterMs);
    return purse.refill({
      floatMicros: tokenFloatMicros,
      batchMicros: tokenBatchMicros,
      deviceId: device,
    });
  });
}
