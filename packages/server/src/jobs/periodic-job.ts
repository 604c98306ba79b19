/**
 * A job that runs every `intervalMs`, or again at once while it says more is waiting (a backlog).
 * Runs never overlap; the timer does not keep the process alive; a failed run is reported and the
 * job carries on. Every node of a platform runs its own: each job is safe to run on several nodes
 * at once (its writes are conditional, or claimed first).
 */

/** How a job waits between runs: the process's timers, or a test's fake ones. */
export interface JobTimers {
  /** Calls `callback` after `delayMs`, without keeping the process alive; returns its cancel. */
  after(delayMs: number, callback: () => void): () => void;
}

export const realTimers: JobTimers = {
  after(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface PeriodicJobOptions {
  /** One run; resolves true when more is waiting and the next run should start at once. */
  readonly run: () => Promise<boolean>;
  readonly intervalMs: number;
  /** Before the first run; 0 by default. */
  readonly firstDelayMs?: number;
  /** Told of a failed run (the database unreachable...). */
  readonly onError?: (error: unknown) => void;
  /** realTimers by default. */
  readonly timers?: JobTimers;
}

export interface PeriodicJob {
  /** Stops the job and waits for the run in progress, if any, to end. */
  stop(): Promise<void>;
}

export function startPeriodicJob(options: PeriodicJobOptions): PeriodicJob {
  const timers = options.timers ?? realTimers;
  let stopped = false;
  let cancel: (() => void) | undefined;
  let running: Promise<void> | undefined;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    cancel = timers.after(delayMs, () => {
      cancel = undefined;
      running = runOnce().finally(() => {
        running = undefined;
      });
    });
  };

  async function runOnce(): Promise<void> {
    let more = false;
    try {
      more = await options.run();
    } catch (error) {
      options.onError?.(error);
    }
    schedule(more ? 0 : options.intervalMs);
  }

  schedule(options.firstDelayMs ?? 0);
  return {
    async stop() {
      stopped = true;
      cancel?.();
      cancel = undefined;
      await running;
    },
  };
}
