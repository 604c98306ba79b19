import type { Kysely } from 'kysely';
import type { PlatformSchema } from '../db/schema.ts';

/**
 * When a key was last used, shown to its owner so that unused or unexpectedly busy keys stand
 * out. Recorded with a conditional write at most once per resolution per key, so that a busy key
 * costs no write on each request: the time shown is at most this much older than the real one.
 */
export const keyLastUsedResolutionMs = 60_000;

/** Whether a key last used at `lastUsedAtMs` (null: never) should have its use recorded now. */
export function keyUseDue(lastUsedAtMs: bigint | null, nowMs: number): boolean {
  return lastUsedAtMs === null || BigInt(nowMs) - lastUsedAtMs >= BigInt(keyLastUsedResolutionMs);
}

/** Milliseconds since the epoch, or null, from a stored time. */
export function msOrNull(stored: bigint | null): number | null {
  return stored === null ? null : Number(stored);
}

/**
 * Notes that a key was used, at most once per keyLastUsedResolutionMs (one write, if due).
 * Conditional, so that nodes and concurrent requests seeing the same stale time write once.
 */
export async function recordKeyUse(
  db: Kysely<PlatformSchema>,
  table: 'api_keys' | 'admin_keys',
  key: { readonly id: string; readonly last_used_at: bigint | null },
  nowMs: number,
): Promise<void> {
  if (!keyUseDue(key.last_used_at, nowMs)) return;
  await db
    .updateTable(table)
    .set({ last_used_at: BigInt(nowMs) })
    .where('id', '=', key.id)
    .where((eb) =>
      eb.or([
        eb('last_used_at', 'is', null),
        eb('last_used_at', '<=', BigInt(nowMs - keyLastUsedResolutionMs)),
      ]),
    )
    .execute();
}
