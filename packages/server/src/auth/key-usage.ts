/**
 * When a key was last used, shown to its owner so that unused or unexpectedly busy keys stand
 * out. Recorded with a conditional write at most once per resolution per key, so that a busy key
 * costs no write on each request: the time shown is at most this much older than the real one.
 */
export const keyLastUsedResolutionMs = 60_000;

/** Whether a key last used at `lastUsedAt` (null: never) should have its use recorded now. */
export function keyUseDue(lastUsedAt: bigint | null, nowMs: number): boolean {
  return lastUsedAt === null || BigInt(nowMs) - lastUsedAt >= BigInt(keyLastUsedResolutionMs);
}

/** Milliseconds since the epoch, or null, from a stored time. */
export function msOrNull(stored: bigint | null): number | null {
  return stored === null ? null : Number(stored);
}
