import { type AccountRecord, eventsPerCallMax, type Ledger } from '@mite/ledger';

/**
 * What the platform owes on a wallet or a merchant account. Both are the same kind of account
 * (chart-of-accounts.ts: credit-normal, `debitsMustNotExceedCredits`), so one formula serves a
 * wallet's spendable balance and a merchant's payable one.
 */
export interface AccountBalance {
  /**
   * What can leave the account now: credits posted less debits posted and pending. Pending
   * credits are not counted: money on its way in is not there yet.
   */
  readonly availableMicros: bigint;
  /** Held by pending debits (purchases still being settled): neither spent nor spendable. */
  readonly reservedMicros: bigint;
}

export function accountBalance(
  account: Pick<AccountRecord, 'creditsPosted' | 'debitsPosted' | 'debitsPending'>,
): AccountBalance {
  return {
    availableMicros: account.creditsPosted - account.debitsPosted - account.debitsPending,
    reservedMicros: account.debitsPending,
  };
}

/** The balances of the accounts the ledger has, by id; any number of ids (asked in chunks). */
export async function lookupBalances(
  ledger: Pick<Ledger, 'lookupAccounts'>,
  accountIds: readonly bigint[],
): Promise<Map<bigint, AccountBalance>> {
  const balances = new Map<bigint, AccountBalance>();
  for (let start = 0; start < accountIds.length; start += eventsPerCallMax) {
    const chunk = accountIds.slice(start, start + eventsPerCallMax);
    for (const account of await ledger.lookupAccounts(chunk)) {
      balances.set(account.id, accountBalance(account));
    }
  }
  return balances;
}
