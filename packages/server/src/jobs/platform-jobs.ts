/**
 * The platform's background upkeep, on every node (each job is safe to run on several at once):
 * - finishing payments and top-ups that a crash left pending (their fixed transfer ids make
 *   finishing twice harmless, and each row's state changes once, conditionally);
 * - deleting idempotency records past their retention, so that the table does not grow forever.
 */
import type { FastifyBaseLogger } from 'fastify';
import { startPeriodicJob } from './periodic-job.ts';

/** How often pending payments and top-ups past their grace period are looked for. */
export const reconcileIntervalMs = 10_000;
/** How often expired idempotency records are deleted. */
export const idempotencyPurgeIntervalMs = 10 * 60_000;

export interface PlatformJobsDeps {
  readonly payments: { reconcilePending(): Promise<number> };
  readonly topUps: { reconcilePending(): Promise<number> };
  readonly idempotency: { purgeExpired(): Promise<number> };
  readonly logger: Pick<FastifyBaseLogger, 'info' | 'error'>;
  /** Tests run the jobs more often. */
  readonly intervalsMs?: { readonly reconcile?: number; readonly purge?: number };
}

export interface PlatformJobs {
  stop(): Promise<void>;
}

export function startPlatformJobs(deps: PlatformJobsDeps): PlatformJobs {
  const { logger } = deps;
  const onError = (job: string) => (error: unknown) =>
    logger.error({ err: error, job }, 'background job failed');
  const jobs = [
    startPeriodicJob({
      intervalMs: deps.intervalsMs?.reconcile ?? reconcileIntervalMs,
      run: async () => {
        const payments = await deps.payments.reconcilePending();
        const topUps = await deps.topUps.reconcilePending();
        if (payments + topUps > 0) logger.info({ payments, topUps }, 'finished interrupted work');
        return false;
      },
      onError: onError('reconcile'),
    }),
    startPeriodicJob({
      intervalMs: deps.intervalsMs?.purge ?? idempotencyPurgeIntervalMs,
      run: async () => {
        const deleted = await deps.idempotency.purgeExpired();
        if (deleted > 0) logger.info({ deleted }, 'deleted expired idempotency records');
        return false;
      },
      onError: onError('idempotency purge'),
    }),
  ];
  return {
    async stop() {
      await Promise.all(jobs.map((job) => job.stop()));
    },
  };
}
