/**
 * The PostgreSQL storage backend (postgres.js).
 *
 * Layout: u128 ids are `uuid` (PostgreSQL's native 16 bytes, byte order is numeric order),
 * amounts, balances and userData are `numeric(39,0)` (2^128-1 has 39 digits), ledger, code and
 * timeout are `bigint` (they are u32), timestamps are `bigint` nanoseconds. Transfers are unique by
 * timestamp too (the engine's timestamps are strictly increasing), which keeps the verification
 * scan a plain keyset walk.
 *
 * One writer: `open` takes a session-level advisory lock on its own connection and every batch
 * is written in one transaction on that same connection, so a write can only ever happen in the
 * session that holds the lock. A batch is a handful of pipelined statements (multi-row inserts
 * from `unnest` of arrays, one `UPDATE ... FROM unnest(...)` for every touched balance), then
 * COMMIT: two round trips per batch, whatever its size.
 */
import postgres from 'postgres';
import {
  type BatchReads,
  type BatchWrites,
  decodeAccountFlags,
  decodeTransferFlags,
  encodeAccountFlags,
  encodeTransferFlags,
  isEmptyWrites,
  type LedgerStorage,
  type OpenPending,
  pendingStatusCodes,
  pendingStatusFromCode,
  type StoredState,
  u128FromUuid,
  u128ToUuid,
} from '../storage.ts';
import type { AccountFilter, AccountRecord, PendingStatus, TransferRecord } from '../types.ts';

/** Bumped whenever the tables change; a database with another version is refused. */
export const postgresSchemaVersion = 1;

/** Key of the session-level advisory lock held by the one writer of a database ("miteldgr"). */
export const writerLockKey = 0x6d69_7465_6c64_6772n;

/** Key of the transaction-level advisory lock that serialises creating the tables. */
const schemaLockKey = 0x6d69_7465_7363_686dn;

/** NOTIFY channels of forwarded submissions (postgres-node.ts): new requests, new answers. */
export const requestsChannel = 'mite_ledger_requests';
export const resultsChannel = 'mite_ledger_results';

/** Transfers per chunk of `scanTransfers`. */
const scanChunkSize = 10_000;

const int64Max = (1n << 63n) - 1n;

export const postgresSchema = `
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  id uuid PRIMARY KEY,
  ledger bigint NOT NULL,
  code bigint NOT NULL,
  flags integer NOT NULL,
  user_data numeric(39,0) NOT NULL,
  debits_pending numeric(39,0) NOT NULL,
  debits_posted numeric(39,0) NOT NULL,
  credits_pending numeric(39,0) NOT NULL,
  credits_posted numeric(39,0) NOT NULL,
  timestamp bigint NOT NULL
) WITH (fillfactor = 70);
CREATE TABLE IF NOT EXISTS transfers (
  id uuid PRIMARY KEY,
  debit_account_id uuid NOT NULL,
  credit_account_id uuid NOT NULL,
  amount numeric(39,0) NOT NULL,
  pending_id uuid NOT NULL,
  ledger bigint NOT NULL,
  code bigint NOT NULL,
  flags integer NOT NULL,
  timeout_seconds bigint NOT NULL,
  user_data numeric(39,0) NOT NULL,
  timestamp bigint NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS transfers_by_timestamp ON transfers (timestamp);
CREATE INDEX IF NOT EXISTS transfers_by_debit_account ON transfers (debit_account_id, timestamp);
CREATE INDEX IF NOT EXISTS transfers_by_credit_account ON transfers (credit_account_id, timestamp);
CREATE TABLE IF NOT EXISTS failed_transfers (id uuid PRIMARY KEY, result text NOT NULL);
CREATE TABLE IF NOT EXISTS pending_transfers (
  id uuid PRIMARY KEY,
  status smallint NOT NULL,
  expires_at bigint NOT NULL
) WITH (fillfactor = 80);
CREATE TABLE IF NOT EXISTS forwarded_requests (
  id bigserial PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('accounts', 'transfers')),
  events text NOT NULL,
  results text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS forwarded_requests_unanswered ON forwarded_requests (id)
  WHERE results IS NULL;
INSERT INTO meta (key, value) VALUES ('schema_version', '${postgresSchemaVersion}')
  ON CONFLICT (key) DO NOTHING;
`;

