/**
 * Who holds access to an offer, until when (table `offer_access`, migration 0012): the database's
 * answer to "was this bought already?". A purchase of an offer with an access period claims the
 * (user, offer) row in the same transaction as its pending payment, with one conditional write:
 * a new row, or one whose access has ended. Of any number of concurrent purchases, on any number
 * of nodes, exactly one claims it; the others see who holds it and charge nothing.
 */
import type { Kysely } from 'kysely';
import { firstRow, preparedQuery } from '../db/prepared-query.ts';
import type { PlatformSchema } from '../db/schema.ts';

export interface AccessClaim {
  readonly userId: string;
  readonly offerId: string;
  readonly paymentId: string;
  /** Milliseconds since the epoch: when the access being bought ends. */
  readonly accessUntilMs: number;
  /** Milliseconds since the epoch: an access that ended by then may be bought again. */
  readonly nowMs: number;
}

/**
 * Claims the access for this payment; returns undefined when it got it, else the payment that
 * holds it (pending or succeeded, its access not ended).
 */
export async function claimOfferAccess(
  tx: Kysely<PlatformSchema>,
  claim: AccessClaim,
): Promise<string | undefined> {
  const args = {
    userId: claim.userId,
    offerId: claim.offerId,
    paymentId: claim.paymentId,
    accessUntilMs: BigInt(claim.accessUntilMs),
    nowMs: BigInt(claim.nowMs),
  };
  if ((await firstRow(claimAccess, tx, args)) !== undefined) return undefined;
  const holder = await firstRow(selectHolder, tx, args);
  if (holder === undefined) throw new Error('bug: an access claim failed with no holder');
  return holder.payment_id;
}

/** Gives the access back when the payment that claimed it failed: it bought nothing. */
export async function releaseOfferAccess(
  tx: Kysely<PlatformSchema>,
  release: { readonly userId: string; readonly offerId: string; readonly paymentId: string },
): Promise<void> {
  await releaseAccess(tx, release);
}

type ClaimArgs = {
  userId: string;
  offerId: string;
  paymentId: string;
  accessUntilMs: bigint;
  nowMs: bigint;
};

const claimAccess = preparedQuery<ClaimArgs, { payment_id: string }>((db, arg) =>
  db
    .insertInto('offer_access')
    .values({
      user_id: arg('userId'),
      offer_id: arg('offerId'),
      payment_id: arg('paymentId'),
      access_until: arg('accessUntilMs'),
    })
    .onConflict((conflict) =>
      conflict
        .columns(['user_id', 'offer_id'])
        .doUpdateSet({ payment_id: arg('paymentId'), access_until: arg('accessUntilMs') })
        .where('offer_access.access_until', '<=', arg('nowMs')),
    )
    .returning('payment_id'),
);

const selectHolder = preparedQuery<ClaimArgs, { payment_id: string }>((db, arg) =>
  db
    .selectFrom('offer_access')
    .select('payment_id')
    .where('user_id', '=', arg('userId'))
    .where('offer_id', '=', arg('offerId')),
);

const releaseAccess = preparedQuery<{ userId: string; offerId: string; paymentId: string }, never>(
  (db, arg) =>
    db
      .deleteFrom('offer_access')
      .where('user_id', '=', arg('userId'))
      .where('offer_id', '=', arg('offerId'))
      .where('payment_id', '=', arg('paymentId')),
);
