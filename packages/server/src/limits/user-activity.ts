/**
 * What keeps an account from going dormant (issue 15 item 1: "an account unused for a year is
 * dormant until the user re-enables it"): logging in and topping up move its last-active time
 * forward, and re-enabling wakes a dormant one. Payments write nothing here, so the purchase
 * path stays free of this write; a session lasts at most 30 days (auth/user-service.ts), so a
 * person who pays logs in at least that often.
 *
 * Activity keeps an active account active but does not wake a dormant one: logging in to a
 * dormant account is how its owner reaches the page that re-enables it, with the password.
 */
import type { PlatformDb } from '../db/platform-db.ts';
import { fail, ok, type Result } from '../result.ts';
import { dormancyPeriodMs, isDormantAt } from './limit-profiles.ts';
import { passwordConfirms } from './password-confirmation.ts';

export interface UserActivityDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
  /** The profiles' cache, told of every change (limit-profiles.ts). */
  readonly profiles: { forget(userId: string): void };
}

export interface AccountStanding {
  readonly dormant: boolean;
  readonly lastActiveAtMs: number;
  readonly reactivatedAtMs: number | undefined;
}

export function createUserActivity(deps: UserActivityDeps) {
  const { db } = deps.platform;

  /** Records a log-in or top-up of the user, unless the account is dormant. */
  async function record(userId: string): Promise<void> {
    const nowMs = deps.clock();
    const activeSince = BigInt(nowMs - dormancyPeriodMs);
    const result = await db
      .updateTable('users')
      .set({ last_active_at: BigInt(nowMs) })
      .where('id', '=', userId)
      .where((eb) =>
        eb.or([
          eb('last_active_at', '>', activeSince),
          eb.and([eb('last_active_at', 'is', null), eb('created_at', '>', activeSince)]),
        ]),
      )
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) deps.profiles.forget(userId);
  }

  /** Whether the account is dormant now, and since when it was last active. */
  async function standing(userId: string): Promise<AccountStanding | undefined> {
    const user = await db
      .selectFrom('users')
      .select(['last_active_at', 'created_at', 'reactivated_at'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (user === undefined) return undefined;
    const lastActiveAtMs = Number(user.last_active_at ?? user.created_at);
    return {
      dormant: isDormantAt(lastActiveAtMs, deps.clock()),
      lastActiveAtMs,
      reactivatedAtMs: user.reactivated_at === null ? undefined : Number(user.reactivated_at),
    };
  }

  /** Re-enables the account, with the password confirmed again; harmless when not dormant. */
  async function reactivate(
    userId: string,
    password: string,
  ): Promise<Result<AccountStanding, 'invalidCredentials'>> {
    if (!(await passwordConfirms(deps.platform, userId, password))) {
      return fail('invalidCredentials', 'The password is wrong.');
    }
    const nowMs = deps.clock();
    await db
      .updateTable('users')
      .set({ last_active_at: BigInt(nowMs), reactivated_at: BigInt(nowMs) })
      .where('id', '=', userId)
      .execute();
    deps.profiles.forget(userId);
    return ok({ dormant: false, lastActiveAtMs: nowMs, reactivatedAtMs: nowMs });
  }

  return { record, standing, reactivate };
}

export type UserActivity = ReturnType<typeof createUserActivity>;