interface AccountRow {
  readonly id: string;
  readonly ledger: bigint;
  readonly code: bigint;
  readonly flags: number;
  readonly user_data: string;
  readonly debits_pending: string;
  readonly debits_posted: string;
  readonly credits_pending: string;
  readonly credits_posted: string;
  readonly timestamp: bigint;
}

interface TransferRow {
  readonly id: string;
  readonly debit_account_id: string;
  readonly credit_account_id: string;
  readonly amount: string;
  readonly pending_id: string;
  readonly ledger: bigint;
  readonly code: bigint;
  readonly flags: number;
  readonly timeout_seconds: bigint;
  readonly user_data: string;
  readonly timestamp: bigint;
}

function accountFromRow(row: AccountRow): AccountRecord {
  return {
    id: u128FromUuid(row.id),
    ledger: Number(row.ledger),
    code: Number(row.code),
    flags: decodeAccountFlags(row.flags),
    userData: BigInt(row.user_data),
    debitsPending: BigInt(row.debits_pending),
    debitsPosted: BigInt(row.debits_posted),
    creditsPending: BigInt(row.credits_pending),
    creditsPosted: BigInt(row.credits_posted),
    timestamp: BigInt(row.timestamp),
  };
}

function transferFromRow(row: TransferRow): TransferRecord {
  return {
    id: u128FromUuid(row.id),
    debitAccountId: u128FromUuid(row.debit_account_id),
    creditAccountId: u128FromUuid(row.credit_account_id),
    amount: BigInt(row.amount),
    ledger: Number(row.ledger),
    code: Number(row.code),
    flags: decodeTransferFlags(row.flags),
    pendingId: u128FromUuid(row.pending_id),
    timeoutSeconds: Number(row.timeout_seconds),
    userData: BigInt(row.user_data),
    timestamp: BigInt(row.timestamp),
  };
}

/**
 * An array parameter as PostgreSQL's array literal, `{a,b,c}`. Every element here is a uuid, a
 * decimal integer or a result name, none of which needs quoting; building the literal directly is
 * much cheaper than postgres.js's generic per-element quoting on batches of thousands.
 */
export function arrayLiteral<T>(
  items: readonly T[],
  element: (item: T) => string | number | bigint,
): string {
  const parts = new Array<string>(items.length);
  for (let i = 0; i < items.length; i++) parts[i] = String(element(items[i] as T));
  return `{${parts.join(',')}}`;
}

