/**
 * The reads behind a user's export (user-export.ts): one function per platform table that holds
 * rows about the user, each selecting the columns the user may see. Left out on purpose: secrets
 * (the password hash, session token hashes, the processor's card token, the email's lookup tag,
 * the hash of a token withdrawal's blinded messages) and other people's data.
 */
import type { Kysely } from 'kysely';
import { keysetPages } from '../db/keyset-pages.ts';
import type { PlatformSchema } from '../db/schema.ts';

/** Rows read per query from a table where a user may have many. */
export const exportPageRows = 1_000;

type Db = Kysely<PlatformSchema>;
type Row = Record<string, unknown>;

/** Every page of a user's rows of a table with an `id`, read in id order. */
async function allPages<R extends { readonly id: string }>(
  read: (afterId: string, pageRows: number) => Promise<R[]>,
): Promise<R[]> {
  const rows: R[] = [];
  for await (const page of keysetPages((afterId, n) => read(afterId ?? '', n), exportPageRows)) {
    rows.push(...page);
  }
  return rows;
}

export function paymentsOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('payments')
      .innerJoin('merchants', 'merchants.id', 'payments.merchant_id')
      .select([
        'payments.id as id',
        'payments.merchant_id',
        'merchants.name as merchant_name',
        'payments.offer_id',
        'payments.resource',
        'payments.challenge_id',
        'payments.amount_micros',
        'payments.list_price_micros',
        'payments.state',
        'payments.failure_code',
        'payments.legs',
        'payments.access_until',
        'payments.created_at',
        'payments.completed_at',
        'payments.idempotency_key',
        'payments.details_erased_at',
      ])
      .where('payments.user_id', '=', userId)
      .where('payments.id', '>', afterId)
      .orderBy('payments.id')
      .limit(pageRows)
      .execute(),
  );
}

/** The refunds of these payments (the user's), by the index of refunds by payment. */
export async function refundsOf(db: Db, paymentIds: readonly string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (let start = 0; start < paymentIds.length; start += exportPageRows) {
    const page = await db
      .selectFrom('refunds')
      .select(['id', 'payment_id', 'merchant_id', 'amount_micros', 'state', 'failure_code'])
      .select(['requested_by', 'reason', 'created_at', 'completed_at'])
      .where('payment_id', 'in', paymentIds.slice(start, start + exportPageRows))
      .orderBy('id')
      .execute();
    rows.push(...page);
  }
  return rows;
}

export function topUpsOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('topups')
      .select(['id', 'amount_micros', 'fee_micros', 'provider', 'sandbox', 'charge_id'])
      .select(['card_last4', 'state', 'failure_code', 'created_at', 'completed_at'])
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute(),
  );
}

export function policyDecisionsOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('policy_decisions')
      .select(['id', 'subject', 'merchant_id', 'amount_micros', 'verdict', 'rule', 'reason'])
      .select(['created_at', 'confirmed_at', 'consumed_at', 'consumed_by'])
      .select(['review_state', 'reviewed_at'])
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute(),
  );
}

/** Ids, amounts, states and times only: nothing that would link a withdrawal to its tokens. */
export function tokenWithdrawalsOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('token_withdrawals')
      .select(['id', 'amount_micros', 'state', 'created_at', 'completed_at'])
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute(),
  );
}

/**
 * The user's payment sessions, with what each held, accepted and settled. The voucher commitment
 * (a PayWord anchor or a public key) is the client's, and says nothing more about the user; the
 * last accepted proof is left out, as a receipt's signature would be.
 */
export function paymentSessionsOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('payment_sessions')
      .select(['id', 'merchant_id', 'resource', 'unit_price_micros', 'unit_type', 'voucher_kind'])
      .select(['deposit_micros', 'accepted_micros', 'settled_micros', 'state', 'close_reason'])
      .select(['payment_id', 'opened_at', 'closed_at'])
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute(),
  );
}

