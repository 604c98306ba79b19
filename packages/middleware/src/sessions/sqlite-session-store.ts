/**
 * Payment sessions in a SQLite file (better-sqlite3, an optional peer dependency loaded only by
 * this entry point, `@mite/middleware/sqlite`): several processes of one merchant share the file,
 * and sessions outlive a restart. Every change is one conditional UPDATE, so SQLite's write lock
 * decides races between processes; a CHECK constraint keeps `spent <= accepted <= deposit` true
 * whatever a caller does. WAL with `synchronous = NORMAL` survives a process crash; a merchant who
 * wants every commit on disk before a unit is served asks for `synchronous: 'full'`.
 */
import { closeSync, openSync } from 'node:fs';
import {
  type GrantCommitment,
  type SessionUnitType,
  sessionUnitTypes,
  type VoucherKind,
} from '@mite/protocol';
import Database from 'better-sqlite3';
import type {
  GrantUpdate,
  SessionCloseReason,
  SessionState,
  SessionStore,
  StoredSession,
} from './session-store.ts';

/** How long a writer waits for another process's write lock before failing. */
export const sqliteBusyTimeoutMs = 5_000;

export interface SqliteSessionStoreOptions {
  /** The database file, created readable by its owner only when it does not exist. */
  readonly file: string;
  /** `normal` (default): durable across process crashes; `full`: across power loss too. */
  readonly synchronous?: 'normal' | 'full';
}

export interface SqliteSessionStore extends SessionStore {
  close(): void;
}

const schema = `
CREATE TABLE IF NOT EXISTS mite_payment_sessions (
  channel_id TEXT PRIMARY KEY,
  challenge_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  payer TEXT NOT NULL,
  unit_price INTEGER NOT NULL,
  unit_type TEXT NOT NULL,
  min_voucher_delta INTEGER NOT NULL,
  voucher_kind TEXT NOT NULL,
  commitment BLOB NOT NULL,
  chain_length INTEGER,
  deposit INTEGER NOT NULL,
  sequence INTEGER NOT NULL,
  grant_jws TEXT NOT NULL,
  open_until INTEGER NOT NULL,
  accepted INTEGER NOT NULL,
  proof BLOB NOT NULL,
  spent INTEGER NOT NULL,
  checkpointed INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
  close_reason TEXT,
  last_activity_ms INTEGER NOT NULL,
  CHECK (spent >= 0 AND spent <= accepted AND accepted <= deposit)
) STRICT;
CREATE INDEX IF NOT EXISTS mite_payment_sessions_by_state
  ON mite_payment_sessions (state, last_activity_ms);
`;

interface Row {
  channel_id: string;
  challenge_id: string;
  resource: string;
  payer: string;
  unit_price: bigint;
  unit_type: string;
  min_voucher_delta: bigint;
  voucher_kind: string;
  commitment: Uint8Array;
  chain_length: bigint | null;
  deposit: bigint;
  sequence: bigint;
  grant_jws: string;
  open_until: bigint;
  accepted: bigint;
  proof: Uint8Array;
  spent: bigint;
  checkpointed: bigint;
  state: string;
  close_reason: string | null;
  last_activity_ms: bigint;
}

function commitmentOf(row: Row): GrantCommitment {
  const kind = row.voucher_kind as VoucherKind;
  const bytes = new Uint8Array(row.commitment);
  return kind === 'payword'
    ? { kind, anchor: bytes, chainLength: Number(row.chain_length ?? 0n) }
    : { kind, voucherKey: bytes };
}

function sessionOf(row: Row): StoredSession {
  const unitType = row.unit_type as SessionUnitType;
  if (!sessionUnitTypes.includes(unitType)) throw new Error(`bug: unit type ${row.unit_type}`);
  return {
    channelId: row.channel_id,
    challengeId: row.challenge_id,
    resource: row.resource,
    payer: row.payer,
    unitPriceMicros: row.unit_price,
    unitType,
    minVoucherDeltaMicros: row.min_voucher_delta,
    commitment: commitmentOf(row),
    depositMicros: row.deposit,
    sequence: Number(row.sequence),
    grant: row.grant_jws,
    openUntilSeconds: Number(row.open_until),
    acceptedMicros: row.accepted,
    proof: new Uint8Array(row.proof),
    spentMicros: row.spent,
    checkpointedMicros: row.checkpointed,
    state: row.state as SessionState,
    closeReason: (row.close_reason ?? undefined) as SessionCloseReason | undefined,
    lastActivityMs: Number(row.last_activity_ms),
  };
}

function insertParams(session: StoredSession): Record<string, unknown> {
  const { commitment } = session;
  return {
    channelId: session.channelId,
    challengeId: session.challengeId,
    resource: session.resource,
    payer: session.payer,
    unitPrice: session.unitPriceMicros,
    unitType: session.unitType,
    minDelta: session.minVoucherDeltaMicros,
    kind: commitment.kind,
    commitment: commitment.kind === 'payword' ? commitment.anchor : commitment.voucherKey,
    chainLength: commitment.kind === 'payword' ? commitment.chainLength : null,
    deposit: session.depositMicros,
    sequence: session.sequence,
    grant: session.grant,
    openUntil: session.openUntilSeconds,
    accepted: session.acceptedMicros,
    proof: session.proof,
    spent: session.spentMicros,
    checkpointed: session.checkpointedMicros,
    state: session.state,
    closeReason: session.closeReason ?? null,
    lastActivityMs: session.lastActivityMs,
  };
}

