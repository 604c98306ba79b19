/**
 * The people who run merchants: signing up as a merchant, logging in to its dashboard, and its
 * list of members. A person is a user account (the same email and password as their wallet, if
 * they have one); a dashboard session acts as one merchant (staff-principals.ts).
 */
import { sql } from 'kysely';
import type { Session, UserService } from '../auth/user-service.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { MerchantService } from '../merchants/merchant-service.ts';
import { type DataKeyring, erasedLabel, openUserField } from '../privacy/data-keys.ts';
import { fail, ok, type Result } from '../result.ts';
import type { StaffPrincipals } from './staff-principals.ts';
import { isMerchantRole, type MerchantRole } from './staff-roles.ts';

/**
 * The terms a merchant that signs itself up starts with; an operator changes them per merchant.
 * A fee of 5 % and payouts from 10.00 (micro-units).
 */
export const merchantSignUpTerms = {
  feeBasisPoints: 500,
  payoutThresholdMicros: 10_000_000n,
} as const;

/** Members listed at most (a merchant is run by a handful of people). */
export const merchantMembersListedMax = 200;

export interface Membership {
  readonly merchantId: string;
  readonly name: string;
  readonly role: MerchantRole;
}

export interface MerchantMember {
  readonly userId: string;
  readonly email: string;
  readonly role: MerchantRole;
  readonly createdAtMs: number;
}

export interface MerchantPeopleDeps {
  readonly platform: PlatformDb;
  readonly users: UserService;
  readonly merchants: Pick<MerchantService, 'createMerchant'>;
  /** Opens members' emails with their data keys. */
  readonly keyring: DataKeyring;
  readonly staffPrincipals: StaffPrincipals;
  readonly clock: () => number;
}