/** An array literal of arbitrary text elements, each quoted and escaped. */
function quotedArrayLiteral<T>(items: readonly T[], element: (item: T) => string): string {
  const quote = (text: string) => `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  return `{${items.map((item) => quote(element(item))).join(',')}}`;
}

/** A bigint timestamp bound clamped into PostgreSQL's bigint range. */
function clampInt64(value: bigint): bigint {
  return value < 0n ? 0n : value > int64Max ? int64Max : value;
}

/** Pooled connections for reads and a node's forwarding queries (the writer has its own). */
const connectionsMax = 6;

export function connect(url: string, connections = connectionsMax) {
  return postgres(url, {
    // int8 columns (timestamps, ledger, code, timeout) come back as bigint, never as lossy numbers.
    types: { bigint: postgres.BigInt },
    max: connections,
    // Never recycled: the writer's session holds the writer lock for as long as it lives.
    max_lifetime: null,
    onnotice: () => {},
    connection: { application_name: 'mite-ledger' },
  });
}

export type Sql = ReturnType<typeof connect>;

/**
 * How long open waits for the writer lock. A writer that was just killed holds it until its
 * server backend notices the closed connection, which a restart must be able to wait out.
 */
export const writerLockWaitMs = 3_000;
/** Pause between attempts to take the writer lock. */
const writerLockRetryMs = 50;

/** Takes the writer lock, waiting up to `waitMs`; undefined when another holds it. */
async function takeWriterLock(writer: Sql, waitMs: number): Promise<{ pid: number } | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const [lock] = await writer<{ locked: boolean; pid: number }[]>`
      select pg_try_advisory_lock(${writerLockKey}) as locked, pg_backend_pid() as pid`;
    if (lock?.locked === true) return lock;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, writerLockRetryMs));
  }
}

/**
 * Opens (creating its tables if missing) a ledger store in the PostgreSQL database at `url`, and
 * takes its writer lock: a second open of the same database, from any process, fails until this
 * one is closed. (Several nodes share one database through postgres-node.ts instead.)
 */
export async function openPostgresStorage(url: string): Promise<LedgerStorage> {
  const sql = connect(url);
  try {
    await preparePostgresStore(sql, url);
    const writer = await takeWriter(url, writerLockWaitMs);
    if (writer === undefined) {
      throw new Error(
        `the ledger in PostgreSQL database ${describeUrl(url)} is open elsewhere: another ` +
          'process (or another openLedger in this one) holds its writer lock; close it first',
      );
    }
    return new PostgresStorage(sql, writer);
  } catch (error) {
    // Ending the pool closes the reserved connection too, which releases the lock if taken.
    await sql.end({ timeout: 5 });
    throw error;
  }
}

/**
 * Creates the tables if missing (one creator at a time: concurrent CREATE IF NOT EXISTS can
 * collide in the catalog) and refuses a database of another schema version.
 */
export async function preparePostgresStore(sql: Sql, url: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${schemaLockKey})`;
    await tx.unsafe(postgresSchema).simple();
  });
  const [version] = await sql<{ value: string }[]>`
    select value from meta where key = 'schema_version'`;
  if (version?.value !== String(postgresSchemaVersion)) {
    throw new Error(
      `the PostgreSQL database ${describeUrl(url)} holds ledger schema version ` +
        `${version?.value ?? '(none)'}; this build reads version ${postgresSchemaVersion}`,
    );
  }
}

/**
 * The writer's session ended (a restart, a terminated backend) and its lock with it; the batch
 * was rolled back, so nothing of it is stored and it may be sent again through the new writer.
 */
export class WriterSessionLostError extends Error {
  override readonly name = 'WriterSessionLostError';
  constructor() {
    super('the ledger lost its PostgreSQL writer session (and with it the writer lock)');
  }
}

/**
 * The writer's own one-connection pool, whose session holds the writer lock. Its own pool rather
 * than a connection reserved from the shared one: postgres.js crashes on a reserved connection
 * whose server session was terminated, where a pool reconnects, and a reconnected session is
 * told apart by its pid (every batch checks it) and holds no lock.
 */
export interface Writer {
  readonly connection: Sql;
  readonly pid: number;
}

export async function takeWriter(url: string, waitMs: number): Promise<Writer | undefined> {
  const connection = connect(url, 1);
  try {
    const lock = await takeWriterLock(connection, waitMs);
    if (lock !== undefined) return { connection, pid: lock.pid };
  } catch (error) {
    await connection.end({ timeout: 5 });
    throw error;
  }
  await connection.end({ timeout: 5 });
  return undefined;
}

/** The URL without its password, for error messages. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}

/**
 * One transaction's statements: each is put on the wire as soon as it is built (pipelined: no
 * waiting for the one before), and all are awaited together before COMMIT or ROLLBACK.
 */
interface Pipeline {
  readonly statements: Promise<unknown>[];
  /** Updates whose row counts are checked: a count off means a corrupt batch. */
  readonly counted: { readonly what: string; readonly query: Promise<unknown>; rows: number }[];
  send<T>(query: Promise<T>): Promise<T>;
  sendCounted(what: string, rows: number, query: Promise<unknown>): void;
}

function createPipeline(): Pipeline {
  const statements: Promise<unknown>[] = [];
  const counted: Pipeline['counted'] = [];
  // A no-op handler keeps an early failure from counting as unhandled until all of them are
  // awaited.
  const send = <T>(query: Promise<T>): Promise<T> => {
    query.catch(() => {});
    statements.push(query);
    return query;
  };
  const sendCounted = (what: string, rows: number, query: Promise<unknown>): void => {
    counted.push({ what, query, rows });
    send(query);
  };
  return { statements, counted, send, sendCounted };
}

