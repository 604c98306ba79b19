/**
 * Spending limits (issue 15), and token withdrawals among the requests a policy decision is kept
 * for (they were put to the policy, but a refusal could not be recorded): what each merchant sells, for the monthly caps per category and the
 * lower cap on goods that resell easily; each user's spending per month and scope, which a
 * payment adds to with a conditional write (a cap is never passed, even by purchases racing on
 * several nodes); and, on each payment, what it added, so that a failed payment gives it back.
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('merchants')
    .addColumn('spending_category', 'text', (c) => c.notNull().defaultTo('content'))
    .execute();
  await db.schema
    .alterTable('merchants')
    .addColumn('resellable', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('monthly_spending')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('month', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('spent_micros', 'bigint', (c) => c.notNull().defaultTo(sql`0`))
    .addPrimaryKeyConstraint('monthly_spending_pk', ['user_id', 'month', 'scope'])
    .execute();
  await db.schema.alterTable('payments').addColumn('spending', 'text').execute();
  await db.schema.alterTable('token_withdrawals').addColumn('spending', 'text').execute();
  await widenDecisionSubjects(db, "('purchase', 'topUp', 'tokenWithdrawal')");
}

const subjectsBefore = "('purchase', 'topUp')";

/**
 * Changes the CHECK on policy_decisions.subject. PostgreSQL replaces the constraint; SQLite
 * cannot alter one, so the table is rebuilt from its own definition with the check changed
 * (SQLite's documented procedure: new table, copy, drop, rename, indexes again), which keeps
 * whatever columns and indexes it has.
 */
async function widenDecisionSubjects(db: Kysely<unknown>, subjects: string): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await sql`alter table policy_decisions drop constraint policy_decisions_subject_check`.execute(
      db,
    );
    await sql`alter table policy_decisions add constraint policy_decisions_subject_check
      check (subject in ${sql.raw(subjects)})`.execute(db);
    return;
  }
  const table = await sql<{ sql: string }>`select sql from sqlite_master
    where type = 'table' and name = 'policy_decisions'`.execute(db);
  const indexes = await sql<{ sql: string }>`select sql from sqlite_master
    where type = 'index' and tbl_name = 'policy_decisions' and sql is not null`.execute(db);
  const definition = table.rows[0]?.sql ?? '';
  const checkBefore = /subject in \([^)]*\)/;
  if (!checkBefore.test(definition)) {
    throw new Error(`policy_decisions has no subject check to change: ${definition}`);
  }
  const rebuilt = definition
    .replace(checkBefore, `subject in ${subjects}`)
    .replace(/^create table "?policy_decisions"?/i, 'create table policy_decisions_rebuilt');
  await sql`pragma defer_foreign_keys = on`.execute(db);
  await sql.raw(rebuilt).execute(db);
  await sql`insert into policy_decisions_rebuilt select * from policy_decisions`.execute(db);
  await sql`drop table policy_decisions`.execute(db);
  await sql`alter table policy_decisions_rebuilt rename to policy_decisions`.execute(db);
  for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from policy_decisions where subject = 'tokenWithdrawal'`.execute(db);
  await widenDecisionSubjects(db, subjectsBefore);
  await db.schema.alterTable('token_withdrawals').dropColumn('spending').execute();
  await db.schema.alterTable('payments').dropColumn('spending').execute();
  await db.schema.dropTable('monthly_spending').execute();
  await db.schema.alterTable('merchants').dropColumn('resellable').execute();
  await db.schema.alterTable('merchants').dropColumn('spending_category').execute();
}
