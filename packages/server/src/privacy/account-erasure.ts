/**
 * Erasing a wallet account (issue 14 item 5; DESIGN.md section 7, "erase: shred and
 * pseudonymise"). With the person's password confirmed again:
 * - their data key is destroyed (crypto-shredding): the email, the card digits of their top-ups
 *   and every other field sealed under it can no longer be opened, in the database or in any
 *   backup of it;
 * - the email's lookup tag is replaced by a random one, so that the email can sign up again and
 *   nobody can confirm that it ever had an account;
 * - the account is disabled and every session ended; budgets, held accesses and the responses
 *   kept for Idempotency-Key replays are deleted;
 * - the ledger keeps its records as they are: accounts by number, with no name. Payments keep
 *   their merchant-scoped pseudonym, so merchants' views (payments, refunds, reports) go on.
 *
 * The remaining balance: e-money law (in the EU, Directive 2009/110/EC article 11) gives the
 * holder the right to redeem their balance at par at any time, so the platform cannot simply
 * keep it. Mite has no pay-out to users yet, so erasure is refused (`balanceRemains`) while the
 * wallet holds more than `erasureUnclaimedMicrosMax`: the person spends it, or asks the operator
 * to refund it to their card, first. A balance up to that amount (less than one cent, which no
 * bank transfer or card refund can carry) is moved by a ledger transfer to the platform's
 * unclaimed-balances account, apart from income: the transfer names the wallet's account, so a
 * person who can prove it was theirs can still claim it. Pending purchases must settle first.
 */
import type { Ledger, TimeOrderedIds } from '@mite/ledger';
import { formatAmount } from '@mite/protocol';
import { randomBytes } from 'node:crypto';
import { verifyPassword } from '../auth/passwords.ts';
import type { UserService } from '../auth/user-service.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { accountBalance } from '../ledger/account-balance.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { eraseLimitSettings } from '../limits/limit-erasure.ts';
import { fail, ok, type Result } from '../result.ts';
import { type DataKeyring, userSubject } from './data-keys.ts';

/** The largest balance erasure moves to unclaimed balances: less than a cent (micro-units). */
export const erasureUnclaimedMicrosMax = 9_999n;
/** What an erased account's lookup tag becomes: never the tag of any email. */
const erasedLookupPrefix = 'erased:';

export type ErasureFailure = 'invalidCredentials' | 'balanceRemains' | 'erasureBlocked';

export interface Erasure {
  readonly erasedAtMs: number;
  /** What was moved to the platform's unclaimed balances (at most erasureUnclaimedMicrosMax). */
  readonly unclaimedMicros: bigint;
}

export interface AccountErasureDeps {
  readonly platform: PlatformDb;
  readonly ledger: Pick<Ledger, 'lookupAccounts' | 'createTransfers'>;
  readonly keyring: DataKeyring;
  readonly users: Pick<UserService, 'logOutEverywhere'>;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /** The limits' profiles cache (limits/limit-profiles.ts), told of the users changed. */
  readonly limitProfiles?: { forget(userId: string): void };
}

export function createAccountErasure(deps: AccountErasureDeps) {
  const { db } = deps.platform;

  /** Why the person cannot be erased yet: they run a merchant or the platform. */
  async function blocker(userId: string): Promise<string | undefined> {
    const member = await db
      .selectFrom('merchant_members')
      .select('merchant_id')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (member !== undefined) {
      return 'You are a member of a merchant: leave it (or hand it over) before erasing your account.';
    }
    const operator = await db
      .selectFrom('operators')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (operator !== undefined) {
      return 'You are an operator of this platform: have the role revoked before erasing your account.';
    }
    return undefined;
  }

  /** Moves what the rule lets go to unclaimed balances; a failure answers what remains. */
  async function settleBalance(walletId: bigint): Promise<Result<bigint, 'balanceRemains'>> {
    const [account] = await deps.ledger.lookupAccounts([walletId]);
    if (account === undefined) return ok(0n);
    const { availableMicros, reservedMicros } = accountBalance(account);
    if (reservedMicros > 0n) {
      return fail(
        'balanceRemains',
        'A purchase is still pending, or an open payment session holds part of the wallet: try again once it settles.',
      );
    }
    if (availableMicros > erasureUnclaimedMicrosMax) {
      return fail(
        'balanceRemains',
        `Your wallet holds ${formatAmount(availableMicros)}: spend it, or ask for a refund, first.`,
      );
    }
    if (availableMicros === 0n) return ok(0n);
    const [result] = await deps.ledger.createTransfers([
      {
        id: deps.transferIds.next(),
        debitAccountId: walletId,
        creditAccountId: platformAccountIds.unclaimedBalances,
        amount: availableMicros,
        ledger: ledgers.usd,
        code: transferCodes.erasedBalance,
        // Clamped to what the wallet holds at that moment: a purchase in between cannot make it fail.
        flags: { balancingDebit: true },
      },
    ]);
    if (result !== 'ok') throw new Error(`could not move an erased wallet's balance: ${result}`);
    return ok(availableMicros);
  }

  async function erase(input: {
    userId: string;
    password: string;
  }): Promise<Result<Erasure, ErasureFailure>> {
    const user = await db
      .selectFrom('users')
      .select(['password_hash', 'wallet_account_id', 'erased_at'])
      .where('id', '=', input.userId)
      .executeTakeFirst();
    if (user === undefined || user.erased_at !== null) return fail('invalidCredentials');
    if (!(await verifyPassword(input.password, user.password_hash))) {
      return fail('invalidCredentials');
    }
    const blocked = await blocker(input.userId);
    if (blocked !== undefined) return fail('erasureBlocked', blocked);
    const settled = await settleBalance(BigInt(user.wallet_account_id));
    if (!settled.ok) return settled;
    const erasedAtMs = deps.clock();
    const changed = await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('users')
        .set({
          erased_at: BigInt(erasedAtMs),
          disabled_at: BigInt(erasedAtMs),
          email_lookup: `${erasedLookupPrefix}${randomBytes(16).toString('base64url')}`,
        })
        .where('id', '=', input.userId)
        .execute();
      await tx.deleteFrom('wallet_budgets').where('user_id', '=', input.userId).execute();
      await tx.deleteFrom('offer_access').where('user_id', '=', input.userId).execute();
      // What the user spent per month is only for their caps, which an erased account has none of.
      await tx.deleteFrom('monthly_spending').where('user_id', '=', input.userId).execute();
      // Which sites the person let pay automatically and whom they showed their email say
      // something about them, and with the account gone nothing acts on those consents.
      await tx.deleteFrom('consents').where('user_id', '=', input.userId).execute();
      // Responses kept for replays (a top-up's holds the card digits) are sealed under the
      // platform's key, not the user's: deleted rather than left to expire.
      await tx
        .deleteFrom('idempotency_records')
        .where('principal', '=', `user:${input.userId}`)
        .execute();
      const minors = await eraseLimitSettings(tx, input.userId, erasedAtMs);
      await deps.keyring.destroy(userSubject(input.userId), tx);
      return [input.userId, ...minors];
    });
    for (const userId of changed) deps.limitProfiles?.forget(userId);
    // Again after the commit: a read in between may have put the old key back in memory.
    deps.keyring.forget(userSubject(input.userId));
    await deps.users.logOutEverywhere(input.userId);
    return ok({ erasedAtMs, unclaimedMicros: settled.value });
  }

  return { erase };
}

export type AccountErasure = ReturnType<typeof createAccountErasure>;
