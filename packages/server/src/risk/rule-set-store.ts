/**
 * The risk rules as the operator versions them (table `risk_rule_sets`, migration 0034): every
 * version kept with who wrote it and when, one of them in force; with none stored, the built-in
 * default set (rule-set.ts) is in force.
 *
 * A new version takes effect on the node that stored it at once, and on every other node within
 * `ruleSetRefreshMs`: before a decision, a node whose last look at the version in force is older
 * than that reads it again (one indexed row), and loads the set when it changed. The look is made
 * by the decision that finds it due, so no decision is made on rules staler than the interval;
 * the others pay nothing.
 */
import { z } from 'zod';
import type { PlatformDb } from '../db/platform-db.ts';
import type { RiskRuleSetRow } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { RiskEngine } from './risk-engine.ts';
import { defaultRuleSetInput, type RuleSetInput, ruleSetSchema } from './rule-set.ts';

/** The longest a node decides on a rule set replaced on another node. */
export const ruleSetRefreshMs = 5_000;

/** The most versions the history answers, newest first. */
export const ruleSetHistoryMax = 100;

/** The largest rule set taken, as JSON: a hundred rules of bounded texts fit well within it. */
export const ruleSetJsonBytesMax = 256 * 1024;

/** A version of the rules: the JSON as written, who wrote it, when, and whether it is in force. */
export interface StoredRuleSet {
  readonly version: string;
  readonly ruleSet: unknown;
  /** `operator:<id>`, or null for the built-in default, which nobody wrote. */
  readonly createdBy: string | null;
  /** Null for the built-in default. */
  readonly createdAtMs: number | null;
  readonly inForce: boolean;
}

/** One thing wrong with a rule set: where (a JSON pointer into it) and what. */
export interface RuleSetError {
  readonly path: string;
  readonly message: string;
}

export type PublishRefusal = 'invalidRuleSet' | 'ruleSetVersionExists';

export interface RuleSetStore {
  /** Puts the stored version in force into the engine; the default stays when none is stored. */
  load(): Promise<void>;
  /** Loads the version in force when this node last looked more than ruleSetRefreshMs ago. */
  refreshIfStale(): Promise<void>;
  inForce(): Promise<StoredRuleSet>;
  /** The stored versions, newest first, at most ruleSetHistoryMax. */
  history(): Promise<readonly StoredRuleSet[]>;
  /** Stores a new version and puts it in force, or refuses it whole, changing nothing. */
  /** An invalid set's failure carries `errors` (RuleSetError[]) in its extra. */
  publish(input: unknown, createdBy: string): Promise<Result<StoredRuleSet, PublishRefusal>>;
}

export interface RuleSetStoreDeps {
  readonly platform: PlatformDb;
  readonly engine: RiskEngine;
  readonly clock: () => number;
  /** The set in force while none is stored (the engine's first): the default set when unset. */
  readonly fallback?: RuleSetInput;
  /** Told of a stored version that no longer parses (the schema tightened since): it is skipped. */
  readonly onUnreadable?: (version: string, detail: string) => void;
}

function fallbackStored(ruleSet: RuleSetInput): StoredRuleSet {
  return { version: ruleSet.version, ruleSet, createdBy: null, createdAtMs: null, inForce: true };
}

function storedOf(row: RiskRuleSetRow): StoredRuleSet {
  return {
    version: row.version,
    ruleSet: JSON.parse(row.rule_set) as unknown,
    createdBy: row.created_by,
    createdAtMs: Number(row.created_at),
    inForce: row.in_force === 1,
  };
}

/** Every problem of a rule set, each with where it is: the operator fixes them all at once. */
export function ruleSetErrors(input: unknown): readonly RuleSetError[] {
  const parsed = ruleSetSchema.safeParse(input);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => ({
    path: issue.path.map((part) => `/${String(part)}`).join(''),
    message: issue.message,
  }));
}

export function createRuleSetStore(deps: RuleSetStoreDeps): RuleSetStore {
  const { engine, clock } = deps;
  const db = deps.platform.db;
  const defaultStored = fallbackStored(deps.fallback ?? defaultRuleSetInput);
  let checkedAtMs = Number.NEGATIVE_INFINITY;
  let checking: Promise<void> | undefined;

  async function rowInForce(): Promise<RiskRuleSetRow | undefined> {
    return db.selectFrom('risk_rule_sets').selectAll().where('in_force', '=', 1).executeTakeFirst();
  }

  /** Puts the version in force into the engine, when it is not there already. */
  async function sync(): Promise<void> {
    checkedAtMs = clock();
    const inForce = await db
      .selectFrom('risk_rule_sets')
      .select('version')
      .where('in_force', '=', 1)
      .executeTakeFirst();
    if (inForce === undefined || inForce.version === engine.ruleSetVersion()) return;
    const row = await rowInForce();
    if (row === undefined) return;
    const replaced = engine.replaceRuleSet(JSON.parse(row.rule_set));
    if (!replaced.ok && replaced.code === 'invalidRuleSet') {
      deps.onUnreadable?.(row.version, replaced.detail ?? '');
    }
  }

  return {
    load: sync,
    async refreshIfStale() {
      if (clock() - checkedAtMs < ruleSetRefreshMs) return;
      // Decisions that find the look due at once share it.
      checking ??= sync().finally(() => {
        checking = undefined;
      });
      await checking;
    },
    async inForce() {
      const row = await rowInForce();
      return row === undefined ? defaultStored : storedOf(row);
    },
    async history() {
      const rows = await db
        .selectFrom('risk_rule_sets')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('version', 'desc')
        .limit(ruleSetHistoryMax)
        .execute();
      return rows.map(storedOf);
    },
    async publish(input, createdBy) {
      const errors = ruleSetErrors(input);
      if (errors.length > 0) {
        const detail = errors.map((error) => `${error.path || '/'}: ${error.message}`).join('; ');
        return fail('invalidRuleSet', detail, { errors });
      }
      const { version } = z.object({ version: z.string() }).parse(input);
      const taken = version === defaultStored.version || (await versionStored(db, version));
      if (taken) return fail('ruleSetVersionExists', `version ${version} exists already`);
      const nowMs = clock();
      const row = {
        version,
        rule_set: JSON.stringify(input),
        created_by: createdBy,
        created_at: BigInt(nowMs),
        in_force: 1,
      };
      const stored = await storeInForce(db, row);
      if (!stored) return fail('ruleSetVersionExists', `version ${version} exists already`);
      engine.replaceRuleSet(input);
      checkedAtMs = nowMs;
      return ok(storedOf(row));
    },
  };
}

type Db = PlatformDb['db'];

async function versionStored(db: Db, version: string): Promise<boolean> {
  const row = await db
    .selectFrom('risk_rule_sets')
    .select('version')
    .where('version', '=', version)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The new version in force and the old one not, in one transaction. False when the version was
 * stored meanwhile (another node, the same version at once); a different version put in force at
 * the same instant on another node fails the unique in_force slot, which is thrown.
 */
async function storeInForce(db: Db, row: RiskRuleSetRow): Promise<boolean> {
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .updateTable('risk_rule_sets')
        .set({ in_force: null })
        .where('in_force', '=', 1)
        .execute();
      await tx.insertInto('risk_rule_sets').values(row).execute();
    });
    return true;
  } catch (error) {
    if (await versionStored(db, row.version)) return false;
    throw error;
  }
}
