/**
 * A user's confirmation of a challenged request (policy/policy-confirmations.ts), kept on the
 * decision it answers: when the user confirmed it, and when and by which request it was used,
 * so that the operator's review sees a challenge that was confirmed and let through.
 *
 * Token withdrawals are put to the policy too, but the subject's check (migration 0015) named
 * purchases and top-ups alone, so a stopped withdrawal could not be recorded: the check now
 * names all three. PostgreSQL changes the constraint; SQLite cannot, so the table is rebuilt
 * from its own definition, which keeps whatever columns other migrations added.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

const subjectsBefore = `subject in ('purchase', 'topUp')`;
const subjectsAfter = `subject in ('purchase', 'topUp', 'tokenWithdrawal')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('policy_decisions').addColumn('confirmed_at', 'bigint').execute();
  await db.schema.alterTable('policy_decisions').addColumn('consumed_at', 'bigint').execute();
  await db.schema.alterTable('policy_decisions').addColumn('consumed_by', 'text').execute();
  await replaceSubjectCheck(db, subjectsBefore, subjectsAfter);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from policy_decisions where subject = 'tokenWithdrawal'`.execute(db);
  await replaceSubjectCheck(db, subjectsAfter, subjectsBefore);
  for (const column of ['consumed_by', 'consumed_at', 'confirmed_at']) {
    await db.schema.alterTable('policy_decisions').dropColumn(column).execute();
  }
}

async function replaceSubjectCheck(db: Kysely<unknown>, from: string, to: string): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    // PostgreSQL names a column's check `<table>_<column>_check`.
    await sql`alter table policy_decisions drop constraint policy_decisions_subject_check`.execute(
      db,
    );
    await sql`alter table policy_decisions add constraint policy_decisions_subject_check check (${sql.raw(to)})`.execute(
      db,
    );
    return;
  }
  const found = await sql<{ sql: string }>`
    select sql from sqlite_master where type = 'table' and name = 'policy_decisions'`.execute(db);
  const definition = found.rows[0]?.sql;
  if (definition?.includes(from) !== true) {
    throw new Error('policy_decisions does not have the subject check this migration replaces');
  }
  const indexes = await sql<{ sql: string }>`
    select sql from sqlite_master
    where type = 'index' and tbl_name = 'policy_decisions' and sql is not null`.execute(db);
  const rebuilt = definition
    .replace(from, to)
    .replace(/^create table\s+("?)policy_decisions\1/i, 'create table "policy_decisions_rebuilt"');
  await sql.raw(rebuilt).execute(db);
  await sql`insert into policy_decisions_rebuilt select * from policy_decisions`.execute(db);
  await sql`drop table policy_decisions`.execute(db);
  await sql`alter table policy_decisions_rebuilt rename to policy_decisions`.execute(db);
  for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
}
