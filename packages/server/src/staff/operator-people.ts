/**
 * The people with the operator role, who log in to the console by email and password instead of
 * pasting an admin key (admin keys stay, for scripts). The first one is made at setup and shown
 * once, as the first admin key is.
 */
import { randomBytes } from 'node:crypto';
import type { Session, UserService } from '../auth/user-service.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { fail, ok, type Result } from '../result.ts';
import type { StaffPrincipals } from './staff-principals.ts';

/** The first operator's email when setup is not told one (`MITE_OPERATOR_EMAIL`). */
export const firstOperatorEmailDefault = 'operator@mite.local';
/** Random bytes in the first operator's generated password (base64url: 24 characters). */
const firstOperatorPasswordBytes = 18;

export interface OperatorPeopleDeps {
  readonly platform: PlatformDb;
  readonly users: UserService;
  readonly staffPrincipals: StaffPrincipals;
  readonly clock: () => number;
}

export function createOperatorPeople(deps: OperatorPeopleDeps) {
  const { platform, users, staffPrincipals, clock } = deps;
  const db = platform.db;

  /** Gives an existing person the operator role (again, if it was revoked). */
  async function grant(userId: string): Promise<void> {
    await db
      .insertInto('operators')
      .values({ user_id: userId, created_at: BigInt(clock()), revoked_at: null })
      .onConflict((conflict) => conflict.column('user_id').doUpdateSet({ revoked_at: null }))
      .execute();
    staffPrincipals.forget(userId);
  }

  /**
   * Makes the first operator when there is none: a new person with the email (or, when it has
   * an account already, that person) and a generated password, answered once. Undefined when
   * there is an operator already. `password` sets it instead (the demo's published one).
   */
  async function bootstrap(input: {
    email: string;
    password?: string;
  }): Promise<{ email: string; password: string } | undefined> {
    const any = await db.selectFrom('operators').select('user_id').limit(1).executeTakeFirst();
    if (any !== undefined) return undefined;
    const password =
      input.password ?? randomBytes(firstOperatorPasswordBytes).toString('base64url');
    const signedUp = await users.signUp({ email: input.email, password });
    // Taken: another node starting at the same moment made the first operator (or the email
    // belongs to someone already, whom an operator can grant the role later).
    if (!signedUp.ok && signedUp.code === 'emailTaken') return undefined;
    if (!signedUp.ok) {
      throw new Error(`the first operator ${input.email} could not be made: ${signedUp.code}`);
    }
    await grant(signedUp.value.userId);
    return { email: input.email, password };
  }

  /** Logs in to the console: only a person holding the operator role. */
  async function logIn(input: {
    email: string;
    password: string;
  }): Promise<Result<Session, 'invalidCredentials'>> {
    const userId = await users.checkCredentials(input);
    if (userId === undefined) return fail('invalidCredentials');
    const role = await staffPrincipals.principalFor(userId, 'operator');
    if (role === undefined) return fail('invalidCredentials');
    return ok(await users.openSession(userId, 'operator'));
  }

  return { grant, bootstrap, logIn };
}

export type OperatorPeople = ReturnType<typeof createOperatorPeople>;
