/**
 * Merchants' reports that a code was redeemed (issue 15, cash-out: "codes redeemed by another
 * account"). A merchant that sells codes (gift cards, game currency; classed resellable by the
 * operator) reports that the code a payment bought was redeemed, and by whom as it sees them:
 * the redeemer's pseudonym at that merchant for a Mite user it knows, or no one for an account
 * outside Mite. The platform resolves the pseudonym to a user (payments/payer-pseudonyms.ts) and
 * keeps one report per payment (`code_redemptions`, keyed by the payment): a second report with
 * the same content is the first one's answer, one with other content a conflict. The database's
 * key decides, never a read before the write.
 *
 * The risk rules (`codeRedemption` in rule-set.ts) read these reports when they decide
 * (`factsFor`): the times codes a user bought were redeemed by other accounts, and, for each
 * other buyer whose codes a user redeemed, the latest such time. Both are read from the table by
 * index, so they survive a restart and are the same on every node; the redeemer's, asked on every
 * purchase and top-up, are kept per user for a few seconds (`redeemerFactsCacheMs`), and a report
 * made on this node drops its users' at once.
 *
 * Reports are kept `redemptionReportRetentionMs` (as long as the longest window a rule may count
 * over) from the redemption, then deleted by the retention purge.
 */
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { CodeRedemptionRow, PlatformSchema, RedeemedBy } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { RedemptionFacts, RedemptionsNeeded } from './risk-engine.ts';
import { redemptionWindowSecondsMax, riskEventsPerKeyMax } from './rule-set.ts';

/** How long a report is kept after the redemption: the longest window a rule counts over. */
export const redemptionReportRetentionMs = redemptionWindowSecondsMax * 1000;

/** How far ahead of the platform's clock a reported redemption time may be (clocks differ). */
export const redemptionClockSkewMs = 5 * 60_000;

/**
 * Expired reports deleted per statement by `purgeExpired`, so that no purge holds the database
 * (and its write lock, on SQLite) for long however much expired.
 */
export const redemptionPurgeBatchMax = 500;

/** How long a redeemer's facts are kept in memory per user, on each node. */
export const redeemerFactsCacheMs = 5_000;

/** Users whose redeemer facts are kept in memory at most, most recently asked kept. */
export const redeemerFactsCachedMax = 100_000;

export type RedemptionFailure = 'paymentNotFound' | 'redemptionInvalid' | 'redemptionConflict';

export interface RedemptionReportInput {
  readonly merchantId: string;
  readonly paymentId: string;
  /** The redeemer's pseudonym at this merchant; absent for an account outside Mite. */
  readonly redeemer?: string | undefined;
  /** When the code was redeemed; now when not given. */
  readonly redeemedAtMs?: number | undefined;
}

export interface RedemptionReport {
  readonly paymentId: string;
  readonly merchantId: string;
  readonly buyerUserId: string;
  readonly redeemerUserId: string | null;
  readonly redeemedBy: RedeemedBy;
  readonly redeemedAtMs: number;
  readonly reportedAtMs: number;
}

export interface RedemptionReportsDeps {
  readonly db: Kysely<PlatformSchema>;
  readonly clock: () => number;
  /** The user a merchant knows by a pseudonym (payments/payer-pseudonyms.ts). */
  readonly payerOf: (merchantId: string, pseudonym: string) => Promise<string | undefined>;
}

function reportOf(row: CodeRedemptionRow): RedemptionReport {
  return {
    paymentId: row.payment_id,
    merchantId: row.merchant_id,
    buyerUserId: row.buyer_user_id,
    redeemerUserId: row.redeemer_user_id,
    redeemedBy: row.redeemed_by,
    redeemedAtMs: Number(row.redeemed_at),
    reportedAtMs: Number(row.reported_at),
  };
}

/** Why a stored report and a new one for the same payment differ, if they do. */
function difference(stored: RedemptionReport, wanted: RedemptionReport, timeGiven: boolean) {
  if (stored.redeemerUserId !== wanted.redeemerUserId) {
    return 'it was reported redeemed by another account';
  }
  if (timeGiven && stored.redeemedAtMs !== wanted.redeemedAtMs) {
    return `it was reported redeemed at ${new Date(stored.redeemedAtMs).toISOString()}`;
  }
  return undefined;
}