/** The batch's transfers, new accounts and balances, in that order. */
async function sendTransfersAndAccounts(
  w: postgres.TransactionSql,
  { send, sendCounted }: Pipeline,
  writes: BatchWrites,
): Promise<void> {
  // The transfers go first: the biggest statement, which the server can work on while the
  // rest of the batch is being built.
  const transfers = writes.transfersCreated;
  if (transfers.length > 0) {
    send(w`
      insert into transfers (id, debit_account_id, credit_account_id, amount, pending_id,
        ledger, code, flags, timeout_seconds, user_data, timestamp)
      select * from unnest(
        ${arrayLiteral(transfers, (t) => u128ToUuid(t.id))}::uuid[],
        ${arrayLiteral(transfers, (t) => u128ToUuid(t.debitAccountId))}::uuid[],
        ${arrayLiteral(transfers, (t) => u128ToUuid(t.creditAccountId))}::uuid[],
        ${arrayLiteral(transfers, (t) => t.amount)}::numeric[],
        ${arrayLiteral(transfers, (t) => u128ToUuid(t.pendingId))}::uuid[],
        ${arrayLiteral(transfers, (t) => t.ledger)}::bigint[],
        ${arrayLiteral(transfers, (t) => t.code)}::bigint[],
        ${arrayLiteral(transfers, (t) => encodeTransferFlags(t.flags))}::integer[],
        ${arrayLiteral(transfers, (t) => t.timeoutSeconds)}::bigint[],
        ${arrayLiteral(transfers, (t) => t.userData)}::numeric[],
        ${arrayLiteral(transfers, (t) => t.timestamp)}::bigint[])`);
    // postgres.js sends a query one microtask after it is first awaited.
    await null;
  }

  const created = writes.accountsCreated;
  if (created.length > 0) {
    send(w`
      insert into accounts (id, ledger, code, flags, user_data, debits_pending, debits_posted,
        credits_pending, credits_posted, timestamp)
      select * from unnest(
        ${arrayLiteral(created, (a) => u128ToUuid(a.id))}::uuid[],
        ${arrayLiteral(created, (a) => a.ledger)}::bigint[],
        ${arrayLiteral(created, (a) => a.code)}::bigint[],
        ${arrayLiteral(created, (a) => encodeAccountFlags(a.flags))}::integer[],
        ${arrayLiteral(created, (a) => a.userData)}::numeric[],
        ${arrayLiteral(created, (a) => a.debitsPending)}::numeric[],
        ${arrayLiteral(created, (a) => a.debitsPosted)}::numeric[],
        ${arrayLiteral(created, (a) => a.creditsPending)}::numeric[],
        ${arrayLiteral(created, (a) => a.creditsPosted)}::numeric[],
        ${arrayLiteral(created, (a) => a.timestamp)}::bigint[])`);
  }

  const updated = writes.accountsUpdated;
  if (updated.length > 0) {
    sendCounted(
      'accounts updated',
      updated.length,
      w`
      update accounts a set
        debits_pending = u.debits_pending, debits_posted = u.debits_posted,
        credits_pending = u.credits_pending, credits_posted = u.credits_posted
      from unnest(
        ${arrayLiteral(updated, (a) => u128ToUuid(a.id))}::uuid[],
        ${arrayLiteral(updated, (a) => a.debitsPending)}::numeric[],
        ${arrayLiteral(updated, (a) => a.debitsPosted)}::numeric[],
        ${arrayLiteral(updated, (a) => a.creditsPending)}::numeric[],
        ${arrayLiteral(updated, (a) => a.creditsPosted)}::numeric[]
      ) as u(id, debits_pending, debits_posted, credits_pending, credits_posted)
      where a.id = u.id`,
    );
  }
}

