/**
 * What the operator console reads besides the ledger's verification: what is still pending
 * (payments, refunds, top-ups), the merchants with their payout state and balance, the top-ups
 * with their card fees, and the webhook backlog. No personal data: a top-up is shown without its
 * user, whose email only personal-data-views.ts reveals, logged.
 */
import type { Ledger } from '@mite/ledger';
import { sql } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import type { TopUpRow, TopUpState } from '../db/schema.ts';
import { openCardLast4 } from '../funding/topup-service.ts';
import { lookupBalances } from '../ledger/account-balance.ts';
import type { DataKeyring } from '../privacy/data-keys.ts';

/** Endpoints listed at most in the webhook backlog, those with most pending deliveries first. */
export const failingEndpointsListedMax = 20;

/** How far back the backlog counts deliveries given up on. */
export const webhookFailedWindowMs = 24 * 60 * 60_000;

/** Pending records of one kind: how many, how much, since when. */
export interface PendingSummary {
  readonly count: number;
  readonly amountMicros: bigint;
  readonly oldestAtMs: number | null;
}

export interface OperatorMerchant {
  readonly merchantId: string;
  readonly name: string;
  readonly createdAtMs: number;
  readonly feeBasisPoints: number;
  readonly payoutThresholdMicros: bigint;
  readonly balanceMicros: bigint;
  /** Bank details: none yet, held after a change until `payoutsHeldUntilMs`, or ready. */
  readonly bankAccount: 'none' | 'held' | 'ready';
  readonly payoutsHeldUntilMs: number | null;
  /** What it sells, for the monthly caps (limits/): `content` or `goods`, and resellable or not. */
  readonly spendingCategory: 'content' | 'goods';
  readonly resellable: boolean;
}

export interface OperatorTopUp {
  readonly id: string;
  readonly state: TopUpState;
  readonly amountMicros: bigint;
  readonly feeMicros: bigint | null;
  readonly provider: string;
  readonly sandbox: boolean;
  readonly cardLast4: string | null;
  /** The user erased their account: their personal data (the card digits too) is gone. */
  readonly userErased: boolean;
  readonly failureCode: string | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
}

/** How far a payout batch has come: its payouts by state, without their bank details. */
export interface PayoutProgress {
  readonly batchId: string;
  readonly paid: PendingSummary;
  readonly pending: PendingSummary;
  readonly failed: PendingSummary;
}

export interface FailingEndpoint {
  readonly endpointId: string;
  readonly merchantId: string | null;
  readonly url: string;
  readonly pendingCount: number;
  readonly attemptsMax: number;
  readonly oldestAtMs: number | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
}

export interface WebhookBacklog {
  readonly pendingCount: number;
  readonly dueCount: number;
  readonly oldestPendingAtMs: number | null;
  readonly failedLastDayCount: number;
  readonly failingEndpoints: readonly FailingEndpoint[];
}

export interface OperatorReadsDeps {
  readonly platform: PlatformDb;
  readonly ledger: Pick<Ledger, 'lookupAccounts'>;
  readonly clock: () => number;
  /** How long after a bank-details change payouts wait (payouts/bank-accounts.ts). */
  readonly bankChangeHoldMs: number;
  /** Opens the card digits sealed under each user's data key. */
  readonly keyring: DataKeyring;
}

/** A count, sum or minimum as the drivers give it (bigint, number or text), or null. */
function bigOrNull(value: unknown): bigint | null {
  if (value === null || value === undefined) return null;
  return BigInt(String(value));
}

const numberOrNull = (value: unknown): number | null => {
  const big = bigOrNull(value);
  return big === null ? null : Number(big);
};

type TimeCursor = { readonly atMs: bigint; readonly id: string };

