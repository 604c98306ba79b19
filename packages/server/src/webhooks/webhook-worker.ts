/**
 * The loop that sends due webhook deliveries, one per server node: nodes may run it side by side,
 * as `deliverDue` claims each attempt before sending it.
 */
import { startPeriodicJob } from '../jobs/periodic-job.ts';
import { webhookBatchSizeDefault, type WebhookDeliveryReport } from './webhook-service.ts';

/** How often a worker looks for due deliveries when the last look found less than a batch. */
export const webhookWorkerIntervalMs = 1_000;

export interface WebhookWorkerOptions {
  readonly service: { deliverDue(limit?: number): Promise<WebhookDeliveryReport> };
  readonly intervalMs?: number;
  /** Deliveries per `deliverDue` call: 1 to webhookBatchSizeMax. */
  readonly batchSize?: number;
  /** Told of a failed run (the database unreachable...); the worker carries on. */
  readonly onError?: (error: unknown) => void;
}

export interface WebhookWorker {
  /** Stops the loop and waits for the run in progress, if any, to end. */
  stop(): Promise<void>;
}

/**
 * Calls `deliverDue` every `intervalMs`, or again at once after a full batch (a backlog). The
 * timer does not keep the process alive; runs never overlap.
 */
export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const batchSize = options.batchSize ?? webhookBatchSizeDefault;
  return startPeriodicJob({
    intervalMs: options.intervalMs ?? webhookWorkerIntervalMs,
    run: async () => (await options.service.deliverDue(batchSize)).attempted >= batchSize,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
}
