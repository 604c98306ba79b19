/**
 * The platform's background upkeep, on every node (each job is safe to run on several at once):
 * - finishing payments, refunds and top-ups that a crash left pending (their fixed transfer ids
 *   make finishing twice harmless, and each row's state changes once, conditionally); a
 *   purchase's record, once finished, answers the retry of its cut-off request, and a refund
 *   finished frees what it held of its payment;
 * - folding completed payments and refunds into the merchants' report totals
 *   (reports/report-rollup.ts: one node's run commits, the others' change nothing);
 * - finishing token deposits a crash left pending, the same way;
 * - deleting idempotency records, webhook events and merchants' code redemption reports past
 *   their retention, and spent-set rows of token keys that no longer take tokens, so that none of
 *   these tables grows forever;
 * - while a master-key rotation runs (previous keys configured), rewrapping the data keys under
 *   the new master key, a small batch per transaction (privacy/data-keys.ts).
 * - settling payment sessions whose time has come (sessions/session-closing.ts `sweepDue`);
 * - erasing what old purchases were for, once past its retention, into per-merchant daily totals
 *   (retention/purchase-compaction.ts: one node's run commits, a batch at a time).
 */
import type { FastifyBaseLogger } from 'fastify';
import { reportRollupIntervalMs } from '../reports/report-rollup.ts';
import { sessionSweepBatchMax } from '../sessions/session-closing.ts';
import { type JobTimers, startPeriodicJob } from './periodic-job.ts';

/** How often pending payments, refunds and top-ups past their grace period are looked for. */
export const reconcileIntervalMs = 10_000;
/** How often expired idempotency records and webhook events are deleted. */
export const retentionPurgeIntervalMs = 10 * 60_000;
/**
 * How often payment sessions whose time has come are looked for (idle, at the end of their
 * lifetime or of a client's close grace, or cut off by a crash): one probe of a small index.
 */
export const sessionSweepIntervalMs = 1_000;
/** How often data keys under a previous master key are looked for, while a rotation runs. */
export const rewrapIntervalMs = 60_000;

export interface PlatformJobsDeps {
  readonly payments: { reconcilePending(): Promise<number> };
  readonly refunds: { reconcilePending(): Promise<number> };
  readonly topUps: { reconcilePending(): Promise<number> };
  readonly tokenDeposits: { reconcilePending(): Promise<number> };
  /** Deletes spent-set rows of keys that no longer take tokens. */
  readonly spentTokens: { purgeExpired(): Promise<number> };
  readonly idempotency: { purgeExpired(): Promise<number> };
  readonly webhookRetention: { purgeExpired(): Promise<number> };
  /** Merchants' code redemption reports (risk/redemption-reports.ts); absent in older tests. */
  readonly redemptions?: { purgeExpired(): Promise<number> };
  readonly reportRollup: { runOnce(): Promise<boolean> };
  /** Settles the payment sessions due; absent in worlds built before sessions. */
  readonly paymentSessions?: { sweepDue(): Promise<number> };
  /** Absent or not rotating: no rewrap job. */
  readonly keyring?: { readonly rotating: boolean; rewrapBatch(): Promise<number> };
  /** Absent in worlds that do not compact purchases (older tests of this module). */
  readonly purchaseCompaction?: {
    runOnce(): Promise<{ readonly compacted: number; readonly more: boolean }>;
  };
  readonly logger: Pick<FastifyBaseLogger, 'info' | 'error'>;
  /** Tests run the jobs more often. */
  readonly intervalsMs?: {
    readonly reconcile?: number;
    readonly purge?: number;
    readonly reportRollup?: number;
    readonly rewrap?: number;
    readonly purchaseCompaction?: number;
    readonly sessionSweep?: number;
  };
  /** The process's timers by default; tests pass fake ones and move time themselves. */
  readonly timers?: JobTimers;
}

export interface PlatformJobs {
  stop(): Promise<void>;
}

export function startPlatformJobs(deps: PlatformJobsDeps): PlatformJobs {
  const { logger } = deps;
  const onError = (job: string) => (error: unknown) =>
    logger.error({ err: error, job }, 'background job failed');
  const timers = deps.timers === undefined ? {} : { timers: deps.timers };
  const jobs = [
    startPeriodicJob({
      intervalMs: deps.intervalsMs?.reconcile ?? reconcileIntervalMs,
      run: async () => {
        const payments = await deps.payments.reconcilePending();
        const refunds = await deps.refunds.reconcilePending();
        const tokenDeposits = await deps.tokenDeposits.reconcilePending();
        const topUps = await deps.topUps.reconcilePending();
        if (payments + refunds + topUps + tokenDeposits > 0) {
          logger.info({ payments, refunds, topUps, tokenDeposits }, 'finished interrupted work');
        }
        return false;
      },
      onError: onError('reconcile'),
      ...timers,
    }),
    startPeriodicJob({
      intervalMs: deps.intervalsMs?.reportRollup ?? reportRollupIntervalMs,
      // A backlog (a first run over an old database) is read a page per run, one after another.
      run: () => deps.reportRollup.runOnce(),
      onError: onError('report rollup'),
      ...timers,
    }),
    startPeriodicJob({
      intervalMs: deps.intervalsMs?.purge ?? retentionPurgeIntervalMs,
      run: async () => {
        const idempotencyRecords = await deps.idempotency.purgeExpired();
        const spentTokens = await deps.spentTokens.purgeExpired();
        const webhookEvents = await deps.webhookRetention.purgeExpired();
        const redemptions = (await deps.redemptions?.purgeExpired()) ?? 0;
        if (idempotencyRecords + webhookEvents + spentTokens + redemptions > 0) {
          logger.info(
            { idempotencyRecords, webhookEvents, spentTokens, redemptions },
            'deleted records past their retention',
          );
        }
        return false;
      },
      onError: onError('retention purge'),
      ...timers,
    }),
  ];
  const { keyring } = deps;
  if (keyring?.rotating === true) {
    jobs.push(
      startPeriodicJob({
        intervalMs: deps.intervalsMs?.rewrap ?? rewrapIntervalMs,
        // A batch per transaction, one after another while any are left: serving goes on between.
        run: async () => {
          const rewrapped = await keyring.rewrapBatch();
          if (rewrapped > 0)
            logger.info({ rewrapped }, 'rewrapped data keys under the new master key');
          return rewrapped > 0;
        },
        onError: onError('data key rewrap'),
        ...timers,
      }),
    );
  }
  const { paymentSessions } = deps;
  if (paymentSessions !== undefined) {
    jobs.push(
      startPeriodicJob({
        intervalMs: deps.intervalsMs?.sessionSweep ?? sessionSweepIntervalMs,
        // A full batch means more are due: they are taken at once.
        run: async () => (await paymentSessions.sweepDue()) >= sessionSweepBatchMax,
        onError: onError('session sweep'),
        ...timers,
      }),
    );
  }
  const compaction = deps.purchaseCompaction;
  if (compaction !== undefined) {
    jobs.push(
      startPeriodicJob({
        intervalMs: deps.intervalsMs?.purchaseCompaction ?? retentionPurgeIntervalMs,
        run: async () => {
          const { compacted, more } = await compaction.runOnce();
          if (compacted > 0) logger.info({ compacted }, 'erased purchase details past retention');
          // A backlog (the first run over an old database) is taken a batch per run, at once.
          return more;
        },
        onError: onError('purchase compaction'),
        ...timers,
      }),
    );
  }
  return {
    async stop() {
      await Promise.all(jobs.map((job) => job.stop()));
    },
  };
}
