/**
 * What the ledger holds per kind of account (chart-of-accounts.ts): every wallet together, every
 * merchant together, and each of the platform's own accounts. Wallets and merchants are read a
 * page at a time (their ids from the platform's tables, their balances from the ledger), so the
 * sums cost a pass over every account: the ledger verification runs them (ledger-verifications.ts)
 * rather than any page load, and the console shows them as of that run.
 */
import type { AccountRecord, Ledger } from '@mite/ledger';
import type { PlatformDb } from '../db/platform-db.ts';
import { keysetPages } from '../db/keyset-pages.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';

/** Accounts looked up per ledger call while summing wallets and merchants. */
export const kindBalancePageRows = 1_000;

/** The kinds, as the console names them: wallets, merchants, then the platform's accounts. */
export const accountKinds = [
  'wallets',
  'merchants',
  'platformFees',
  'processorReceivable',
  'cardFees',
  'settlement',
  'tokensOutstanding',
  'unclaimedBalances',
  'sessionHolds',
] as const;
export type AccountKind = (typeof accountKinds)[number];

/**
 * Kinds whose balance is what was debited less what was credited: money owed to the platform or
 * spent by it. The others (wallets, merchants, the fee income) are owed by it: credits less debits.
 */
const debitNormalKinds: ReadonlySet<AccountKind> = new Set([
  'processorReceivable',
  'cardFees',
  'settlement',
]);

/** One kind's sums, in micro-units as decimal text (JSON has no bigint). */
export interface KindBalance {
  readonly accounts: number;
  readonly debitsPosted: string;
  readonly creditsPosted: string;
  readonly debitsPending: string;
  readonly creditsPending: string;
  /** Posted, on the kind's normal side: credits less debits, or debits less credits. */
  readonly balance: string;
}

export type KindBalances = Readonly<Record<AccountKind, KindBalance>>;

interface Sums {
  accounts: number;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

const noSums = (): Sums => ({
  accounts: 0,
  debitsPosted: 0n,
  creditsPosted: 0n,
  debitsPending: 0n,
  creditsPending: 0n,
});

function add(sums: Sums, account: AccountRecord): void {
  sums.accounts++;
  sums.debitsPosted += account.debitsPosted;
  sums.creditsPosted += account.creditsPosted;
  sums.debitsPending += account.debitsPending;
  sums.creditsPending += account.creditsPending;
}

function balanceOf(kind: AccountKind, sums: Sums): KindBalance {
  const balance = debitNormalKinds.has(kind)
    ? sums.debitsPosted - sums.creditsPosted
    : sums.creditsPosted - sums.debitsPosted;
  return {
    accounts: sums.accounts,
    debitsPosted: sums.debitsPosted.toString(),
    creditsPosted: sums.creditsPosted.toString(),
    debitsPending: sums.debitsPending.toString(),
    creditsPending: sums.creditsPending.toString(),
    balance: balance.toString(),
  };
}

async function sumAccounts(
  ledger: Pick<Ledger, 'lookupAccounts'>,
  pages: AsyncGenerator<{ readonly id: string; readonly account: string }[]>,
): Promise<Sums> {
  const sums = noSums();
  for await (const rows of pages) {
    const accounts = await ledger.lookupAccounts(rows.map((row) => BigInt(row.account)));
    for (const account of accounts) add(sums, account);
  }
  return sums;
}

/** Every kind's sums, reading wallets and merchants kindBalancePageRows at a time. */
export async function readKindBalances(
  platform: PlatformDb,
  ledger: Pick<Ledger, 'lookupAccounts'>,
  pageRows: number = kindBalancePageRows,
): Promise<KindBalances> {
  const { db } = platform;
  const wallets = await sumAccounts(
    ledger,
    keysetPages(async (afterId, limit) => {
      let query = db
        .selectFrom('users')
        .select(['id', 'wallet_account_id as account'])
        .orderBy('id')
        .limit(limit);
      if (afterId !== undefined) query = query.where('id', '>', afterId);
      return query.execute();
    }, pageRows),
  );
  const merchants = await sumAccounts(
    ledger,
    keysetPages(async (afterId, limit) => {
      let query = db
        .selectFrom('merchants')
        .select(['id', 'account_id as account'])
        .orderBy('id')
        .limit(limit);
      if (afterId !== undefined) query = query.where('id', '>', afterId);
      return query.execute();
    }, pageRows),
  );
  const platformKinds = [
    'platformFees',
    'processorReceivable',
    'cardFees',
    'settlement',
    'tokensOutstanding',
    'unclaimedBalances',
    'sessionHolds',
  ] as const;
  const found = await ledger.lookupAccounts(platformKinds.map((kind) => platformAccountIds[kind]));
  const byId = new Map(found.map((account) => [account.id, account]));
  const own = Object.fromEntries(
    platformKinds.map((kind) => {
      const sums = noSums();
      const account = byId.get(platformAccountIds[kind]);
      if (account !== undefined) add(sums, account);
      return [kind, balanceOf(kind, sums)];
    }),
  ) as Record<(typeof platformKinds)[number], KindBalance>;
  return {
    wallets: balanceOf('wallets', wallets),
    merchants: balanceOf('merchants', merchants),
    ...own,
  };
}