export function createMerchantPeople(deps: MerchantPeopleDeps) {
  const { platform, users, merchants, keyring, staffPrincipals, clock } = deps;
  const db = platform.db;

  /**
   * The person an email and password name: a new one when the email has no account, else the
   * account's owner if the password is theirs.
   */
  async function personFor(
    input: { email: string; password: string },
    refusal: string,
  ): Promise<Result<string, 'invalidCredentials' | 'validationFailed' | 'emailTaken'>> {
    if ((await users.userIdByEmail(input.email)) === undefined) {
      const signedUp = await users.signUp(input);
      if (signedUp.ok) return ok(signedUp.value.userId);
      // Someone signed up with this email in between: their password decides, as below.
      if (signedUp.code !== 'emailTaken') return signedUp;
    }
    const userId = await users.checkCredentials(input);
    return userId === undefined ? fail('invalidCredentials', refusal) : ok(userId);
  }

  /**
   * A new merchant whose owner is the person. The merchant is made before its membership: a
   * crash between leaves a merchant nobody runs yet (an operator can invite its owner), never a
   * member of a merchant that does not exist.
   */
  async function signUpMerchant(input: {
    email: string;
    password: string;
    merchantName: string;
  }): Promise<
    Result<
      { userId: string; merchantId: string },
      'invalidCredentials' | 'validationFailed' | 'emailTaken'
    >
  > {
    const person = await personFor(
      input,
      'This email has an account: enter its password to add a merchant to it.',
    );
    if (!person.ok) return person;
    const { merchantId } = await merchants.createMerchant({
      name: input.merchantName,
      ownerUserId: person.value,
      feeBasisPoints: merchantSignUpTerms.feeBasisPoints,
      payoutThresholdMicros: merchantSignUpTerms.payoutThresholdMicros,
    });
    await addMember(merchantId, person.value, 'owner');
    return ok({ userId: person.value, merchantId });
  }

  /** Makes the person a member; a member already keeps the role they have. */
  async function addMember(merchantId: string, userId: string, role: MerchantRole): Promise<void> {
    await db
      .insertInto('merchant_members')
      .values({ merchant_id: merchantId, user_id: userId, role, created_at: BigInt(clock()) })
      .onConflict((conflict) => conflict.columns(['merchant_id', 'user_id']).doNothing())
      .execute();
    staffPrincipals.forget(userId);
  }

  /** The merchants the person is a member of, the oldest membership first. */
  async function memberships(userId: string): Promise<Membership[]> {
    const rows = await db
      .selectFrom('merchant_members')
      .innerJoin('merchants', 'merchants.id', 'merchant_members.merchant_id')
      .select(['merchant_members.merchant_id', 'merchants.name', 'merchant_members.role'])
      .where('merchant_members.user_id', '=', userId)
      .orderBy('merchant_members.created_at')
      .orderBy('merchant_members.merchant_id')
      .limit(merchantMembersListedMax)
      .execute();
    return rows.flatMap((row) =>
      isMerchantRole(row.role)
        ? [{ merchantId: row.merchant_id, name: row.name, role: row.role }]
        : [],
    );
  }

  /**
   * Logs in to a merchant's dashboard: the merchant asked for, or the person's first. A person
   * who is nobody's member gets the same answer as a wrong password.
   */
  async function logIn(input: {
    email: string;
    password: string;
    merchantId?: string;
  }): Promise<
    Result<
      { session: Session; membership: Membership; memberships: Membership[] },
      'invalidCredentials' | 'forbidden'
    >
  > {
    const userId = await users.checkCredentials(input);
    if (userId === undefined) return fail('invalidCredentials');
    const all = await memberships(userId);
    const membership =
      input.merchantId === undefined
        ? all[0]
        : all.find((candidate) => candidate.merchantId === input.merchantId);
    if (membership === undefined) {
      return all.length === 0
        ? fail('invalidCredentials')
        : fail('forbidden', 'You are not a member of that merchant.');
    }
    const session = await users.openSession(userId, `merchant:${membership.merchantId}`);
    return ok({ session, membership, memberships: all });
  }

  /** The merchant's people, oldest first; undefined for an unknown merchant. */
  async function members(merchantId: string): Promise<MerchantMember[] | undefined> {
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return undefined;
    const rows = await db
      .selectFrom('merchant_members')
      .innerJoin('users', 'users.id', 'merchant_members.user_id')
      .select([
        'merchant_members.user_id',
        'merchant_members.role',
        'merchant_members.created_at',
        'users.email_ciphertext',
      ])
      .where('merchant_members.merchant_id', '=', merchantId)
      .orderBy('merchant_members.created_at')
      .limit(merchantMembersListedMax)
      .execute();
    const listed = await Promise.all(
      rows.map(async (row) => {
        if (!isMerchantRole(row.role)) return [];
        const email = await openUserField(keyring, row.user_id, row.email_ciphertext, 'email');
        return [
          {
            userId: row.user_id,
            email: email ?? erasedLabel,
            role: row.role,
            createdAtMs: Number(row.created_at),
          },
        ];
      }),
    );
    return listed.flat();
  }

  /**
   * Removes a member, unless they are the merchant's last owner: the condition is part of the
   * delete, so a removal never leaves a merchant without an owner because of a read that went
   * stale (two owners removing each other at once on PostgreSQL can still both succeed; an
   * operator's invitation then names a new owner).
   */
  async function removeMember(
    merchantId: string,
    userId: string,
  ): Promise<Result<void, 'notFound' | 'lastOwner'>> {
    const otherOwners = db
      .selectFrom('merchant_members as other')
      .select(sql<number>`count(*)`.as('owners'))
      .where('other.merchant_id', '=', merchantId)
      .where('other.role', '=', 'owner')
      .where('other.user_id', '<>', userId);
    const deleted = await db
      .deleteFrom('merchant_members')
      .where('merchant_id', '=', merchantId)
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('role', '<>', 'owner'), eb(otherOwners, '>', 0)]))
      .executeTakeFirst();
    staffPrincipals.forget(userId);
    if (Number(deleted.numDeletedRows) === 1) return ok(undefined);
    const still = await db
      .selectFrom('merchant_members')
      .select('role')
      .where('merchant_id', '=', merchantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return still === undefined
      ? fail('notFound', 'That person is not a member of this merchant.')
      : fail('lastOwner', 'This is the merchant\u2019s last owner.');
  }

  return { personFor, signUpMerchant, addMember, memberships, logIn, members, removeMember };
}

export type MerchantPeople = ReturnType<typeof createMerchantPeople>;
