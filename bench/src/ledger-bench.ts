/**
 * The ledger benchmark (DESIGN.md section 11): durable transfers/s through `openLedger` on SQLite
 * and PostgreSQL, with their ceilings and peers measured in the same run.
 *
 * - ledger: `submitters` concurrent callers each loop { build `clientBatch` transfers with
 *   time-ordered ids, `await createTransfers`, require every result to be ok } until `transfers`
 *   are done; then `verify()` must come back clean.
 * - raw (SQLite ceiling): better-sqlite3 writing exactly what the SQLite store writes, on its
 *   schema (`sqliteSchema`) and pragmas (WAL, synchronous=FULL), with its encoders: the same
 *   number of transfers in transactions as large as the engine's mean batch in the matching ledger
 *   run, each writing every touched account's balances once (a prepared single-row UPDATE),
 *   the transfers packed into blocks of 64 records and their ids (multi-row INSERTs); no engine,
 *   no validation, no reads.
 * - naive: one durable database transaction per transfer. SQLite: two balance updates, a block of
 *   one record and its id row, on the store's schema. PostgreSQL: insert the transfer and update
 *   both balances, on the store's schema (`postgresSchema`).
 *
 * Wallets have `debitsMustNotExceedCredits` and are funded before the clock starts, so the engine
 * checks a real limit on every transfer and none is rejected.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Account,
  type AccountRecord,
  openLedger,
  TimeOrderedIds,
  type Transfer,
  type TransferRecord,
} from '@mite/ledger';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { batchSizeMaxDefault } from '../../packages/ledger/src/engine.ts';
import { postgresSchema } from '../../packages/ledger/src/postgres/postgres-storage.ts';
import { sqliteSchema } from '../../packages/ledger/src/sqlite/sqlite-schema.ts';
import { type SqlU128, toSqlU128 } from '../../packages/ledger/src/sqlite/sqlite-values.ts';
import { encodeAccountFlags } from '../../packages/ledger/src/storage.ts';
import {
  blockRecordsMax,
  encodeTransferRecords,
} from '../../packages/ledger/src/transfer-records.ts';

import { saveRun } from './results.ts';
import { type Column, formatInteger, formatRatio, formatSeconds, formatTable } from './table.ts';
import { type BudgetCheck, progressLog, verdictLines } from './run.ts';

export type Workload = 'uniform' | 'hot';
export type Backend = 'sqlite' | 'postgres';
export type RowKind = 'ledger' | 'raw' | 'naive';

export interface LedgerBenchOptions {
  /**
   * Transfers per ledger run (one run per backend, workload and submitter count); a run also stops
   * taking new batches after runSeconds, and its raw-SQLite ceiling inserts as many as it did.
   */
  readonly transfers: number;
  readonly runSeconds: number;
  /** A naive run stops after this many transfers or naiveSeconds, whichever comes first. */
  readonly naiveTransfers: number;
  readonly naiveSeconds: number;
  /** Wallet accounts that transfers move between (plus one merchant and one treasury). */
  readonly accounts: number;
  /** Transfers per createTransfers call. */
  readonly clientBatch: number;
  readonly submitters: readonly number[];
  readonly workloads: readonly Workload[];
  readonly backends: readonly Backend[];
  /** Concurrent connections of the naive PostgreSQL baseline. */
  readonly pgNaiveConnections: number;
  /** Progress lines as runs finish (default: silent). */
  readonly log?: (line: string) => void;
}

/** About 1-3 minutes on 2 cores. */
export const ledgerBenchDefaults: LedgerBenchOptions = {
  transfers: 300_000,
  runSeconds: 4,
  naiveTransfers: 20_000,
  naiveSeconds: 2,
  accounts: 10_000,
  clientBatch: 100,
  submitters: [1, 8, 64],
  workloads: ['uniform', 'hot'],
  backends: ['sqlite', 'postgres'],
  pgNaiveConnections: 4,
};

/** About 15 seconds. */
export const ledgerBenchQuick: LedgerBenchOptions = {
  ...ledgerBenchDefaults,
  transfers: 10_000,
  runSeconds: 0.5,
  naiveTransfers: 2_000,
  naiveSeconds: 0.3,
  accounts: 1_000,
};

