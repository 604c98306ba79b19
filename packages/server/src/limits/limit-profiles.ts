/**
 * The LimitProfiles the limits policy reads on every payment, top-up and token withdrawal
 * (limit-profile.ts): the user's own limits, whether they are a minor by the birth date they
 * declared and whether a guardian consented, and whether the account is dormant.
 *
 * What a profile is made of (the facts: limits, birth date, consent, last activity) is kept per
 * user in a bounded in-process cache, and the profile is worked out from them at the time asked
 * about, so that a minor turns adult at midnight even while cached. Every change made through
 * this platform's services (user-limit-settings.ts, minor-settings.ts, user-activity.ts, account
 * erasure) drops the user's facts from the cache of the node that made it, so that on a single
 * node a change holds from the next payment on; a read that was under way when a change was made
 * is not cached. Other nodes of the same platform see a change once their entry expires, within
 * `limitProfileCacheTtlMs`, as they do a log-out (auth/user-service.ts).
 */
import { LRUCache } from 'lru-cache';
import type { PlatformDb } from '../db/platform-db.ts';
import { type DataKeyring, openUserField } from '../privacy/data-keys.ts';
import { isMinorAt, parseBirthDate } from './birth-dates.ts';
import type { LimitProfile, LimitProfiles, LimitScope } from './limit-profile.ts';
import { unrestrictedProfile } from './limit-profile.ts';
import { parseLimitScope } from './limit-scopes.ts';
import type { CalendarDate } from './operator-time-zone.ts';

/** An account with no log-in, top-up or re-enabling for this long is dormant (365 days). */
export const dormancyPeriodMs = 365 * 24 * 60 * 60 * 1000;
/** How long a user's facts are taken from memory before the database is asked again. */
export const limitProfileCacheTtlMs = 1_000;
/** Users whose facts are kept in memory at most (the least recently used are dropped). */
export const limitProfilesCachedMax = 100_000;
/** What a birth date is sealed for under the user's data key (its associated data). */
export const birthDatePurpose = 'birthDate';

/** Whether an account last active at `lastActiveMs` is dormant at `atMs`. */
export function isDormantAt(lastActiveMs: number, atMs: number): boolean {
  return atMs - lastActiveMs >= dormancyPeriodMs;
}

interface ProfileFacts {
  readonly userLimits: ReadonlyMap<LimitScope, bigint>;
  readonly birthDate: CalendarDate | undefined;
  readonly guardianConsented: boolean;
  readonly lastActiveMs: number;
}

export interface LimitProfilesDeps {
  readonly platform: PlatformDb;
  /** Opens the birth date, sealed under the user's data key. */
  readonly keyring: Pick<DataKeyring, 'existingKeyFor'>;
  /** The operator's time zone (operator-time-zone.ts), in which minors come of age. */
  readonly timeZone: string;
}

export interface CachedLimitProfiles extends LimitProfiles {
  /** Drops the user's facts from this node's cache: call after every change to them. */
  forget(userId: string): void;
}

export function createLimitProfiles(deps: LimitProfilesDeps): CachedLimitProfiles {
  const { db } = deps.platform;
  const cache = new LRUCache<string, ProfileFacts>({
    max: limitProfilesCachedMax,
    ttl: limitProfileCacheTtlMs,
  });
  // Counts the changes forgotten on this node; a read that overlapped one is not cached.
  let changes = 0;

  async function birthDateOf(userId: string, sealed: string | null) {
    if (sealed === null) return undefined;
    const opened = await openUserField(deps.keyring, userId, sealed, birthDatePurpose);
    return opened === undefined ? undefined : parseBirthDate(opened);
  }

  async function readFacts(userId: string): Promise<ProfileFacts | undefined> {
    const [user, limits, consent] = await Promise.all([
      db
        .selectFrom('users')
        .select(['birth_date_ciphertext', 'last_active_at', 'created_at'])
        .where('id', '=', userId)
        .executeTakeFirst(),
      db
        .selectFrom('user_limits')
        .select(['scope', 'limit_micros'])
        .where('user_id', '=', userId)
        .execute(),
      db
        .selectFrom('guardian_consents')
        .select('id')
        .where('minor_user_id', '=', userId)
        .where('state', '=', 'granted')
        .where('withdrawn_at', 'is', null)
        .executeTakeFirst(),
    ]);
    if (user === undefined) return undefined;
    const userLimits = new Map<LimitScope, bigint>();
    for (const row of limits) {
      const scope = parseLimitScope(row.scope);
      if (scope !== undefined) userLimits.set(scope, BigInt(row.limit_micros));
    }
    return {
      userLimits,
      birthDate: await birthDateOf(userId, user.birth_date_ciphertext),
      guardianConsented: consent !== undefined,
      lastActiveMs: Number(user.last_active_at ?? user.created_at),
    };
  }

  async function factsOf(userId: string): Promise<ProfileFacts | undefined> {
    const cached = cache.get(userId);
    if (cached !== undefined) return cached;
    const changesBefore = changes;
    const facts = await readFacts(userId);
    if (facts !== undefined && changes === changesBefore) cache.set(userId, facts);
    return facts;
  }

  async function profileOf(userId: string, atMs: number): Promise<LimitProfile> {
    const facts = await factsOf(userId);
    if (facts === undefined) return unrestrictedProfile;
    const minor = facts.birthDate !== undefined && isMinorAt(facts.birthDate, atMs, deps.timeZone);
    return {
      userLimits: facts.userLimits,
      minor,
      guardianConsented: facts.guardianConsented,
      dormant: isDormantAt(facts.lastActiveMs, atMs),
    };
  }

  function forget(userId: string): void {
    changes += 1;
    cache.delete(userId);
  }

  return { profileOf, forget };
}
