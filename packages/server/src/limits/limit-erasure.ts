/**
 * What erasing an account (privacy/account-erasure.ts) does to the limits' records: the user's
 * limits, their change log and their own requests for a guardian's consent are deleted (with the
 * account gone nothing acts on them); the birth date is cleared, as well as shredded with the
 * data key; a consent they gave as guardian is withdrawn, since nobody stands behind it any more.
 */
import type { Kysely } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';

/** Runs inside the erasure's transaction; answers the minors whose consent was withdrawn. */
export async function eraseLimitSettings(
  tx: Kysely<PlatformSchema>,
  userId: string,
  nowMs: number,
): Promise<string[]> {
  await tx.deleteFrom('user_limits').where('user_id', '=', userId).execute();
  await tx.deleteFrom('limit_changes').where('user_id', '=', userId).execute();
  await tx.deleteFrom('guardian_consents').where('minor_user_id', '=', userId).execute();
  await tx
    .updateTable('users')
    .set({ birth_date_ciphertext: null })
    .where('id', '=', userId)
    .execute();
  const withdrawn = await tx
    .updateTable('guardian_consents')
    .set({ state: 'withdrawn', withdrawn_at: BigInt(nowMs) })
    .where('guardian_user_id', '=', userId)
    .where('withdrawn_at', 'is', null)
    .returning('minor_user_id')
    .execute();
  return withdrawn.map((row) => row.minor_user_id);
}