export interface PeerComparison {
  readonly label: string;
  readonly rate: number;
  /** This row's rate over the peer's. */
  readonly ratio: number;
}

export interface VerifyOutcome {
  readonly ok: boolean;
  readonly seconds: number;
  readonly problems: string[];
}

export interface BenchRow {
  readonly workload: Workload;
  readonly backend: Backend;
  readonly kind: RowKind;
  /** Concurrent submitters (ledger), connections (naive PostgreSQL), otherwise 1. */
  readonly submitters: number;
  readonly transfers: number;
  readonly seconds: number;
  /** Durable transfers per second. */
  readonly rate: number;
  /** Transfers per database transaction; for ledger rows the engine's mean batch. */
  readonly txnSize: number;
  readonly peer?: PeerComparison;
  /** ledger rows: `verify()` after the run. */
  readonly verify?: VerifyOutcome;
}

export type { BudgetCheck, BudgetStatus } from './run.ts';

export interface LedgerBenchReport {
  readonly rows: BenchRow[];
  readonly budgets: BudgetCheck[];
  readonly notes: string[];
}

// --- budgets (DESIGN.md section 11) ------------------------------------------------------------

const sqliteBudgetPerSecond = 100_000;
const pgBudgetPerSecond = 25_000;
/** The hot-account workload may be at most this much slower than uniform. */
const hotSlowdownMax = 0.2;

// --- workload ------------------------------------------------------------------------------------

const ledgerId = 1;
/** Share of hot-workload transfers that credit the one merchant account. */
const hotShare = 0.9;
/** What each wallet is funded with before the clock starts: far more than any run can spend. */
const walletFunding = 1_000_000_000_000n;
const amounts = Array.from({ length: 100 }, (_, index) => BigInt(index + 1));
const codes = { treasury: 1, merchant: 2, wallet: 3, payment: 1, funding: 2 } as const;

/** The accounts of every run: wallets 0..n-1, then the merchant at index n; the treasury apart. */
interface Universe {
  /** Wallet ids, then the merchant's id last. */
  readonly ids: readonly bigint[];
  readonly wallets: number;
  readonly merchant: bigint;
  readonly treasury: bigint;
}

function makeUniverse(wallets: number, ids: TimeOrderedIds): Universe {
  if (!Number.isInteger(wallets) || wallets < 2) throw new Error('accounts must be at least 2');
  const treasury = ids.next();
  const all = Array.from({ length: wallets + 1 }, () => ids.next());
  return { ids: all, wallets, merchant: all[wallets] as bigint, treasury };
}

/** Picks debit and credit account indexes (into Universe.ids) for one transfer. */
class PairPicker {
  debit = 0;
  credit = 0;

  constructor(
    private readonly workload: Workload,
    private readonly wallets: number,
  ) {}

  pick(): void {
    const n = this.wallets;
    this.debit = Math.floor(Math.random() * n);
    if (this.workload === 'hot' && Math.random() < hotShare) {
      this.credit = n;
      return;
    }
    this.credit = (this.debit + 1 + Math.floor(Math.random() * (n - 1))) % n;
  }
}

function randomAmount(): bigint {
  return amounts[Math.floor(Math.random() * amounts.length)] as bigint;
}

/** One client-side batch of payments, as a submitter builds it before each call. */
function buildTransfers(
  count: number,
  universe: Universe,
  picker: PairPicker,
  ids: TimeOrderedIds,
): Transfer[] {
  const batch: Transfer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    picker.pick();
    batch[i] = {
      id: ids.next(),
      debitAccountId: universe.ids[picker.debit] as bigint,
      creditAccountId: universe.ids[picker.credit] as bigint,
      amount: randomAmount(),
      ledger: ledgerId,
      code: codes.payment,
    };
  }
  return batch;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// --- ledger runs ---------------------------------------------------------------------------------

interface RunResult {
  readonly transfers: number;
  readonly seconds: number;
  readonly txnSize: number;
}

interface LedgerRunResult extends RunResult {
  readonly verify: VerifyOutcome;
}

interface LedgerLike {
  createAccounts(accounts: readonly Account[]): Promise<string[]>;
  createTransfers(transfers: readonly Transfer[]): Promise<string[]>;
}

