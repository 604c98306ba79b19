/**
 * Migration 0033 adds the review to `policy_decisions`: the decisions recorded before it are
 * kept, open for review; a token withdrawal's decision can be recorded (migration 0029 widened
 * the subject check); a note past its bound is refused by the database; on both databases.
 */
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import * as policyReview from '../db/migrations/0033-policy-review.ts';
import { forEachDialect, platformDbFor } from '../db/testing.ts';

const decision = {
  id: 'pdc_before',
  subject: 'purchase' as const,
  user_id: 'usr_1',
  merchant_id: null,
  amount_micros: '20000',
  verdict: 'block' as const,
  rule: 'test.block',
  reason: 'a test',
  created_at: 1_700_000_000_000n,
};

forEachDialect('migration 0033 (policy review)', (dialect, it) => {
  it('keeps the decisions made before it, open, and takes token withdrawals', async (t) => {
    const platformDb = await platformDbFor(t, dialect);
    const { db } = platformDb;
    await db
      .insertInto('users')
      .values({
        id: 'usr_1',
        email_lookup: 'lookup-1',
        email_ciphertext: 'Y2lwaGVy',
        password_hash: 'scrypt$hash',
        wallet_account_id: '1',
        created_at: 1_700_000_000_000n,
      })
      .execute();
    // Back to the columns before 0033, with a decision in it, then forward again.
    await policyReview.down(db as Kysely<unknown>);
    await db.insertInto('policy_decisions').values(decision).execute();
    await policyReview.up(db as Kysely<unknown>);

    const kept = await db.selectFrom('policy_decisions').selectAll().execute();
    assert.deepEqual(kept, [
      {
        ...decision,
        confirmed_at: null,
        consumed_at: null,
        consumed_by: null,
        review_state: 'open',
        reviewed_by: null,
        reviewed_at: null,
        review_note: null,
      },
    ]);
    await db
      .insertInto('policy_decisions')
      .values({ ...decision, id: 'pdc_after', subject: 'tokenWithdrawal' })
      .execute();
    await assert.rejects(
      db
        .insertInto('policy_decisions')
        .values({ ...decision, id: 'pdc_bad', review_note: 'x'.repeat(501) })
        .execute(),
      'a note longer than the bound is refused by the database too',
    );
  });
});