export function createRedemptionReports(deps: RedemptionReportsDeps) {
  const { db, clock } = deps;
  const redeemerFacts = new LRUCache<string, number[]>({
    max: redeemerFactsCachedMax,
    ttl: redeemerFactsCacheMs,
  });

  /** The payment a report is about, once it is this merchant's and succeeded. */
  async function paymentFor(merchantId: string, paymentId: string) {
    const payment = await db
      .selectFrom('payments')
      .innerJoin('merchants', 'merchants.id', 'payments.merchant_id')
      .select(['payments.user_id', 'payments.state', 'payments.created_at'])
      .select('merchants.resellable')
      .where('payments.id', '=', paymentId)
      .where('payments.merchant_id', '=', merchantId)
      .executeTakeFirst();
    if (payment === undefined) return fail('paymentNotFound');
    if (payment.state !== 'succeeded') {
      return fail('redemptionInvalid', `the payment ${paymentId} did not succeed: it sold no code`);
    }
    if (payment.resellable !== 1) {
      return fail(
        'redemptionInvalid',
        'this merchant is not classed as selling codes (resellable goods); the operator ' +
          'classes merchants (PUT /v1/merchants/{id}/spending-class)',
      );
    }
    return ok({ buyerUserId: payment.user_id, boughtAtMs: Number(payment.created_at) });
  }

  /** When the code was redeemed, once it lies between its purchase and now. */
  function redeemedAtOf(given: number | undefined, boughtAtMs: number, nowMs: number) {
    const atMs = given ?? nowMs;
    if (!Number.isSafeInteger(atMs)) return fail('redemptionInvalid', 'redeemedAt is no time');
    if (atMs > nowMs + redemptionClockSkewMs) {
      return fail('redemptionInvalid', 'redeemedAt is in the future');
    }
    if (atMs < boughtAtMs) return fail('redemptionInvalid', 'redeemedAt is before the purchase');
    if (atMs <= nowMs - redemptionReportRetentionMs) {
      return fail('redemptionInvalid', 'redeemedAt is older than redemption reports are kept');
    }
    return ok(Math.min(atMs, nowMs));
  }

  /** The Mite user who redeemed it (null: an outsider), from the merchant's pseudonym. */
  async function redeemerOf(merchantId: string, pseudonym: string | undefined) {
    if (pseudonym === undefined) return ok(null);
    const userId = await deps.payerOf(merchantId, pseudonym);
    if (userId === undefined) {
      return fail(
        'redemptionInvalid',
        'no customer of this merchant has this pseudonym; leave redeemer out for an account ' +
          'outside Mite',
      );
    }
    return ok(userId);
  }

  /**
   * Records that the payment's code was redeemed. `created` is false when the same report was
   * made before (its record answers); a report that differs from it is `redemptionConflict`.
   */
  async function report(
    input: RedemptionReportInput,
  ): Promise<Result<{ report: RedemptionReport; created: boolean }, RedemptionFailure>> {
    const nowMs = clock();
    const payment = await paymentFor(input.merchantId, input.paymentId);
    if (!payment.ok) return payment;
    const { buyerUserId, boughtAtMs } = payment.value;
    const redeemedAt = redeemedAtOf(input.redeemedAtMs, boughtAtMs, nowMs);
    if (!redeemedAt.ok) return redeemedAt;
    const redeemer = await redeemerOf(input.merchantId, input.redeemer);
    if (!redeemer.ok) return redeemer;
    const redeemerUserId = redeemer.value;
    const wanted: RedemptionReport = {
      paymentId: input.paymentId,
      merchantId: input.merchantId,
      buyerUserId,
      redeemerUserId,
      redeemedBy:
        redeemerUserId === null
          ? 'outside'
          : redeemerUserId === buyerUserId
            ? 'buyer'
            : 'otherUser',
      redeemedAtMs: redeemedAt.value,
      reportedAtMs: nowMs,
    };
    if (await insert(wanted)) {
      if (redeemerUserId !== null) redeemerFacts.delete(redeemerUserId);
      return ok({ report: wanted, created: true });
    }
    const stored = await get(input.paymentId);
    if (stored === undefined) throw new Error(`bug: report of ${input.paymentId} vanished`);
    const differs = difference(stored, wanted, input.redeemedAtMs !== undefined);
    if (differs !== undefined) {
      return fail('redemptionConflict', `this payment's code was reported already: ${differs}`);
    }
    return ok({ report: stored, created: false });
  }

  /** Inserts the report unless one for its payment exists: whether it was inserted. */
  async function insert(wanted: RedemptionReport): Promise<boolean> {
    const inserted = await db
      .insertInto('code_redemptions')
      .values({
        payment_id: wanted.paymentId,
        merchant_id: wanted.merchantId,
        buyer_user_id: wanted.buyerUserId,
        redeemer_user_id: wanted.redeemerUserId,
        redeemed_by: wanted.redeemedBy,
        redeemed_at: BigInt(wanted.redeemedAtMs),
        reported_at: BigInt(wanted.reportedAtMs),
      })
      .onConflict((conflict) => conflict.column('payment_id').doNothing())
      .executeTakeFirst();
    return (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
  }

  async function get(paymentId: string): Promise<RedemptionReport | undefined> {
    const row = await db
      .selectFrom('code_redemptions')
      .selectAll()
      .where('payment_id', '=', paymentId)
      .executeTakeFirst();
    return row === undefined ? undefined : reportOf(row);
  }

  /** A merchant's reports, newest first, `limit` of them after `before`. */
  async function list(
    merchantId: string,
    limit: number,
    before?: { readonly atMs: bigint; readonly paymentId: string },
  ): Promise<RedemptionReport[]> {
    const rows = await db
      .selectFrom('code_redemptions')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .$if(before !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('reported_at', '<', before?.atMs ?? 0n),
            eb.and([
              eb('reported_at', '=', before?.atMs ?? 0n),
              eb('payment_id', '<', before?.paymentId ?? ''),
            ]),
          ]),
        ),
      )
      .orderBy('reported_at', 'desc')
      .orderBy('payment_id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(reportOf);
  }

  return { report, list, ...createRedemptionFacts(deps, redeemerFacts) };
}