function requireOk(results: readonly string[], what: string): void {
  const failed = results.filter((result) => result !== 'ok');
  if (failed.length > 0) {
    throw new Error(`${failed.length} of ${results.length} ${what} failed, first: ${failed[0]}`);
  }
}

/** Creates the treasury, the merchant and the wallets, and funds every wallet (not timed). */
async function setUpAccounts(
  ledger: LedgerLike,
  universe: Universe,
  ids: TimeOrderedIds,
): Promise<void> {
  const accounts: Account[] = [
    { id: universe.treasury, ledger: ledgerId, code: codes.treasury },
    { id: universe.merchant, ledger: ledgerId, code: codes.merchant },
    ...universe.ids.slice(0, universe.wallets).map((id): Account => ({
      id,
      ledger: ledgerId,
      code: codes.wallet,
      flags: { debitsMustNotExceedCredits: true },
    })),
  ];
  for (const chunk of chunks(accounts, batchSizeMaxDefault)) {
    requireOk(await ledger.createAccounts(chunk), 'account creations');
  }
  const funding = universe.ids.slice(0, universe.wallets).map((id): Transfer => ({
    id: ids.next(),
    debitAccountId: universe.treasury,
    creditAccountId: id,
    amount: walletFunding,
    ledger: ledgerId,
    code: codes.funding,
  }));
  for (const chunk of chunks(funding, batchSizeMaxDefault)) {
    requireOk(await ledger.createTransfers(chunk), 'funding transfers');
  }
}

async function runLedger(
  url: string,
  universe: Universe,
  workload: Workload,
  submitters: number,
  options: LedgerBenchOptions,
): Promise<LedgerRunResult> {
  // The engine reads its clock once per batch it writes: counting the reads counts the batches.
  let counting = false;
  let batches = 0;
  const ledger = await openLedger({
    url,
    clock: () => {
      if (counting) batches++;
      return nowNs();
    },
  });
  try {
    const ids = new TimeOrderedIds();
    await setUpAccounts(ledger, universe, ids);
    let remaining = options.transfers;
    let done = 0;
    let deadline = Number.POSITIVE_INFINITY;
    const submitter = async (): Promise<void> => {
      const picker = new PairPicker(workload, universe.wallets);
      while (remaining > 0 && performance.now() < deadline) {
        const count = Math.min(options.clientBatch, remaining);
        remaining -= count;
        const batch = buildTransfers(count, universe, picker, ids);
        requireOk(await ledger.createTransfers(batch), 'transfers');
        done += count;
      }
    };
    counting = true;
    const started = performance.now();
    deadline = started + options.runSeconds * 1000;
    await Promise.all(Array.from({ length: submitters }, submitter));
    const seconds = (performance.now() - started) / 1000;
    counting = false;

    const verifyStarted = performance.now();
    const report = await ledger.verify();
    const verify = {
      ok: report.ok,
      seconds: (performance.now() - verifyStarted) / 1000,
      problems: report.problems,
    };
    if (!report.ok) {
      throw new Error(
        `ledger verify FAILED after the ${workload} run with ${submitters} submitters on ${url}:\n  ${report.problems.join('\n  ')}`,
      );
    }
    return { transfers: done, seconds, txnSize: done / Math.max(batches, 1), verify };
  } finally {
    await ledger.close();
  }
}

// --- raw SQLite: the ceiling and the naive baseline ----------------------------------------------

/** Rows per multi-row statement, as the SQLite store writes them. */
const rowsPerStatement = 128;

const walletFlags: AccountRecord['flags'] = {
  debitsMustNotExceedCredits: true,
  creditsMustNotExceedDebits: false,
  closed: false,
};
const noAccountFlags: AccountRecord['flags'] = {
  debitsMustNotExceedCredits: false,
  creditsMustNotExceedDebits: false,
  closed: false,
};
const noTransferFlags: TransferRecord['flags'] = {
  pending: false,
  postPending: false,
  voidPending: false,
  balancingDebit: false,
  balancingCredit: false,
};

function insertIdsSql(rows: number): string {
  return `INSERT INTO transfer_ids (id, block, slot) VALUES ${Array(rows).fill('(?, ?, ?)').join(', ')}`;
}

/**
 * Runs a statement over flat rows of `width` values as the store does: `rowsPerStatement` rows per
 * call of `many`, the rest one row per call of `one`.
 */