/** The batch's failed transfers, pending transfers and their statuses, and forwarded answers. */
function sendOutcomes(
  w: postgres.TransactionSql,
  { send, sendCounted }: Pipeline,
  writes: BatchWrites,
): void {
  const failed = writes.failedIds;
  if (failed.length > 0) {
    send(w`
      insert into failed_transfers (id, result)
      select * from unnest(
        ${arrayLiteral(failed, (f) => u128ToUuid(f.id))}::uuid[],
        ${arrayLiteral(failed, (f) => f.result)}::text[])`);
  }

  // Pending transfers are inserted before statuses are updated: a transfer created and
  // resolved in the same batch is in both lists.
  const pendings = writes.pendingsCreated;
  if (pendings.length > 0) {
    send(w`
      insert into pending_transfers (id, status, expires_at)
      select id, ${pendingStatusCodes.pending}::smallint, expires_at from unnest(
        ${arrayLiteral(pendings, (p) => u128ToUuid(p.id))}::uuid[],
        ${arrayLiteral(pendings, (p) => p.expiresAt)}::bigint[]) as u(id, expires_at)`);
  }

  const resolved = writes.pendingsResolved;
  if (resolved.length > 0) {
    sendCounted(
      'pending transfers resolved',
      new Set(resolved.map((r) => r.id)).size,
      w`
      update pending_transfers p set status = u.status
      from unnest(
        ${arrayLiteral(resolved, (r) => u128ToUuid(r.id))}::uuid[],
        ${arrayLiteral(resolved, (r) => pendingStatusCodes[r.status])}::smallint[]
      ) as u(id, status)
      where p.id = u.id`,
    );
  }

  const forwarded = writes.forwardedResults ?? [];
  if (forwarded.length > 0) {
    // Only a request not answered yet: answering one twice would be a bug, so it fails the batch.
    sendCounted(
      'forwarded requests answered',
      forwarded.length,
      w`
      update forwarded_requests f set results = u.results
      from unnest(
        ${arrayLiteral(forwarded, (f) => f.requestId)}::bigint[],
        ${quotedArrayLiteral(forwarded, (f) => f.results)}::text[]
      ) as u(id, results)
      where f.id = u.id and f.results is null`,
    );
    // NOTIFY is transactional: the nodes waiting hear of it once the answers are committed.
    send(w`select pg_notify(${resultsChannel}, '')`);
  }
}

/**
 * The store. Without a writer it only reads (a node that forwards its writes); closing it then
 * leaves the pool to its owner.
 */
export class PostgresStorage implements LedgerStorage {
  readonly kind = 'postgres';
  private closed = false;
  /** The last write: each waits for the one before it, and fails if that one failed. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sql: Sql,
    private readonly writerSession: Writer | undefined,
    private readonly ownsPool = true,
  ) {}

  private get writer(): Sql {
    if (this.writerSession === undefined) throw new Error('bug: a read-only ledger store written');
    return this.writerSession.connection;
  }

  private get writerPid(): number {
    return this.writerSession?.pid ?? -1;
  }

  /** Whether the writer's session is alive and still holds the writer lock. */
  async holdsWriterLock(): Promise<boolean> {
    const writer = this.writerSession;
    if (writer === undefined) return false;
    try {
      const [row] = await writer.connection<{ held: boolean }[]>`
        select pg_backend_pid() = ${writer.pid} and exists (
          select 1 from pg_locks where locktype = 'advisory' and pid = ${writer.pid}
            and granted and classid::bigint = ${writerLockKey >> 32n}
            and objid::bigint = ${writerLockKey & 0xffff_ffffn}
        ) as held`;
      return row?.held === true;
    } catch {
      return false;
    }
  }

