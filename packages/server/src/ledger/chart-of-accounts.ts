import { randomBytes } from 'node:crypto';
import type { Account, Ledger } from '@mite/ledger';

/**
 * How the platform's money maps onto ledger accounts (DESIGN.md section 1). One ledger per
 * currency; amounts are micro-units of it.
 */
export const ledgers = { usd: 1 } as const;

/** Account codes: what kind of account an account is. */
export const accountCodes = {
  /** A user's prepaid balance; it can never go below zero. */
  wallet: 1,
  /** What a merchant has earned and not yet been paid out; never below zero. */
  merchant: 2,
  /** The platform's percentage fee income. */
  platformFees: 3,
  /** Money the card processor owes the platform for confirmed top-ups. */
  processorReceivable: 4,
  /** What the card processor charged the platform in fees. */
  cardFees: 5,
  /** Money paid out to merchants' banks. */
  settlement: 6,
  /**
   * What users turned into unlinkable tokens that no merchant has deposited yet: the platform
   * owes it to whoever deposits them (tokens/).
   */
  tokensOutstanding: 7,
  /**
   * What erased accounts left behind, too little to pay out (privacy/account-erasure.ts): kept
   * apart from income, since the platform still owes it to whoever can prove the wallet was theirs.
   */
  unclaimedBalances: 8,
  /**
   * What payment sessions hold between their wallets' holds being posted and the settlement's
   * legs paying the merchants: it is credited and debited in one linked chain, so it is empty
   * between settlements (sessions/session-settlement.ts).
   */
  sessionHolds: 9,
} as const;

/** Transfer codes: why money moved. */
export const transferCodes = {
  topUp: 1,
  cardFee: 2,
  payment: 3,
  platformFee: 4,
  refund: 5,
  payout: 6,
  tokenWithdrawal: 7,
  erasedBalance: 8,
  /** A session's deposit, held from the wallet as a pending transfer until it settles. */
  sessionHold: 9,
} as const;

/**
 * The platform's own accounts have small fixed ids; user and merchant accounts get random ids
 * with the top bit set (newAccountId), so the two ranges never meet.
 */
export const platformAccountIds = {
  platformFees: 1n,
  processorReceivable: 2n,
  cardFees: 3n,
  settlement: 4n,
  tokensOutstanding: 5n,
  unclaimedBalances: 6n,
  sessionHolds: 7n,
} as const;

const platformAccounts: Account[] = [
  { id: platformAccountIds.platformFees, ledger: ledgers.usd, code: accountCodes.platformFees },
  {
    id: platformAccountIds.processorReceivable,
    ledger: ledgers.usd,
    code: accountCodes.processorReceivable,
  },
  { id: platformAccountIds.cardFees, ledger: ledgers.usd, code: accountCodes.cardFees },
  { id: platformAccountIds.settlement, ledger: ledgers.usd, code: accountCodes.settlement },
  {
    id: platformAccountIds.tokensOutstanding,
    ledger: ledgers.usd,
    code: accountCodes.tokensOutstanding,
  },
  {
    id: platformAccountIds.unclaimedBalances,
    ledger: ledgers.usd,
    code: accountCodes.unclaimedBalances,
  },
  { id: platformAccountIds.sessionHolds, ledger: ledgers.usd, code: accountCodes.sessionHolds },
];

/** Creates the platform's accounts if missing; safe to run on every start. */
export async function ensurePlatformAccounts(ledger: Ledger): Promise<void> {
  const results = await ledger.createAccounts(platformAccounts);
  const bad = results.find((result) => result !== 'ok' && result !== 'exists');
  if (bad !== undefined) throw new Error(`the platform's ledger accounts are inconsistent: ${bad}`);
}

/** A fresh random account id for a wallet or a merchant. */
export function newAccountId(): bigint {
  const random = BigInt(`0x${randomBytes(16).toString('hex')}`);
  return random | (1n << 127n);
}

export function walletAccount(id: bigint): Account {
  return {
    id,
    ledger: ledgers.usd,
    code: accountCodes.wallet,
    flags: { debitsMustNotExceedCredits: true },
  };
}

export function merchantAccount(id: bigint): Account {
  return {
    id,
    ledger: ledgers.usd,
    code: accountCodes.merchant,
    flags: { debitsMustNotExceedCredits: true },
  };
}