function runInChunks(
  values: readonly unknown[],
  width: number,
  many: Database.Statement,
  one: Database.Statement,
): void {
  const chunk = width * rowsPerStatement;
  let at = 0;
  for (; at + chunk <= values.length; at += chunk) many.run(...values.slice(at, at + chunk));
  for (; at < values.length; at += width) one.run(...values.slice(at, at + width));
}

interface RawSqlite {
  readonly db: Database.Database;
  /** The universe's account ids in their stored form (`toSqlU128`), by index. */
  readonly accountKeys: readonly SqlU128[];
  readonly debitsPosted: bigint[];
  readonly creditsPosted: bigint[];
  readonly insertBlock: Database.Statement;
  readonly insertIds: Database.Statement;
  readonly insertId: Database.Statement;
  readonly updateAccount: Database.Statement;
  nextTimestamp(): bigint;
}

/**
 * A fresh file with the store's schema (`sqliteSchema`) and pragmas, and the universe's accounts
 * in it, written as the store writes them.
 */
function openRawSqlite(file: string, universe: Universe): RawSqlite {
  const db = new Database(file);
  db.defaultSafeIntegers(true);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(sqliteSchema);
  const accountKeys = universe.ids.map(toSqlU128);
  const debitsPosted = universe.ids.map(() => 0n);
  const creditsPosted = universe.ids.map((_, index) =>
    index < universe.wallets ? walletFunding : 0n,
  );
  let timestamp = nowNs();
  const insertAccount = db.prepare(
    `INSERT INTO accounts (id, ledger, code, flags, user_data, debits_pending, debits_posted,
     credits_pending, credits_posted, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    universe.ids.forEach((_, index) => {
      const wallet = index < universe.wallets;
      insertAccount.run(
        accountKeys[index],
        ledgerId,
        wallet ? codes.wallet : codes.merchant,
        encodeAccountFlags(wallet ? walletFlags : noAccountFlags),
        toSqlU128(0n),
        toSqlU128(0n),
        toSqlU128(debitsPosted[index] as bigint),
        toSqlU128(0n),
        toSqlU128(creditsPosted[index] as bigint),
        timestamp++,
      );
    });
  }).immediate();
  return {
    db,
    accountKeys,
    debitsPosted,
    creditsPosted,
    insertBlock: db.prepare('INSERT INTO transfer_blocks (first_timestamp, records) VALUES (?, ?)'),
    insertIds: db.prepare(insertIdsSql(rowsPerStatement)),
    insertId: db.prepare(insertIdsSql(1)),
    updateAccount: db.prepare(
      `UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?,
       credits_posted = ? WHERE id = ?`,
    ),
    nextTimestamp: () => timestamp++,
  };
}

/** One transaction's transfers as the store receives them, with their accounts' indexes. */
interface RawBatch {
  readonly records: TransferRecord[];
  readonly debits: number[];
  readonly credits: number[];
}

function buildRawBatch(
  count: number,
  raw: RawSqlite,
  universe: Universe,
  picker: PairPicker,
  ids: TimeOrderedIds,
): RawBatch {
  const batch: RawBatch = {
    records: new Array(count),
    debits: new Array(count),
    credits: new Array(count),
  };
  for (let i = 0; i < count; i++) {
    picker.pick();
    batch.debits[i] = picker.debit;
    batch.credits[i] = picker.credit;
    batch.records[i] = {
      id: ids.next(),
      debitAccountId: universe.ids[picker.debit] as bigint,
      creditAccountId: universe.ids[picker.credit] as bigint,
      amount: randomAmount(),
      ledger: ledgerId,
      code: codes.payment,
      flags: noTransferFlags,
      pendingId: 0n,
      timeoutSeconds: 0,
      userData: 0n,
      timestamp: raw.nextTimestamp(),
    };
  }
  return batch;
}

/**
 * What the store writes for a batch of plain transfers, with nothing read or checked: one balance
 * write per touched account (a prepared single-row UPDATE), the transfers packed into blocks of
 * `blockRecordsMax` records, and their ids (multi-row INSERTs).
 */
function writeRawBatch(raw: RawSqlite, batch: RawBatch): void {
  const { records, debits, credits } = batch;
  const touched = new Set<number>();
  records.forEach((t, i) => {
    const debit = debits[i] as number;
    const credit = credits[i] as number;
    raw.debitsPosted[debit] = (raw.debitsPosted[debit] as bigint) + t.amount;
    raw.creditsPosted[credit] = (raw.creditsPosted[credit] as bigint) + t.amount;
    touched.add(debit);
    touched.add(credit);
  });

  for (const index of touched) {
    raw.updateAccount.run(
      toSqlU128(0n),
      toSqlU128(raw.debitsPosted[index] as bigint),
      toSqlU128(0n),
      toSqlU128(raw.creditsPosted[index] as bigint),
      raw.accountKeys[index] as SqlU128,
    );
  }

  const idRows: unknown[] = [];
  for (let start = 0; start < records.length; start += blockRecordsMax) {
    const block = records.slice(start, start + blockRecordsMax);
    const first = block[0];
    if (first === undefined) break;
    raw.insertBlock.run(first.timestamp, encodeTransferRecords(block));
    block.forEach((t, slot) => {
      idRows.push(toSqlU128(t.id), first.timestamp, slot);
    });
  }
  runInChunks(idRows, 3, raw.insertIds, raw.insertId);
}

function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal', '.lock']) {
    rmSync(`${file}${suffix}`, { force: true });
  }
}

/**
 * Raw better-sqlite3 over the store's schema, no engine, no validation: transactions of `txnSize`
 * transfers until `maxTransfers` are written or `maxSeconds` pass. With `txnSize` = the engine's
 * mean batch it is the ceiling; with 1 it is the naive baseline (BEGIN; update two balances;
 * insert a block of one record and its id row; COMMIT).
 */
function runSqliteRaw(
  file: string,
  universe: Universe,
  workload: Workload,
  limits: { txnSize: number; maxTransfers: number; maxSeconds: number },
): RunResult {
  const raw = openRawSqlite(file, universe);
  try {
    const write = raw.db.transaction((batch: RawBatch) => writeRawBatch(raw, batch));
    const picker = new PairPicker(workload, universe.wallets);
    const ids = new TimeOrderedIds();
    const started = performance.now();
    const deadline = started + limits.maxSeconds * 1000;
    let done = 0;
    while (done < limits.maxTransfers && performance.now() < deadline) {
      const count = Math.min(limits.txnSize, limits.maxTransfers - done);
      write(buildRawBatch(count, raw, universe, picker, ids));
      done += count;
    }
    const seconds = (performance.now() - started) / 1000;
    return { transfers: done, seconds, txnSize: limits.txnSize };
  } finally {
    raw.db.close();
    removeSqliteFiles(file);
  }
}

// --- naive PostgreSQL ----------------------------------------------------------------------------

const zeroUuid = '00000000-0000-0000-0000-000000000000';

function uuid(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * One transaction per transfer through postgres.js on a few connections: BEGIN; INSERT; two
 * UPDATEs (in account order, so that two transfers between the same pair cannot deadlock); COMMIT.
 */
async function runPgNaive(
  url: string,
  universe: Universe,
  workload: Workload,
  connections: number,
  maxTransfers: number,
  maxSeconds: number,
): Promise<RunResult> {
  const sql = postgres(url, { max: connections, onnotice: () => {} });
  try {
    await sql.unsafe(postgresSchema);
    const uuids = universe.ids.map(uuid);
    let timestamp = nowNs();
    const accountRows = uuids.map((id, index) => {
      const wallet = index < universe.wallets;
      return {
        id,
        ledger: ledgerId,
        code: wallet ? codes.wallet : codes.merchant,
        flags: encodeAccountFlags(wallet ? walletFlags : noAccountFlags),
        user_data: '0',
        debits_pending: '0',
        debits_posted: '0',
        credits_pending: '0',
        credits_posted: wallet ? walletFunding.toString() : '0',
        timestamp: (timestamp++).toString(),
      };
    });
    for (const chunk of chunks(accountRows, 2_000)) await sql`INSERT INTO accounts ${sql(chunk)}`;

    const ids = new TimeOrderedIds();
    let done = 0;
    let claimed = 0;
    const started = performance.now();
    const deadline = started + maxSeconds * 1000;
    const worker = async (): Promise<void> => {
      const picker = new PairPicker(workload, universe.wallets);
      while (claimed < maxTransfers && performance.now() < deadline) {
        claimed++;
        picker.pick();
        const { debit, credit } = picker;
        const id = uuid(ids.next());
        const amount = randomAmount().toString();
        const ts = (timestamp++).toString();
        const debitId = uuids[debit] as string;
        const creditId = uuids[credit] as string;
        await sql.begin(async (tx) => {
          await tx`INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, pending_id,
            ledger, code, flags, timeout_seconds, user_data, timestamp)
            VALUES (${id}, ${debitId}, ${creditId}, ${amount}, ${zeroUuid}, ${ledgerId},
            ${codes.payment}, 0, 0, 0, ${ts})`;
          const debitFirst = debit < credit;
          for (const side of debitFirst ? ['debit', 'credit'] : ['credit', 'debit']) {
            if (side === 'debit') {
              await tx`UPDATE accounts SET debits_posted = debits_posted + ${amount} WHERE id = ${debitId}`;
            } else {
              await tx`UPDATE accounts SET credits_posted = credits_posted + ${amount} WHERE id = ${creditId}`;
            }
          }
        });
        done++;
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    return { transfers: done, seconds: (performance.now() - started) / 1000, txnSize: 1 };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// --- the benchmark -------------------------------------------------------------------------------

function row(
  base: Omit<BenchRow, 'rate' | 'peer' | 'verify'>,
  peer?: Omit<PeerComparison, 'ratio'> & { readonly rate: number },
  verify?: VerifyOutcome,
): BenchRow {
  const rate = base.transfers / base.seconds;
  return {
    ...base,
    rate,
    ...(peer === undefined ? {} : { peer: { ...peer, ratio: rate / peer.rate } }),
    ...(verify === undefined ? {} : { verify }),
  };
}

function describeRun(r: BenchRow): string {
  const who =
    r.kind === 'ledger'
      ? `${r.submitters} submitters, engine batch ${formatInteger(r.txnSize)}`
      : r.kind === 'raw'
        ? `txn ${formatInteger(r.txnSize)}`
        : `txn 1${r.backend === 'postgres' ? `, ${r.submitters} connections` : ''}`;
  const verify = r.verify === undefined ? '' : `, verify ${formatSeconds(r.verify.seconds)} s ok`;
  return `${r.backend} ${r.kind} ${r.workload} (${who}): ${formatInteger(r.transfers)} in ${formatSeconds(r.seconds)} s = ${formatInteger(r.rate)}/s${verify}`;
}

function checkOptions(options: LedgerBenchOptions): void {
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer`);
  };
  positive('transfers', options.transfers);
  positive('naiveTransfers', options.naiveTransfers);
  positive('clientBatch', options.clientBatch);
  positive('pgNaiveConnections', options.pgNaiveConnections);
  for (const s of options.submitters) positive('submitters', s);
  if (options.clientBatch > batchSizeMaxDefault) {
    throw new Error(`clientBatch must be at most ${batchSizeMaxDefault}`);
  }
  if (!(options.naiveSeconds > 0)) throw new Error('naiveSeconds must be positive');
  if (!(options.runSeconds > 0)) throw new Error('runSeconds must be positive');
}

