import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import { firstRow, preparedQuery } from '../db/prepared-query.ts';
import { type DataKeyring, openUserField, userSubject } from '../privacy/data-keys.ts';
import { normaliseEmail, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { fail, ok, type Result } from '../result.ts';
import type { WalletService } from '../wallets/wallet-service.ts';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import { hashSecret, issueSecret } from './secrets.ts';

/** How long a session lasts without logging in again. */
export const sessionTtlMs = 30 * 24 * 60 * 60 * 1000;
const emailLookupPurpose = 'email';
/**
 * How long a valid session is taken on trust from memory before the database is asked again:
 * every API call authenticates. A session revoked (logged out) on this node is dropped at once;
 * on another node of the same platform it keeps working for at most this long.
 */
export const sessionCacheTtlMs = 1_000;
/** Sessions kept in memory at most (the least recently used are dropped). */
export const sessionsCachedMax = 100_000;

export interface UserServiceDeps {
  readonly platform: PlatformDb;
  /** Makes each new user's wallet. */
  readonly wallets: Pick<WalletService, 'createWallet'>;
  /** Computes the email's lookup tag (the platform's key: lookups need no user's key). */
  readonly cipher: PersonalDataCipher;
  /** Seals the email under the user's own data key (privacy/data-keys.ts). */
  readonly keyring: DataKeyring;
  readonly clock: () => number;
  /** Told of every log-in, which keeps the account from going dormant (limits/user-activity.ts). */
  readonly activity?: { record(userId: string): Promise<void> };
}

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly expiresAtMs: number;
}

export interface UserProfile {
  readonly id: string;
  readonly email: string;
  readonly walletAccountId: bigint;
  readonly createdAtMs: number;
}

/**
 * Sign-up, log-in and sessions. The email is stored only encrypted, with a keyed lookup tag to
 * find it; the password only as an scrypt hash; a session token only as its SHA-256 hash.
 */