export function createOperatorReads(deps: OperatorReadsDeps) {
  const { db } = deps.platform;

  /** Through each table's index of pending rows (migrations 0003, 0007, 0018). */
  async function pending(table: 'payments' | 'refunds' | 'topups'): Promise<PendingSummary> {
    const row = await db
      .selectFrom(table)
      .select((eb) => [
        eb.fn.countAll().as('count'),
        eb.fn.min('created_at').as('oldest'),
        sql<string>`sum(cast(amount_micros as bigint))`.as('total'),
      ])
      .where('state', '=', 'pending')
      .executeTakeFirstOrThrow();
    return {
      count: numberOrNull(row.count) ?? 0,
      amountMicros: bigOrNull(row.total) ?? 0n,
      oldestAtMs: numberOrNull(row.oldest),
    };
  }

  async function pendingSummary() {
    const [payments, refunds, topUps] = await Promise.all([
      pending('payments'),
      pending('refunds'),
      pending('topups'),
    ]);
    return { payments, refunds, topUps };
  }

  /** Merchants by id, after `afterId`; their balances from the ledger, one call per page. */
  async function listMerchants(options: {
    limit: number;
    afterId?: string;
  }): Promise<OperatorMerchant[]> {
    let query = db
      .selectFrom('merchants as m')
      .leftJoin('merchant_bank_accounts as b', 'b.merchant_id', 'm.id')
      .select([
        'm.id',
        'm.name',
        'm.created_at',
        'm.account_id',
        'm.fee_basis_points',
        'm.payout_threshold_micros',
        'm.spending_category',
        'm.resellable',
        'b.updated_at as bank_updated_at',
      ])
      .orderBy('m.id')
      .limit(options.limit);
    if (options.afterId !== undefined) query = query.where('m.id', '>', options.afterId);
    const rows = await query.execute();
    const balances = await lookupBalances(
      deps.ledger,
      rows.map((row) => BigInt(row.account_id)),
    );
    const nowMs = deps.clock();
    return rows.map((row) => {
      const changedAtMs = numberOrNull(row.bank_updated_at);
      const heldUntilMs = changedAtMs === null ? null : changedAtMs + deps.bankChangeHoldMs;
      const held = heldUntilMs !== null && heldUntilMs > nowMs;
      return {
        merchantId: row.id,
        name: row.name,
        createdAtMs: Number(row.created_at),
        feeBasisPoints: Number(row.fee_basis_points),
        payoutThresholdMicros: BigInt(row.payout_threshold_micros),
        balanceMicros: balances.get(BigInt(row.account_id))?.availableMicros ?? 0n,
        bankAccount: changedAtMs === null ? 'none' : held ? 'held' : 'ready',
        payoutsHeldUntilMs: held ? heldUntilMs : null,
        spendingCategory: row.spending_category === 'goods' ? 'goods' : 'content',
        resellable: Number(row.resellable) === 1,
      };
    });
  }

  const topUpColumns = [
    'id',
    'state',
    'amount_micros',
    'fee_micros',
    'provider',
    'sandbox',
    'card_last4',
    'user_id',
    'failure_code',
    'created_at',
    'completed_at',
  ] as const;
  type TopUpColumns = Pick<TopUpRow, (typeof topUpColumns)[number]>;

  /** The rows as the operator sees them: card digits opened, erased users marked. */
  async function topUpsOf(rows: readonly TopUpColumns[]): Promise<OperatorTopUp[]> {
    const userIds = [...new Set(rows.map((row) => row.user_id))];
    const erased = new Set<string>();
    if (userIds.length > 0) {
      const users = await db
        .selectFrom('users')
        .select(['id', 'erased_at'])
        .where('id', 'in', userIds)
        .execute();
      for (const user of users) if (user.erased_at !== null) erased.add(user.id);
    }
    return Promise.all(
      rows.map(async (row) => {
        const userErased = erased.has(row.user_id);
        const cardLast4 = userErased ? null : await openCardLast4(deps.keyring, row);
        return topUpOf(row, cardLast4, userErased);
      }),
    );
  }

  function topUpOf(
    row: {
      id: string;
      state: TopUpState;
      amount_micros: string;
      fee_micros: string | null;
      provider: string;
      sandbox: number;
      failure_code: string | null;
      created_at: bigint;
      completed_at: bigint | null;
    },
    cardLast4: string | null,
    userErased: boolean,
  ): OperatorTopUp {
    return {
      id: row.id,
      state: row.state,
      amountMicros: BigInt(row.amount_micros),
      feeMicros: row.fee_micros === null ? null : BigInt(row.fee_micros),
      provider: row.provider,
      sandbox: Number(row.sandbox) === 1,
      cardLast4,
      userErased,
      failureCode: row.failure_code,
      createdAtMs: Number(row.created_at),
      completedAtMs: numberOrNull(row.completed_at),
    };
  }

  /** Every user's top-ups, newest first, through `topups_by_time` (migration 0022). */
  async function listTopUps(options: {
    limit: number;
    before?: TimeCursor;
  }): Promise<OperatorTopUp[]> {
    let query = db
      .selectFrom('topups')
      .select(topUpColumns)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit);
    const { before } = options;
    if (before !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', before.atMs),
          eb.and([eb('created_at', '=', before.atMs), eb('id', '<', before.id)]),
        ]),
      );
    }
    return topUpsOf(await query.execute());
  }

  async function getTopUp(id: string): Promise<OperatorTopUp | undefined> {
    const row = await db
      .selectFrom('topups')
      .select(topUpColumns)
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const [topUp] = await topUpsOf([row]);
    return topUp;
  }

  /** A batch's payouts counted and summed by state (index `payouts_by_batch`). */
  async function payoutProgress(batchId: string): Promise<PayoutProgress | undefined> {
    const batch = await db
      .selectFrom('payout_batches')
      .select('id')
      .where('id', '=', batchId)
      .executeTakeFirst();
    if (batch === undefined) return undefined;
    const rows = await db
      .selectFrom('payouts')
      .select((eb) => [
        'state',
        eb.fn.countAll().as('count'),
        eb.fn.min('created_at').as('oldest'),
        sql<string>`sum(cast(amount_micros as bigint))`.as('total'),
      ])
      .where('batch_id', '=', batchId)
      .groupBy('state')
      .execute();
    const of = (state: 'paid' | 'pending' | 'failed'): PendingSummary => {
      const row = rows.find((found) => found.state === state);
      return {
        count: numberOrNull(row?.count) ?? 0,
        amountMicros: bigOrNull(row?.total) ?? 0n,
        oldestAtMs: numberOrNull(row?.oldest),
      };
    };
    return { batchId, paid: of('paid'), pending: of('pending'), failed: of('failed') };
  }

  return {
    pendingSummary,
    payoutProgress,
    listMerchants,
    listTopUps,
    getTopUp,
    webhookBacklog: () => readWebhookBacklog(deps),
  };
}

