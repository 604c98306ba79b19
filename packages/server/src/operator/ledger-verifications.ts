/**
 * The ledger's `verify()` as the operator console runs it (table `ledger_verifications`,
 * migration 0022). Verifying reads every account and transfer, and on SQLite holds the ledger's
 * writer while it reads (open-ledger.ts runs it `exclusive`), so a request never runs it itself:
 * it asks for a run, which starts in the background and is answered at once, and at most one run
 * exists at a time across every node (the row's unique `running_slot`). A request made while one
 * runs gets that run; one made within `verificationIntervalMinMs` of the last run's start gets
 * that run too, so that a page reloaded or a button pressed again does not start another.
 */
import type { Ledger, VerifyReport } from '@mite/ledger';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { LedgerVerificationState, LedgerVerificationsTable } from '../db/schema.ts';
import { type KindBalances, readKindBalances } from './kind-balances.ts';

/**
 * A run still `running` after this long was left by a node that stopped while it ran: the next
 * request marks it `abandoned` and starts another. Generous, since a large ledger takes minutes.
 */
export const verificationStaleMs = 60 * 60_000;

/** The shortest time between the starts of two runs: requests sooner get the last run. */
export const verificationIntervalMinMs = 60_000;

/** The longest error message kept for a run that failed (the ledger's own message). */
export const verificationErrorLengthMax = 500;

export interface LedgerVerification {
  readonly id: string;
  readonly state: LedgerVerificationState;
  readonly requestedBy: string;
  readonly startedAtMs: number;
  readonly finishedAtMs: number | null;
  /** What verify() found, once done. */
  readonly report: (VerifyReport & { readonly problemCount: number }) | null;
  /** Balances per kind of account, read by the run after verify(). */
  readonly balances: KindBalances | null;
  readonly error: string | null;
}

export interface LedgerVerificationsDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly clock: () => number;
  /** Told when a run fails, for the log: the run's row keeps the message too. */
  readonly onError?: (error: unknown) => void;
}

type Row = Pick<
  LedgerVerificationsTable,
  | 'id'
  | 'state'
  | 'requested_by'
  | 'started_at'
  | 'finished_at'
  | 'ok'
  | 'problem_count'
  | 'problems'
  | 'balances'
  | 'error'
>;

const rowColumns = [
  'id',
  'state',
  'requested_by',
  'started_at',
  'finished_at',
  'ok',
  'problem_count',
  'problems',
  'balances',
  'error',
] as const;

function verificationOf(row: Row): LedgerVerification {
  const problems = row.problems === null ? [] : (JSON.parse(row.problems) as string[]);
  return {
    id: row.id,
    state: row.state,
    requestedBy: row.requested_by,
    startedAtMs: Number(row.started_at),
    finishedAtMs: row.finished_at === null ? null : Number(row.finished_at),
    report:
      row.ok === null
        ? null
        : { ok: Number(row.ok) === 1, problems, problemCount: Number(row.problem_count ?? 0) },
    balances: row.balances === null ? null : (JSON.parse(row.balances) as KindBalances),
    error: row.error,
  };
}

/** verify()'s count of problems: its last line says how many it did not list. */
function problemCountOf(report: VerifyReport): number {
  const last = report.problems.at(-1) ?? '';
  const more = /^\.\.\. and ([0-9]+) more problems$/.exec(last);
  return more === null ? report.problems.length : report.problems.length - 1 + Number(more[1]);
}