/** Runs every configured measurement and checks the budgets; prints nothing but `log` lines. */
export async function runLedgerBench(options: LedgerBenchOptions): Promise<LedgerBenchReport> {
  checkOptions(options);
  const log = options.log ?? (() => {});
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  const universe = makeUniverse(options.accounts, new TimeOrderedIds());
  const add = (r: BenchRow): BenchRow => {
    rows.push(r);
    log(describeRun(r));
    return r;
  };

  // Not reported: gets the engine's code paths compiled before the first measured run.
  for (const workload of options.workloads) {
    await runLedger('sqlite::memory:', universe, workload, 8, {
      ...options,
      transfers: Math.min(options.transfers, 10_000),
    });
  }
  log('warmed up (in-memory SQLite ledger, not reported)');

  if (options.backends.includes('sqlite')) {
    const dir = tempDir('mite-bench-ledger-');
    let n = 0;
    const nextFile = () => join(dir, `run-${++n}.sqlite`);
    for (const workload of options.workloads) {
      for (const submitters of options.submitters) {
        const file = nextFile();
        let ledger: LedgerRunResult;
        try {
          ledger = await runLedger(`sqlite:${file}`, universe, workload, submitters, options);
        } finally {
          removeSqliteFiles(file);
        }
        const txnSize = Math.min(Math.max(Math.round(ledger.txnSize), 1), batchSizeMaxDefault);
        const raw = add(
          row({
            workload,
            backend: 'sqlite',
            kind: 'raw',
            submitters: 1,
            ...runSqliteRaw(nextFile(), universe, workload, {
              txnSize,
              maxTransfers: ledger.transfers,
              maxSeconds: Number.POSITIVE_INFINITY,
            }),
          }),
        );
        add(
          row(
            { workload, backend: 'sqlite', kind: 'ledger', submitters, ...ledger },
            { label: `sqlite raw, txn ${formatInteger(txnSize)}`, rate: raw.rate },
            ledger.verify,
          ),
        );
      }
      const naive = runSqliteRaw(nextFile(), universe, workload, {
        txnSize: 1,
        maxTransfers: options.naiveTransfers,
        maxSeconds: options.naiveSeconds,
      });
      add(row({ workload, backend: 'sqlite', kind: 'naive', submitters: 1, ...naive }));
    }
  }

  if (options.backends.includes('postgres')) {
    await runPostgres(options, universe, add, notes, log);
  }

  return { rows, budgets: checkBudgets(rows, options), notes };
}