/** Every change of the user's own limits, oldest first. */
export function limitChangesOf(db: Db, userId: string): Promise<Row[]> {
  return allPages((afterId, pageRows) =>
    db
      .selectFrom('limit_changes')
      .select(['id', 'scope', 'old_limit_micros', 'new_limit_micros', 'direction'])
      .select(['confirmed_by', 'changed_at'])
      .where('user_id', '=', userId)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(pageRows)
      .execute(),
  );
}

/**
 * The requests for a guardian's consent the user made (as minor) or was named in (as guardian),
 * with the user's role in each; the other person is left out (another person's id is theirs).
 */
export async function guardianConsentsOf(db: Db, userId: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [role, column] of [
    ['minor', 'minor_user_id'],
    ['guardian', 'guardian_user_id'],
  ] as const) {
    const mine = await db
      .selectFrom('guardian_consents')
      .select(['id', 'state', 'requested_at', 'granted_at', 'withdrawn_at'])
      .where(column, '=', userId)
      .orderBy('id')
      .execute();
    rows.push(...mine.map((row) => ({ role, ...row })));
  }
  return rows;
}

/** The sessions, without their token hashes: when each started, ends or ended, and for what. */
export function sessionsOf(db: Db, userId: string): Promise<Row[]> {
  return db
    .selectFrom('sessions')
    .select(['acting_as', 'created_at', 'expires_at', 'revoked_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

/** Rows of small per-user tables: at most one per user, or one per merchant or offer. */
export async function smallTablesOf(db: Db, userId: string): Promise<Record<string, Row[]>> {
  return {
    offer_access: await db
      .selectFrom('offer_access')
      .select(['offer_id', 'payment_id', 'access_until'])
      .where('user_id', '=', userId)
      .orderBy('offer_id')
      .execute(),
    // Whether and when the account was frozen; not which operator froze or lifted it.
    account_freezes: await db
      .selectFrom('account_freezes')
      .select(['id', 'decision_id', 'frozen_at', 'lifted_at'])
      .where('user_id', '=', userId)
      .orderBy('frozen_at')
      .execute(),
    wallet_budgets: await db
      .selectFrom('wallet_budgets')
      .select(['max_per_payment_micros', 'max_per_origin_per_day_micros', 'max_total_micros'])
      .select(['approve_above_micros', 'updated_at'])
      .where('user_id', '=', userId)
      .execute(),
    user_limits: await db
      .selectFrom('user_limits')
      .select(['scope', 'limit_micros', 'updated_at'])
      .where('user_id', '=', userId)
      .orderBy('scope')
      .execute(),
    merchant_members: await db
      .selectFrom('merchant_members')
      .innerJoin('merchants', 'merchants.id', 'merchant_members.merchant_id')
      .select(['merchant_members.merchant_id', 'merchants.name as merchant_name'])
      .select(['merchant_members.role', 'merchant_members.created_at'])
      .where('merchant_members.user_id', '=', userId)
      .orderBy('merchant_members.merchant_id')
      .execute(),
    // Every grant and revoke: the history of what the user agreed to, with the texts' versions.
    consents: await db
      .selectFrom('consents')
      .select(['id', 'purpose', 'scope', 'text_version', 'granted_at'])
      .select(['revoked_at', 'revoked_text_version'])
      .where('user_id', '=', userId)
      .orderBy('granted_at')
      .execute(),
    // A row per month and cap scope: what the user spent against each monthly cap.
    monthly_spending: await db
      .selectFrom('monthly_spending')
      .select(['month', 'scope', 'spent_micros'])
      .where('user_id', '=', userId)
      .orderBy('month')
      .orderBy('scope')
      .execute(),
    operators: await db
      .selectFrom('operators')
      .select(['created_at', 'revoked_at'])
      .where('user_id', '=', userId)
      .execute(),
    merchants: await db
      .selectFrom('merchants')
      .select(['id', 'name', 'created_at'])
      .where('owner_user_id', '=', userId)
      .orderBy('id')
      .execute(),
  };
}

/**
 * The invitations sent to the user's email (`emailLookup`: its invitation lookup tag) or accepted
 * by the user; who invited is left out.
 */
export function invitationsOf(db: Db, userId: string, emailLookup: string): Promise<Row[]> {
  return db
    .selectFrom('merchant_invitations')
    .select(['id', 'merchant_id', 'role', 'created_at', 'expires_at', 'accepted_at'])
    .where((eb) => eb.or([eb('accepted_by', '=', userId), eb('email_lookup', '=', emailLookup)]))
    .orderBy('id')
    .execute();
}

/** Operators' views of the user's personal data: of the user's own record or of a top-up. */
export async function personalDataViewsOf(
  db: Db,
  userId: string,
  topUpIds: readonly string[],
): Promise<Row[]> {
  const records = [userId, ...topUpIds];
  const rows: Row[] = [];
  for (let start = 0; start < records.length; start += exportPageRows) {
    const page = await db
      .selectFrom('personal_data_views')
      .select(['id', 'operator', 'record_kind', 'record_id', 'field', 'reason', 'viewed_at'])
      .where('record_id', 'in', records.slice(start, start + exportPageRows))
      .orderBy('id')
      .execute();
    rows.push(...page);
  }
  return rows;
}

/** The requests kept for replay under the user's Idempotency-Keys (not their answers). */
export function idempotencyRecordsOf(db: Db, userId: string): Promise<Row[]> {
  return db
    .selectFrom('idempotency_records')
    .select(['idempotency_key', 'method', 'path', 'state', 'response_status'])
    .select(['created_at', 'expires_at'])
    .where('principal', '=', `user:${userId}`)
    .orderBy('created_at')
    .execute();
}

/**
 * The codes the user bought that merchants reported redeemed, and by whom as far as it concerns
 * them (themselves, another account, or one outside Mite); and the codes the user redeemed that
 * others bought, without the other person's payment. Then each merchant's pseudonym for the user.
 */
export async function redemptionsOf(db: Db, userId: string): Promise<Record<string, Row[]>> {
  const read = (role: 'bought' | 'redeemed') =>
    allPages((afterId, pageRows) =>
      db
        .selectFrom('code_redemptions')
        .innerJoin('merchants', 'merchants.id', 'code_redemptions.merchant_id')
        .select(['code_redemptions.payment_id as id', 'code_redemptions.merchant_id'])
        .select(['merchants.name as merchant_name', 'code_redemptions.redeemed_by'])
        .select(['code_redemptions.redeemed_at', 'code_redemptions.reported_at'])
        .$if(role === 'bought', (q) => q.where('code_redemptions.buyer_user_id', '=', userId))
        .$if(role === 'redeemed', (q) =>
          q
            .where('code_redemptions.redeemer_user_id', '=', userId)
            .where('code_redemptions.buyer_user_id', '!=', userId),
        )
        .where('code_redemptions.payment_id', '>', afterId)
        .orderBy('code_redemptions.payment_id')
        .limit(pageRows)
        .execute(),
    );
  const bought = (await read('bought')).map(({ id, ...row }) => ({
    role: 'bought',
    payment_id: id,
    ...row,
  }));
  const redeemed = (await read('redeemed')).map(({ id: _id, ...row }) => ({
    role: 'redeemed',
    payment_id: null,
    ...row,
  }));
  return {
    code_redemptions: [...bought, ...redeemed],
    payer_pseudonyms: await db
      .selectFrom('payer_pseudonyms')
      .innerJoin('merchants', 'merchants.id', 'payer_pseudonyms.merchant_id')
      .select(['payer_pseudonyms.merchant_id', 'merchants.name as merchant_name'])
      .select(['payer_pseudonyms.pseudonym', 'payer_pseudonyms.created_at'])
      .where('payer_pseudonyms.user_id', '=', userId)
      .orderBy('payer_pseudonyms.merchant_id')
      .execute(),
  };
}
