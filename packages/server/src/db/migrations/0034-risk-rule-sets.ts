/**
 * The risk rule sets the operator wrote (risk/rule-set-store.ts): every version kept, the JSON as
 * written, who wrote it and when, and which one is in force. With none stored, the built-in
 * default set is in force.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('risk_rule_sets')
    .addColumn('version', 'text', (c) => c.primaryKey())
    .addColumn('rule_set', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    // 1 for the set in force, else null: its unique index lets one set be in force, on every
    // node, and nulls never conflict.
    .addColumn('in_force', 'integer', (c) => c.unique())
    .execute();
  await db.schema
    .createIndex('risk_rule_sets_by_time')
    .on('risk_rule_sets')
    .columns(['created_at', 'version'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('risk_rule_sets').execute();
}