async function runPostgres(
  options: LedgerBenchOptions,
  universe: Universe,
  add: (r: BenchRow) => BenchRow,
  notes: string[],
  log: (line: string) => void,
): Promise<void> {
  let probeUrl: string | undefined;
  try {
    probeUrl = await freshPgDatabase();
  } catch (error) {
    notes.push(`PostgreSQL skipped: no server (${errorMessage(error)})`);
    return;
  }
  if (probeUrl === undefined) {
    notes.push('PostgreSQL skipped: not installed and MITE_PG_URL is not set');
    return;
  }
  let ledgerAvailable = true;
  try {
    const probe = await openLedger({ url: probeUrl });
    await probe.close();
  } catch (error) {
    ledgerAvailable = false;
    notes.push(`PostgreSQL ledger skipped: openLedger failed (${errorMessage(error)})`);
  }
  log(`postgres: ${ledgerAvailable ? 'ledger and naive baseline' : 'naive baseline only'}`);
  const freshUrl = async (): Promise<string> => {
    const url = await freshPgDatabase();
    if (url === undefined) throw new Error('PostgreSQL went away during the benchmark');
    return url;
  };
  for (const workload of options.workloads) {
    const naive = add(
      row({
        workload,
        backend: 'postgres',
        kind: 'naive',
        submitters: options.pgNaiveConnections,
        ...(await runPgNaive(
          await freshUrl(),
          universe,
          workload,
          options.pgNaiveConnections,
          options.naiveTransfers,
          options.naiveSeconds,
        )),
      }),
    );
    if (!ledgerAvailable) continue;
    for (const submitters of options.submitters) {
      const ledger = await runLedger(await freshUrl(), universe, workload, submitters, options);
      add(
        row(
          { workload, backend: 'postgres', kind: 'ledger', submitters, ...ledger },
          { label: `pg naive, ${options.pgNaiveConnections} conn`, rate: naive.rate },
          ledger.verify,
        ),
      );
    }
  }
}