export function createLedgerVerifications(deps: LedgerVerificationsDeps) {
  const { db } = deps.platform;
  const { clock } = deps;
  const running = new Set<Promise<void>>();

  async function latest(): Promise<LedgerVerification | undefined> {
    const row = await db
      .selectFrom('ledger_verifications')
      .select(rowColumns)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : verificationOf(row);
  }

  async function byId(id: string): Promise<LedgerVerification | undefined> {
    const row = await db
      .selectFrom('ledger_verifications')
      .select(rowColumns)
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : verificationOf(row);
  }

  /** The last run that finished (done or failed), for the page to show while another runs. */
  async function lastFinished(): Promise<LedgerVerification | undefined> {
    const row = await db
      .selectFrom('ledger_verifications')
      .select(rowColumns)
      .where('state', 'in', ['done', 'failed'])
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? undefined : verificationOf(row);
  }

  async function list(options: {
    limit: number;
    before?: { startedAtMs: bigint; id: string };
  }): Promise<LedgerVerification[]> {
    let query = db
      .selectFrom('ledger_verifications')
      .select(rowColumns)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit);
    const { before } = options;
    if (before !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('started_at', '<', before.startedAtMs),
          eb.and([eb('started_at', '=', before.startedAtMs), eb('id', '<', before.id)]),
        ]),
      );
    }
    return (await query.execute()).map(verificationOf);
  }

  /** Marks a run a stopped node left `running` as abandoned, freeing the slot. */
  async function abandonStale(nowMs: number): Promise<void> {
    await db
      .updateTable('ledger_verifications')
      .set({ state: 'abandoned', running_slot: null, finished_at: BigInt(nowMs) })
      .where('running_slot', '=', 1)
      .where('started_at', '<', BigInt(nowMs - verificationStaleMs))
      .execute();
  }

  async function insertRunning(id: string, requestedBy: string, nowMs: number): Promise<boolean> {
    const inserted = await db
      .insertInto('ledger_verifications')
      .values({
        id,
        state: 'running',
        running_slot: 1,
        requested_by: requestedBy,
        started_at: BigInt(nowMs),
      })
      .onConflict((conflict) => conflict.column('running_slot').doNothing())
      .returning('id')
      .executeTakeFirst();
    return inserted !== undefined;
  }

  async function finish(id: string, outcome: Partial<LedgerVerificationsTable>): Promise<void> {
    await db
      .updateTable('ledger_verifications')
      .set({ ...outcome, running_slot: null, finished_at: BigInt(clock()) })
      .where('id', '=', id)
      .execute();
  }

  async function run(id: string): Promise<void> {
    try {
      const report = await deps.ledger.verify();
      const balances = await readKindBalances(deps.platform, deps.ledger);
      await finish(id, {
        state: 'done',
        ok: report.ok ? 1 : 0,
        problem_count: problemCountOf(report),
        problems: JSON.stringify(report.problems),
        balances: JSON.stringify(balances),
      });
    } catch (error) {
      deps.onError?.(error);
      const message = error instanceof Error ? error.message : String(error);
      await finish(id, {
        state: 'failed',
        error: message.slice(0, verificationErrorLengthMax),
      }).catch((finishError: unknown) => deps.onError?.(finishError));
    }
  }

  /**
   * Starts a run unless one is running or one started less than verificationIntervalMinMs ago;
   * either way answers the run the caller should watch, and whether it is a new one.
   */
  async function start(
    requestedBy: string,
  ): Promise<{ verification: LedgerVerification; started: boolean }> {
    const nowMs = clock();
    await abandonStale(nowMs);
    const recent = await latest();
    if (
      recent !== undefined &&
      (recent.state === 'running' || nowMs - recent.startedAtMs < verificationIntervalMinMs)
    ) {
      return { verification: recent, started: false };
    }
    const id = `lvr_${uuidv7()}`;
    if (!(await insertRunning(id, requestedBy, nowMs))) {
      // Another node started one between the read and the insert: that one is the run.
      const other = await latest();
      if (other === undefined) throw new Error('bug: a running verification vanished');
      return { verification: other, started: false };
    }
    const job = run(id).finally(() => running.delete(job));
    running.add(job);
    const verification = await byId(id);
    if (verification === undefined) throw new Error('bug: the new verification vanished');
    return { verification, started: true };
  }

  return {
    start,
    latest,
    lastFinished,
    byId,
    list,
    /** Resolves once the runs this node started have finished (before the ledger closes). */
    drain: async (): Promise<void> => {
      await Promise.all([...running]);
    },
  };
}

export type LedgerVerifications = ReturnType<typeof createLedgerVerifications>;