/** Creates the file owner-only when it does not exist, before SQLite opens it. */
function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
}

function openDatabase(options: SqliteSessionStoreOptions): Database.Database {
  createPrivateFile(options.file);
  const db = new Database(options.file, { timeout: sqliteBusyTimeoutMs });
  db.defaultSafeIntegers(true);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec(schema);
  return db;
}

function statements(db: Database.Database) {
  const table = 'mite_payment_sessions';
  return {
    get: db.prepare(`SELECT * FROM ${table} WHERE channel_id = ?`),
    insert: db.prepare(
      `INSERT INTO ${table} VALUES (:channelId, :challengeId, :resource, :payer, :unitPrice,
        :unitType, :minDelta, :kind, :commitment, :chainLength, :deposit, :sequence, :grant,
        :openUntil, :accepted, :proof, :spent, :checkpointed, :state, :closeReason,
        :lastActivityMs)
       ON CONFLICT (channel_id) DO NOTHING`,
    ),
    topUp: db.prepare(
      `UPDATE ${table} SET sequence = :sequence, grant_jws = :grant, deposit = :deposit,
        open_until = :openUntil, last_activity_ms = :nowMs
       WHERE channel_id = :channelId AND state = 'open' AND sequence < :sequence
         AND deposit <= :deposit
       RETURNING *`,
    ),
    accept: db.prepare(
      `UPDATE ${table} SET accepted = :micros, proof = :proof, last_activity_ms = :nowMs
       WHERE channel_id = :channelId AND state = 'open' AND accepted < :micros
         AND :micros <= deposit
       RETURNING *`,
    ),
    spend: db.prepare(
      `UPDATE ${table} SET spent = spent + :micros, last_activity_ms = :nowMs
       WHERE channel_id = :channelId AND state = 'open' AND spent + :micros <= accepted
       RETURNING *`,
    ),
    unspend: db.prepare(
      `UPDATE ${table} SET spent = max(spent - :micros, 0) WHERE channel_id = :channelId`,
    ),
    checkpointed: db.prepare(
      `UPDATE ${table} SET checkpointed = :micros
       WHERE channel_id = :channelId AND checkpointed < :micros`,
    ),
    transition: db.prepare(
      `UPDATE ${table} SET state = :to, close_reason = coalesce(:reason, close_reason)
       WHERE channel_id = :channelId AND state = :from`,
    ),
    list: db.prepare(`SELECT * FROM ${table} WHERE state = ? ORDER BY last_activity_ms LIMIT ?`),
  };
}

/** Opens (creating if need be) the session store in `options.file`. */
export function createSqliteSessionStore(options: SqliteSessionStoreOptions): SqliteSessionStore {
  const db = openDatabase(options);
  const sql = statements(db);
  const read = (channelId: string): StoredSession | undefined => {
    const row = sql.get.get(channelId) as Row | undefined;
    return row === undefined ? undefined : sessionOf(row);
  };
  const changed = (result: Database.RunResult): boolean => result.changes === 1;
  // A conditional UPDATE ... RETURNING answers the row it changed, or nothing.
  const returned = (row: unknown): StoredSession | undefined =>
    row === undefined ? undefined : sessionOf(row as Row);
  // better-sqlite3 is synchronous; each answer is wrapped so that the interface stays the same
  // for stores that are not. A throw (a full disk, a lock held too long) rejects the promise.
  const now = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error as Error);
    }
  };
  return {
    get: (channelId) => now(() => read(channelId)),
    open: (session) =>
      now(() => {
        sql.insert.run(insertParams(session));
        return read(session.channelId);
      }),
    topUp: (channelId, update: GrantUpdate, nowMs) =>
      now(() => returned(sql.topUp.get({ channelId, ...grantParams(update), nowMs }))),
    accept: (channelId, micros, proof, nowMs) =>
      now(() => returned(sql.accept.get({ channelId, micros, proof, nowMs }))),
    spend: (channelId, micros, nowMs) =>
      now(() => returned(sql.spend.get({ channelId, micros, nowMs }))),
    unspend: (channelId, micros) => now(() => void sql.unspend.run({ channelId, micros })),
    checkpointed: (channelId, micros) =>
      now(() => void sql.checkpointed.run({ channelId, micros })),
    transition: (channelId, from, to, reason) =>
      now(() => changed(sql.transition.run({ channelId, from, to, reason: reason ?? null }))),
    list: (state, limit) => now(() => (sql.list.all(state, limit) as Row[]).map(sessionOf)),
    close: () => db.close(),
  };
}

function grantParams(update: GrantUpdate): Record<string, unknown> {
  return {
    sequence: update.sequence,
    grant: update.grant,
    deposit: update.depositMicros,
    openUntil: update.openUntilSeconds,
  };
}