function best(rows: readonly BenchRow[]): BenchRow | undefined {
  return rows.reduce<BenchRow | undefined>(
    (a, b) => (a === undefined || b.rate > a.rate ? b : a),
    undefined,
  );
}

function checkBudgets(rows: readonly BenchRow[], options: LedgerBenchOptions): BudgetCheck[] {
  const budgets: BudgetCheck[] = [];
  const ledgerRows = (backend: Backend) =>
    rows.filter((r) => r.backend === backend && r.kind === 'ledger');
  const describe = (r: BenchRow) =>
    `${formatInteger(r.rate)}/s (${r.workload}, ${r.submitters} submitters)`;

  const sqlite = ledgerRows('sqlite');
  const concurrent = sqlite.filter((r) => r.submitters > 1);
  const sqliteBest = best(concurrent.length > 0 ? concurrent : sqlite);
  const sqliteName = `SQLite ledger >= ${formatInteger(sqliteBudgetPerSecond)} transfers/s (best concurrent row)`;
  budgets.push(
    sqliteBest === undefined
      ? { name: sqliteName, status: 'SKIP', detail: 'not measured' }
      : {
          name: sqliteName,
          status: sqliteBest.rate >= sqliteBudgetPerSecond ? 'PASS' : 'FAIL',
          detail: describe(sqliteBest),
        },
  );

  for (const submitters of options.submitters) {
    const uniform = sqlite.find((r) => r.workload === 'uniform' && r.submitters === submitters);
    const hot = sqlite.find((r) => r.workload === 'hot' && r.submitters === submitters);
    if (uniform === undefined || hot === undefined) continue;
    const ratio = hot.rate / uniform.rate;
    budgets.push({
      name: `SQLite hot within ${hotSlowdownMax * 100}% of uniform at ${submitters} submitters`,
      status: ratio >= 1 - hotSlowdownMax ? 'PASS' : 'FAIL',
      detail: `hot ${formatInteger(hot.rate)}/s / uniform ${formatInteger(uniform.rate)}/s = ${formatRatio(ratio)}`,
    });
  }

  const pgBest = best(ledgerRows('postgres'));
  const pgName = `PostgreSQL ledger >= ${formatInteger(pgBudgetPerSecond)} transfers/s (best row)`;
  budgets.push(
    pgBest === undefined
      ? { name: pgName, status: 'SKIP', detail: 'not measured' }
      : {
          name: pgName,
          status: pgBest.rate >= pgBudgetPerSecond ? 'PASS' : 'FAIL',
          detail: describe(pgBest),
        },
  );
  return budgets;
}

