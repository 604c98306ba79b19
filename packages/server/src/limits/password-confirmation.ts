/**
 * Fresh confirmation (issue 15 item 1: raising a limit, granting a guardian's consent, re-enabling
 * a dormant account): the user's password, checked as logging in checks it. The routes that ask
 * for it are rate-limited as logging in is, since each answer tells whether a guess was right.
 */
import { verifyPassword } from '../auth/passwords.ts';
import type { PlatformDb } from '../db/platform-db.ts';

/** Whether `password` is the password of the (live) user. */
export async function passwordConfirms(
  platform: PlatformDb,
  userId: string,
  password: string,
): Promise<boolean> {
  const user = await platform.db
    .selectFrom('users')
    .select(['password_hash', 'disabled_at'])
    .where('id', '=', userId)
    .executeTakeFirst();
  if (user === undefined || user.disabled_at !== null) return false;
  return verifyPassword(password, user.password_hash);
}

/** Password guesses are what these routes could be abused for: as few as logging in allows. */
export const confirmationRateLimit = { max: 10, timeWindow: 60_000 } as const;
