/**
 * Data upgrades run once per database at start (sealing what an older version stored in the
 * clear, say): the work and its record in `data_upgrades` commit in one transaction, so a crash
 * leaves the upgrade to run again at the next start, and a database that had it skips it. Nodes
 * starting together may both run it; the work must be harmless when run twice (conditional
 * updates), and one record stands.
 */
import type { Kysely, Transaction } from 'kysely';
import type { PlatformSchema } from './schema.ts';

/** Runs `work` unless the upgrade `name` was recorded; returns what `work` counted, else 0. */
export async function runDataUpgradeOnce(
  db: Kysely<PlatformSchema>,
  name: string,
  nowMs: number,
  work: (tx: Transaction<PlatformSchema>) => Promise<number>,
): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const done = await tx
      .selectFrom('data_upgrades')
      .select('name')
      .where('name', '=', name)
      .executeTakeFirst();
    if (done !== undefined) return 0;
    const counted = await work(tx);
    await tx
      .insertInto('data_upgrades')
      .values({ name, done_at: BigInt(nowMs) })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .execute();
    return counted;
  });
}