// --- report --------------------------------------------------------------------------------------

const kindOrder: Record<RowKind, number> = { ledger: 0, raw: 1, naive: 2 };
const backendOrder: Record<Backend, number> = { sqlite: 0, postgres: 1 };
const workloadOrder: Record<Workload, number> = { uniform: 0, hot: 1 };

function backendLabel(r: BenchRow): string {
  if (r.kind === 'ledger') return `${r.backend} ledger`;
  if (r.kind === 'raw') return `${r.backend} raw batched`;
  return `${r.backend} naive`;
}

/** The one table, the budget lines and the notes. */
export function formatLedgerReport(report: LedgerBenchReport): string {
  const columns: Column[] = [
    { header: 'workload' },
    { header: 'backend' },
    { header: 'submitters', align: 'right' },
    { header: 'transfers', align: 'right' },
    { header: 'seconds', align: 'right' },
    { header: 'transfers/s', align: 'right' },
    { header: 'txn size', align: 'right' },
    { header: 'peer' },
    { header: 'peer/s', align: 'right' },
    { header: 'ratio', align: 'right' },
  ];
  const sorted = [...report.rows].sort(
    (a, b) =>
      backendOrder[a.backend] - backendOrder[b.backend] ||
      workloadOrder[a.workload] - workloadOrder[b.workload] ||
      kindOrder[a.kind] - kindOrder[b.kind] ||
      a.submitters - b.submitters ||
      a.txnSize - b.txnSize,
  );
  const cells = sorted.map((r) => [
    r.workload,
    backendLabel(r),
    r.kind === 'raw' ? '-' : String(r.submitters),
    formatInteger(r.transfers),
    formatSeconds(r.seconds),
    formatInteger(r.rate),
    formatInteger(r.txnSize),
    r.peer?.label ?? '-',
    r.peer === undefined ? '-' : formatInteger(r.peer.rate),
    r.peer === undefined ? '-' : formatRatio(r.peer.ratio),
  ]);
  const lines = [formatTable(columns, cells), ''];
  lines.push(
    'txn size: transfers per database transaction (ledger rows: the engine’s mean group-commit batch).',
  );
  lines.push('', ...verdictLines(report));
  return lines.join('\n');
}

/** `npm run bench -- ledger [--quick]`: runs, prints the table and budgets, writes the JSON. */
export async function ledgerBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const base = args.quick ? ledgerBenchQuick : ledgerBenchDefaults;
  const startedAt = new Date();
  console.error(`ledger benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(base)}`);
  const report = await runLedgerBench({ ...base, log: progressLog(startedAt) });
  console.log(formatLedgerReport(report));
  saveRun({ name: 'ledger', quick: args.quick, startedAt, options: base }, report);
}