  /** The accounts with these ids, as stored (ids not found are absent). */
  async lookupAccounts(ids: readonly bigint[]): Promise<AccountRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql<AccountRow[]>`
      select * from accounts where id = any(${arrayLiteral(ids, u128ToUuid)}::uuid[])`;
    const found = new Map(rows.map((row) => [u128FromUuid(row.id), accountFromRow(row)]));
    return ids.flatMap((id) => {
      const account = found.get(id);
      return account === undefined ? [] : [account];
    });
  }

  async load(): Promise<StoredState> {
    // The engine loads only with no write under way: a failed write is forgotten here.
    await this.writing.catch(() => {});
    this.writing = Promise.resolve();
    const sql = this.sql;
    const [accountRows, pendingRows, [last], [maxIds]] = await Promise.all([
      sql<AccountRow[]>`select * from accounts order by timestamp`,
      sql<(TransferRow & { expires_at: bigint })[]>`
        select t.*, p.expires_at from pending_transfers p join transfers t on t.id = p.id
        where p.status = ${pendingStatusCodes.pending} order by t.timestamp`,
      sql<{ max: bigint | null }[]>`select max(timestamp) as max from transfers`,
      sql<{ transfers: string | null; failed: string | null }[]>`
        select (select id from transfers order by id desc limit 1) as transfers,
               (select id from failed_transfers order by id desc limit 1) as failed`,
    ]);
    const accounts = accountRows.map(accountFromRow);
    let lastTimestamp = last?.max ?? 0n;
    for (const account of accounts) {
      if (account.timestamp > lastTimestamp) lastTimestamp = account.timestamp;
    }
    const openPendings: OpenPending[] = pendingRows.map((row) => ({
      transfer: transferFromRow(row),
      expiresAt: BigInt(row.expires_at),
    }));
    // uuid order is byte order, and u128ToUuid writes big-endian: the last id is the largest.
    const maxTransferId = [maxIds?.transfers, maxIds?.failed].reduce<bigint>(
      (max, uuid) => (uuid == null ? max : u128FromUuid(uuid) > max ? u128FromUuid(uuid) : max),
      0n,
    );
    return { accounts, openPendings, lastTimestamp, maxTransferId };
  }

  async read(ids: readonly bigint[]): Promise<BatchReads> {
    const transfers = new Map<bigint, TransferRecord>();
    const pendingStatuses = new Map<bigint, PendingStatus>();
    const failedIds = new Set<bigint>();
    if (ids.length === 0) return { transfers, pendingStatuses, failedIds };
    const uuids = arrayLiteral(ids, u128ToUuid);
    const sql = this.sql;
    const [transferRows, failedRows] = await Promise.all([
      sql<(TransferRow & { pending_status: number | null })[]>`
        select t.*, p.status as pending_status
        from transfers t left join pending_transfers p on p.id = t.id
        where t.id = any(${uuids}::uuid[])`,
      sql<{ id: string }[]>`select id from failed_transfers where id = any(${uuids}::uuid[])`,
    ]);
    for (const row of transferRows) {
      const transfer = transferFromRow(row);
      transfers.set(transfer.id, transfer);
      if (transfer.flags.pending) {
        if (row.pending_status === null) {
          throw new Error(`corrupt store: pending transfer ${row.id} has no pending status`);
        }
        pendingStatuses.set(transfer.id, pendingStatusFromCode(row.pending_status));
      }
    }
    for (const row of failedRows) failedIds.add(u128FromUuid(row.id));
    return { transfers, pendingStatuses, failedIds };
  }

  /**
   * Writes run one after another in call order. After one fails, every later write fails with
   * the same error without running, until load(): each batch's balances build on the one
   * before, so writing a later batch alone would corrupt the store.
   */
  write(writes: BatchWrites): Promise<void> {
    const next = this.writing.then(() => this.writeNow(writes));
    this.writing = next;
    next.catch(() => {});
    return next;
  }

  private async writeNow(writes: BatchWrites): Promise<void> {
    if (this.closed) throw new Error('the ledger storage is closed');
    if (isEmptyWrites(writes)) return;
    // begin() binds the transaction to one connection: if it drops, every statement fails and
    // none is retried on a new session outside the transaction.
    await this.writer.begin((tx) => this.writeIn(tx, writes));
  }

  /** Sends the batch's statements pipelined, then throws (rolling back) if anything is off. */
  private async writeIn(w: postgres.TransactionSql, writes: BatchWrites): Promise<void> {
    const pipeline = createPipeline();
    const session = pipeline.send(w<{ pid: number }[]>`select pg_backend_pid() as pid`);
    await sendTransfersAndAccounts(w, pipeline, writes);
    sendOutcomes(w, pipeline, writes);
    const failure = await this.firstFailure(pipeline, session);
    if (failure !== undefined) throw failure;
  }

  /** What makes the batch roll back: a failed statement, a lost session, a miscounted update. */
  private async firstFailure(
    pipeline: Pipeline,
    session: Promise<{ pid: number }[]>,
  ): Promise<unknown> {
    const { statements, counted } = pipeline;
    // Wait for every statement before deciding between COMMIT and ROLLBACK.
    const outcomes = await Promise.allSettled(statements);
    let failure: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        failure = outcome.reason;
        break;
      }
    }
    if (failure === undefined && (await session)[0]?.pid !== this.writerPid) {
      failure = new WriterSessionLostError();
    }
    if (failure === undefined) {
      for (const { what, query, rows } of counted) {
        const { count } = (await query) as { count: number };
        if (count !== rows) {
          failure = new Error(`corrupt batch: ${what}: ${count} rows changed, ${rows} expected`);
          break;
        }
      }
    }
    return failure;
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.sql<TransferRow[]>`
      select * from transfers where id = any(${arrayLiteral(ids, u128ToUuid)}::uuid[])`;
    const found = new Map<bigint, TransferRecord>();
    for (const row of rows) {
      const transfer = transferFromRow(row);
      found.set(transfer.id, transfer);
    }
    const result: TransferRecord[] = [];
    for (const id of ids) {
      const transfer = found.get(id);
      if (transfer !== undefined) result.push(transfer);
    }
    return result;
  }

  async getAccountTransfers(filter: AccountFilter): Promise<TransferRecord[]> {
    const neither = filter.debits === undefined && filter.credits === undefined;
    const debits = neither || filter.debits === true;
    const credits = neither || filter.credits === true;
    const limit = Math.floor(filter.limit);
    if ((!debits && !credits) || !(limit > 0)) return [];
    const min = clampInt64(filter.timestampMin ?? 0n);
    const max = clampInt64(filter.timestampMax ?? int64Max);
    if (min > max) return [];
    const sql = this.sql;
    const account = u128ToUuid(filter.accountId);
    const order = filter.reversed === true ? sql`desc` : sql`asc`;
    // Each side walks its own (account, timestamp) index in order and stops after `limit` rows,
    // so a busy account's history is never read in full.
    const side = (column: 'debit_account_id' | 'credit_account_id') => sql`(
      select * from transfers
      where ${sql(column)} = ${account}::uuid and timestamp between ${min} and ${max}
      order by timestamp ${order} limit ${limit})`;
    const rows =
      debits && credits
        ? await sql<TransferRow[]>`
            select * from (${side('debit_account_id')} union all ${side('credit_account_id')}) t
            order by timestamp ${order} limit ${limit}`
        : await sql<TransferRow[]>`${side(debits ? 'debit_account_id' : 'credit_account_id')}`;
    return rows.map(transferFromRow);
  }

  async scanAccounts(): Promise<AccountRecord[]> {
    const rows = await this.sql<AccountRow[]>`select * from accounts order by timestamp`;
    return rows.map(accountFromRow);
  }

  async *scanTransfers(): AsyncIterable<TransferRecord[]> {
    let after = -1n;
    for (;;) {
      const rows = await this.sql<TransferRow[]>`
        select * from transfers where timestamp > ${after}
        order by timestamp limit ${scanChunkSize}`;
      const last = rows[rows.length - 1];
      if (last === undefined) return;
      yield rows.map(transferFromRow);
      if (rows.length < scanChunkSize) return;
      after = BigInt(last.timestamp);
    }
  }

  async scanPendingStatuses(): Promise<Map<bigint, PendingStatus>> {
    const rows = await this.sql<{ id: string; status: number }[]>`
      select id, status from pending_transfers`;
    return new Map(rows.map((row) => [u128FromUuid(row.id), pendingStatusFromCode(row.status)]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing.catch(() => {});
    const writer = this.writerSession;
    if (writer !== undefined) {
      try {
        await writer.connection`
          select pg_advisory_unlock(${writerLockKey}) where pg_backend_pid() = ${writer.pid}`;
      } catch {
        // The connection is gone, and the lock with it.
      }
      await writer.connection.end({ timeout: 5 });
    }
    if (this.ownsPool) await this.sql.end({ timeout: 5 });
  }
}