export function createUserService(deps: UserServiceDeps) {
  const { platform, wallets, cipher, keyring, clock } = deps;
  const db = platform.db;
  // Logging in as an unknown email still verifies a password, so that the answer's timing does
  // not tell which emails have accounts.
  const decoyHash = hashPassword('decoy password for unknown emails');
  // By token hash: the token itself is a secret, not to be kept around. Only valid sessions.
  const sessions = new LRUCache<string, CachedSession>({
    max: sessionsCachedMax,
    ttl: sessionCacheTtlMs,
  });
  // Counts revocations on this node, each counted once committed. A read of a session that was
  // under way when a revocation committed is not cached, so that a log-out cannot be undone by a
  // request that was reading the session at the same moment.
  let revocations = 0;

  async function signUp(input: {
    email: string;
    password: string;
  }): Promise<Result<{ userId: string }, 'emailTaken' | 'validationFailed'>> {
    const weak = passwordProblem(input.password);
    if (weak !== undefined) return fail('validationFailed', weak);
    const email = normaliseEmail(input.email);
    const lookup = cipher.lookupTag(email, emailLookupPurpose);
    const taken = await db
      .selectFrom('users')
      .select('id')
      .where('email_lookup', '=', lookup)
      .executeTakeFirst();
    if (taken !== undefined) return fail('emailTaken');
    // The wallet comes first: an account nobody owns is harmless, a user without a wallet is not.
    const walletId = await wallets.createWallet();
    const userId = uuidv7();
    const dataKey = await keyring.keyFor(userSubject(userId));
    try {
      await db
        .insertInto('users')
        .values({
          id: userId,
          email_lookup: lookup,
          email_ciphertext: dataKey.encrypt(email, `user:${userId}:email`),
          password_hash: await hashPassword(input.password),
          wallet_account_id: walletId.toString(),
          created_at: BigInt(clock()),
          disabled_at: null,
        })
        .execute();
    } catch (error) {
      // Two sign-ups with one email at once: the unique index lets exactly one through.
      const again = await db
        .selectFrom('users')
        .select('id')
        .where('email_lookup', '=', lookup)
        .executeTakeFirst();
      if (again !== undefined) return fail('emailTaken');
      throw error;
    }
    return ok({ userId });
  }

  /**
   * The person an email and password identify, if they do and the person is not disabled. An
   * unknown email costs the same as a wrong password, so that timing does not tell them apart.
   */
  async function checkCredentials(input: {
    email: string;
    password: string;
  }): Promise<string | undefined> {
    const lookup = cipher.lookupTag(normaliseEmail(input.email), emailLookupPurpose);
    const user = await db
      .selectFrom('users')
      .select(['id', 'password_hash', 'disabled_at'])
      .where('email_lookup', '=', lookup)
      .executeTakeFirst();
    const valid = await verifyPassword(input.password, user?.password_hash ?? (await decoyHash));
    if (user === undefined || !valid || user.disabled_at !== null) return undefined;
    await deps.activity?.record(user.id);
    return user.id;
  }

  /** The person with this email, if there is one (for invitations, which name an email). */
  async function userIdByEmail(email: string): Promise<string | undefined> {
    const lookup = cipher.lookupTag(normaliseEmail(email), emailLookupPurpose);
    const row = await db
      .selectFrom('users')
      .select('id')
      .where('email_lookup', '=', lookup)
      .executeTakeFirst();
    return row?.id;
  }

  /** A new session of the person, acting as `actingAs` (see SessionActingAs). */
  async function openSession(userId: string, actingAs: SessionActingAs): Promise<Session> {
    const issued = issueSecret('session');
    const nowMs = clock();
    const expiresAtMs = nowMs + sessionTtlMs;
    await db
      .insertInto('sessions')
      .values({
        token_hash: issued.hash,
        user_id: userId,
        created_at: BigInt(nowMs),
        expires_at: BigInt(expiresAtMs),
        revoked_at: null,
        acting_as: actingAs,
      })
      .execute();
    return { token: issued.secret, userId, expiresAtMs };
  }

  /** Logs in to the wallet: a session acting as the person's own wallet. */
  async function logIn(input: {
    email: string;
    password: string;
  }): Promise<Result<Session, 'invalidCredentials'>> {
    const userId = await checkCredentials(input);
    if (userId === undefined) return fail('invalidCredentials');
    return ok(await openSession(userId, 'wallet'));
  }

  /** The user a session token belongs to, if the session is live and the user not disabled. */
  async function authenticate(
    token: string,
  ): Promise<{ userId: string; actingAs: SessionActingAs } | undefined> {
    const tokenHash = hashSecret(token);
    const session = sessions.get(tokenHash) ?? (await readSession(tokenHash));
    if (session === undefined || session.expiresAtMs <= clock()) return undefined;
    return { userId: session.userId, actingAs: session.actingAs };
  }

  async function readSession(tokenHash: string): Promise<CachedSession | undefined> {
    const revocationsBefore = revocations;
    const row = await firstRow(selectSession, db, { tokenHash });
    if (row === undefined || row.revoked_at !== null || row.disabled_at !== null) return undefined;
    const actingAs = sessionActingAs(row.acting_as);
    // A value this code did not write: refuse the session rather than guess what it may do.
    if (actingAs === undefined) return undefined;
    const session = { userId: row.user_id, expiresAtMs: Number(row.expires_at), actingAs };
    if (revocations === revocationsBefore) sessions.set(tokenHash, session);
    return session;
  }

  async function logOut(token: string): Promise<void> {
    const tokenHash = hashSecret(token);
    await db
      .updateTable('sessions')
      .set({ revoked_at: BigInt(clock()) })
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .execute();
    revocations += 1;
    sessions.delete(tokenHash);
  }

  /**
   * Ends every session of the user ("log out everywhere"): on this node at once, on the others
   * of the same platform within `sessionCacheTtlMs`. Answers how many were still live.
   */
  async function logOutEverywhere(userId: string): Promise<number> {
    const result = await db
      .updateTable('sessions')
      .set({ revoked_at: BigInt(clock()) })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    revocations += 1;
    // The cache is keyed by token hash: the user's entries are found by walking it, which a
    // rare request can afford (at most sessionsCachedMax entries). They are deleted after the
    // walk, not during it, which the cache's iterators do not promise to survive.
    const ended: string[] = [];
    sessions.forEach((session, tokenHash) => {
      if (session.userId === userId) ended.push(tokenHash);
    });
    for (const tokenHash of ended) sessions.delete(tokenHash);
    return Number(result.numUpdatedRows);
  }

  async function profile(userId: string): Promise<UserProfile | undefined> {
    const user = await db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', userId)
      .executeTakeFirst();
    if (user === undefined) return undefined;
    const email = await openUserField(keyring, user.id, user.email_ciphertext, 'email');
    // An erased account has no profile: nothing of the person is left to show.
    if (email === undefined) return undefined;
    return {
      id: user.id,
      email,
      walletAccountId: BigInt(user.wallet_account_id),
      createdAtMs: Number(user.created_at),
    };
  }

  return {
    signUp,
    checkCredentials,
    userIdByEmail,
    openSession,
    logIn,
    authenticate,
    logOut,
    logOutEverywhere,
    profile,
  };
}

export type UserService = ReturnType<typeof createUserService>;

interface CachedSession {
  readonly userId: string;
  readonly expiresAtMs: number;
  readonly actingAs: SessionActingAs;
}

/**
 * What a session acts as: the person's own wallet, the operator console, or the dashboard of one
 * merchant. Which one is fixed when the session is opened; the role that decides what it may do
 * there is read again on every request (staff/staff-principals.ts).
 */
export type SessionActingAs = 'wallet' | 'operator' | `merchant:${string}`;

/** A stored `acting_as`, checked: undefined for anything this code does not write. */
export function sessionActingAs(stored: string): SessionActingAs | undefined {
  if (stored === 'wallet' || stored === 'operator') return stored;
  if (stored.startsWith('merchant:') && stored.length > 'merchant:'.length) {
    return stored as `merchant:${string}`;
  }
  return undefined;
}

// Prepared (see prepared-query.ts): every call by a user runs it.
const selectSession = preparedQuery<
  { tokenHash: string },
  {
    user_id: string;
    expires_at: bigint;
    revoked_at: bigint | null;
    disabled_at: bigint | null;
    acting_as: string;
  }
>((db, arg) =>
  db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.user_id',
      'sessions.expires_at',
      'sessions.revoked_at',
      'users.disabled_at',
      'sessions.acting_as',
    ])
    .where('sessions.token_hash', '=', arg('tokenHash')),
);