/** The reads the risk rules decide by, and the retention purge. */
function createRedemptionFacts(
  deps: RedemptionReportsDeps,
  redeemerFacts: LRUCache<string, number[]>,
) {
  const { db, clock } = deps;

  /** When codes the user bought were redeemed by other accounts, newest first. */
  async function byOthersOf(userId: string, sinceMs: number): Promise<number[]> {
    const rows = await db
      .selectFrom('code_redemptions')
      .select('redeemed_at')
      .where('buyer_user_id', '=', userId)
      .where('redeemed_at', '>=', BigInt(sinceMs))
      .where('redeemed_by', '!=', 'buyer')
      .orderBy('redeemed_at', 'desc')
      .limit(riskEventsPerKeyMax)
      .execute();
    return rows.map((row) => Number(row.redeemed_at));
  }

  /** For each other buyer whose codes the user redeemed: the latest time, newest first. */
  async function otherBuyersOf(userId: string, sinceMs: number): Promise<number[]> {
    const cached = redeemerFacts.get(userId);
    if (cached !== undefined) return cached;
    const rows = await db
      .selectFrom('code_redemptions')
      .select((eb) => eb.fn.max('redeemed_at').as('latest'))
      .where('redeemer_user_id', '=', userId)
      .where('redeemed_at', '>=', BigInt(sinceMs))
      .where('redeemed_by', '=', 'otherUser')
      .groupBy('buyer_user_id')
      .orderBy('latest', 'desc')
      .limit(riskEventsPerKeyMax)
      .execute();
    const times = rows.map((row) => Number(row.latest));
    redeemerFacts.set(userId, times);
    return times;
  }

  /**
   * The facts the rules in force need (`needed`), over the longest window any rule may count
   * over: each rule counts those within its own.
   */
  async function factsFor(
    userId: string,
    atMs: number,
    needed: RedemptionsNeeded,
  ): Promise<RedemptionFacts> {
    const sinceMs = atMs - redemptionReportRetentionMs + 1;
    return {
      byOthersAtMs: needed.asBuyer ? await byOthersOf(userId, sinceMs) : [],
      otherBuyersLatestAtMs: needed.asRedeemer ? await otherBuyersOf(userId, sinceMs) : [],
    };
  }

  /**
   * Deletes the reports of redemptions past their retention, `redemptionPurgeBatchMax` per
   * statement (each its own transaction) until one finds fewer; how many.
   */
  async function purgeExpired(batchRows = redemptionPurgeBatchMax): Promise<number> {
    const expiredAt = BigInt(clock() - redemptionReportRetentionMs);
    let deleted = 0;
    for (;;) {
      const result = await db
        .deleteFrom('code_redemptions')
        .where('payment_id', 'in', (eb) =>
          eb
            .selectFrom('code_redemptions')
            .select('payment_id')
            .where('redeemed_at', '<=', expiredAt)
            .orderBy('redeemed_at')
            .limit(batchRows),
        )
        .executeTakeFirst();
      const count = Number(result.numDeletedRows);
      deleted += count;
      if (count < batchRows) return deleted;
    }
  }

  return { factsFor, purgeExpired };
}

export type RedemptionReports = ReturnType<typeof createRedemptionReports>;
