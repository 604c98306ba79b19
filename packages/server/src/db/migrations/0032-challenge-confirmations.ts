/**
 * A user's confirmation of a challenged request (policy/policy-confirmations.ts), kept on the
 * decision it answers: when the user confirmed it, and when and by which request it was used,
 * so that the operator's review sees a challenge that was confirmed and let through.
 *
 * Token withdrawals are put to the policy too, and their challenges are confirmed like the
 * others, but migration 0015's check on the subject named purchases and top-ups alone. Where the
 * check is still that one, it is widened here (PostgreSQL replaces the constraint; SQLite, which
 * cannot, rebuilds the table from its own definition, keeping whatever columns other migrations
 * added); where another migration widened it already, this changes nothing. Going down leaves
 * the wider check, which refuses nothing the narrower one took.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

const subjectsBefore = `subject in ('purchase', 'topUp')`;
const subjectsAfter = `subject in ('purchase', 'topUp', 'tokenWithdrawal')`;
const confirmationColumns = ['confirmed_at', 'consumed_at', 'consumed_by'] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const column of confirmationColumns) {
    const type = column === 'consumed_by' ? 'text' : 'bigint';
    await db.schema.alterTable('policy_decisions').addColumn(column, type).execute();
  }
  await widenSubjectCheck(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const column of [...confirmationColumns].reverse()) {
    await db.schema.alterTable('policy_decisions').dropColumn(column).execute();
  }
}

async function widenSubjectCheck(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    const found = await sql<{ definition: string }>`
      select pg_get_constraintdef(oid) as definition from pg_constraint
      where conname = 'policy_decisions_subject_check'`.execute(db);
    if (found.rows.some((row) => row.definition.includes('tokenWithdrawal'))) return;
    // PostgreSQL names a column's check `<table>_<column>_check`.
    await sql`alter table policy_decisions drop constraint policy_decisions_subject_check`.execute(
      db,
    );
    await sql`alter table policy_decisions
      add constraint policy_decisions_subject_check check (${sql.raw(subjectsAfter)})`.execute(db);
    return;
  }
  const found = await sql<{ sql: string }>`
    select sql from sqlite_master where type = 'table' and name = 'policy_decisions'`.execute(db);
  const definition = found.rows[0]?.sql;
  if (definition?.includes(subjectsBefore) !== true) return;
  const indexes = await sql<{ sql: string }>`
    select sql from sqlite_master
    where type = 'index' and tbl_name = 'policy_decisions' and sql is not null`.execute(db);
  const rebuilt = definition
    .replace(subjectsBefore, subjectsAfter)
    .replace(/^create table\s+("?)policy_decisions\1/i, 'create table "policy_decisions_rebuilt"');
  await sql.raw(rebuilt).execute(db);
  await sql`insert into policy_decisions_rebuilt select * from policy_decisions`.execute(db);
  await sql`drop table policy_decisions`.execute(db);
  await sql`alter table policy_decisions_rebuilt rename to policy_decisions`.execute(db);
  for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
}