async function readWebhookBacklog(deps: OperatorReadsDeps): Promise<WebhookBacklog> {
  const { db } = deps.platform;
  const nowMs = BigInt(deps.clock());
  const totals = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select((eb) => [
      eb.fn.countAll().as('count'),
      eb.fn.min('e.created_at').as('oldest'),
      eb.fn.sum(eb.case().when('d.next_attempt_at', '<=', nowMs).then(1).else(0).end()).as('due'),
    ])
    .where('d.state', '=', 'pending')
    .executeTakeFirstOrThrow();
  const failed = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('state', '=', 'failed')
    .where('updated_at', '>=', nowMs - BigInt(webhookFailedWindowMs))
    .executeTakeFirstOrThrow();
  const endpoints = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .innerJoin('webhook_events as e', 'e.id', 'd.event_id')
    .select((eb) => [
      'd.endpoint_id',
      'w.merchant_id',
      'w.url',
      eb.fn.countAll().as('count'),
      eb.fn.max('d.attempts').as('attempts_max'),
      eb.fn.min('e.created_at').as('oldest'),
      eb.fn.max('d.last_status').as('last_status'),
      eb.fn.max('d.last_error').as('last_error'),
    ])
    .where('d.state', '=', 'pending')
    .where('d.attempts', '>', 0)
    .groupBy(['d.endpoint_id', 'w.merchant_id', 'w.url'])
    .orderBy('count', 'desc')
    .orderBy('d.endpoint_id')
    .limit(failingEndpointsListedMax)
    .execute();
  return {
    pendingCount: numberOrNull(totals.count) ?? 0,
    dueCount: numberOrNull(totals.due) ?? 0,
    oldestPendingAtMs: numberOrNull(totals.oldest),
    failedLastDayCount: numberOrNull(failed.count) ?? 0,
    failingEndpoints: endpoints.map((row) => ({
      endpointId: row.endpoint_id,
      merchantId: row.merchant_id,
      url: row.url,
      pendingCount: numberOrNull(row.count) ?? 0,
      attemptsMax: numberOrNull(row.attempts_max) ?? 0,
      oldestAtMs: numberOrNull(row.oldest),
      lastStatus: numberOrNull(row.last_status),
      lastError: row.last_error === null ? null : String(row.last_error),
    })),
  };
}

export type OperatorReads = ReturnType<typeof createOperatorReads>;
