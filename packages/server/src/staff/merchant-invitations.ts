/**
 * Invitations into a merchant: an operator or an owner names an email and a role and gets a
 * one-time link; whoever opens it sets a password (or, if the email has an account, enters
 * theirs) and becomes a member. The token is stored only as its hash, the email only encrypted
 * (with a lookup tag), and the link works once: accepting is a conditional write on the
 * invitation, so of two acceptances at once exactly one makes a member.
 */
import { randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { hashSecret } from '../auth/secrets.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { DataKeyring } from '../privacy/data-keys.ts';
import { normaliseEmail, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { fail, ok, type Result } from '../result.ts';
import type { MerchantPeople } from './merchant-people.ts';
import type { MerchantRole } from './staff-roles.ts';

/** How long an invitation link works. */
export const invitationTtlMs = 7 * 24 * 60 * 60 * 1000;
/** Random bytes in an invitation token (256 bits, as sessions'). */
const invitationTokenBytes = 32;
const invitationLookupPurpose = 'invitation-email';

/** The dashboard page that accepts an invitation; the token goes in the fragment, never to a server log. */
export function acceptPath(token: string): string {
  return `/dashboard/accept/#token=${token}`;
}

export interface MerchantInvitationsDeps {
  readonly platform: PlatformDb;
  readonly people: Pick<MerchantPeople, 'addMember' | 'memberships' | 'personFor'>;
  /** Computes the email's lookup tag (the platform's key). */
  readonly cipher: PersonalDataCipher;
  /** Seals the email under the invitation's own data key, destroyed once it is accepted. */
  readonly keyring: DataKeyring;
  readonly clock: () => number;
}

export function createMerchantInvitations(deps: MerchantInvitationsDeps) {
  const { platform, people, cipher, clock } = deps;
  const db = platform.db;

  async function invite(input: {
    merchantId: string;
    email: string;
    role: MerchantRole;
    invitedBy: string;
  }): Promise<
    Result<{ invitationId: string; token: string; expiresAtMs: number }, 'merchantNotFound'>
  > {
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', input.merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    const id = `inv_${uuidv7()}`;
    const token = randomBytes(invitationTokenBytes).toString('base64url');
    const email = normaliseEmail(input.email);
    const nowMs = clock();
    const expiresAtMs = nowMs + invitationTtlMs;
    const dataKey = await deps.keyring.keyFor(`invitation:${id}`);
    await db
      .insertInto('merchant_invitations')
      .values({
        id,
        merchant_id: input.merchantId,
        token_hash: hashSecret(token),
        email_lookup: cipher.lookupTag(email, invitationLookupPurpose),
        email_ciphertext: dataKey.encrypt(email, `invitation:${id}:email`),
        role: input.role,
        invited_by: input.invitedBy,
        created_at: BigInt(nowMs),
        expires_at: BigInt(expiresAtMs),
        accepted_at: null,
        accepted_by: null,
      })
      .execute();
    return ok({ invitationId: id, token, expiresAtMs });
  }

  /**
   * Accepts an invitation with the invited person's password: a new account for the invited
   * email when it has none, else that account's password. The invitation is claimed before the
   * membership is written: a crash between uses the link up without a member (the inviter sends
   * another), never makes two members of one link.
   */
  async function accept(input: {
    token: string;
    password: string;
  }): Promise<
    Result<
      { userId: string; merchantId: string; role: MerchantRole },
      'invitationNotFound' | 'invalidCredentials' | 'validationFailed' | 'emailTaken'
    >
  > {
    const nowMs = clock();
    const invitation = await db
      .selectFrom('merchant_invitations')
      .selectAll()
      .where('token_hash', '=', hashSecret(input.token))
      .where('accepted_at', 'is', null)
      .where('expires_at', '>', BigInt(nowMs))
      .executeTakeFirst();
    if (invitation === undefined) return fail('invitationNotFound');
    const dataKey = await deps.keyring.existingKeyFor(`invitation:${invitation.id}`);
    if (dataKey === undefined || dataKey === 'erased') return fail('invitationNotFound');
    const email = dataKey.decrypt(invitation.email_ciphertext, `invitation:${invitation.id}:email`);
    const person = await people.personFor(
      { email, password: input.password },
      'The invited email has an account: enter its password to accept.',
    );
    if (!person.ok) return person;
    const claimed = await db
      .updateTable('merchant_invitations')
      .set({ accepted_at: BigInt(nowMs), accepted_by: person.value })
      .where('id', '=', invitation.id)
      .where('accepted_at', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return fail('invitationNotFound');
    // The email now lives in the person's own record: the invitation's copy is shredded.
    await deps.keyring.destroy(`invitation:${invitation.id}`);
    await people.addMember(invitation.merchant_id, person.value, invitation.role);
    const role =
      (await people.memberships(person.value)).find((m) => m.merchantId === invitation.merchant_id)
        ?.role ?? invitation.role;
    return ok({ userId: person.value, merchantId: invitation.merchant_id, role });
  }

  return { invite, accept };
}

export type MerchantInvitations = ReturnType<typeof createMerchantInvitations>;
