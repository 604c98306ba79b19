/**
 * Every top-up records whether it was a sandbox (test-mode) charge, in which no real money moved:
 * 1 for the built-in sandbox processor and a processor's test mode, else 0. Top-ups before this
 * migration were all taken by the sandbox, the only processor there was.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('topups')
    .addColumn('sandbox', 'integer', (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`sandbox in (0, 1)`),
    )
    .execute();
  await sql`update topups set sandbox = 1 where provider = 'sandbox'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('topups').dropColumn('sandbox').execute();
}
