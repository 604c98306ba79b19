/**
 * Streams waiting for a voucher: a stream whose accepted amount is used up waits until a voucher
 * (or a top-up, or a close) for its session arrives on another request. In one process the
 * request that accepts it wakes the waiters at once; a voucher taken by another process sharing
 * the store is found by polling the store every `pollMs`.
 */

/** How often a waiting stream looks at the store for a voucher another process accepted. */
export const voucherPollIntervalMs = 250;

export interface SessionWaiters {
  /** Resolves when the session changes here, or after `timeoutMs` at most. */
  wait(channelId: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<void>;
  notify(channelId: string): void;
}

export function createSessionWaiters(): SessionWaiters {
  const waiting = new Map<string, Set<() => void>>();
  return {
    wait(channelId, timeoutMs, signal) {
      return new Promise<void>((resolve) => {
        let set = waiting.get(channelId);
        if (set === undefined) {
          set = new Set();
          waiting.set(channelId, set);
        }
        const held = set;
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          held.delete(done);
          if (held.size === 0 && waiting.get(channelId) === held) waiting.delete(channelId);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        held.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    },
    notify(channelId) {
      const set = waiting.get(channelId);
      if (set === undefined) return;
      for (const wake of [...set]) wake();
    },
  };
}
