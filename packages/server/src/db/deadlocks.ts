/**
 * PostgreSQL breaks a deadlock by aborting one transaction of the cycle (SQLSTATE 40P01); the
 * aborted transaction changed nothing, so running it again is safe. Transactions that lock
 * several rows of a shared set (tokens being spent) take them in one order, which rules out
 * cycles between two of them; a batch of several units (transaction-batcher.ts) has no single
 * order, so such a unit can still be chosen as the victim and is run again here.
 */

/** Attempts at a unit before a deadlock is reported as the failure it is. */
export const deadlockAttemptsMax = 5;

const deadlockDetected = '40P01';

export function isDeadlock(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === deadlockDetected
  );
}

/** Runs `attempt` again while PostgreSQL chose it as a deadlock's victim, a few times at most. */
export async function retryingDeadlocks<T>(attempt: () => Promise<T>): Promise<T> {
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      if (attempts >= deadlockAttemptsMax || !isDeadlock(error)) throw error;
    }
  }
}
