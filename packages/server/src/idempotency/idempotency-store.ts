/**
 * Idempotency-Key records (DESIGN section 4): the first response to a mutating request is kept and
 * replayed to retries under the same key, and the database, not one node's memory, decides which
 * of several concurrent requests runs, so that this holds across API nodes.
 *
 * A kept response may hold a secret shown once (a new API key, a webhook secret) or personal data
 * (bank details): its headers and body are stored encrypted (AES-256-GCM, bound to the record's
 * principal and key), never in the clear.
 *
 * A request calls `begin` before doing anything, then `complete` with its response, or `abandon`
 * when it failed before any effect, so that a retry may run again.
 */
import type { Transaction } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import { affectedRows, firstRow, preparedQuery } from '../db/prepared-query.ts';
import type { IdempotencyRecordRow, PlatformSchema } from '../db/schema.ts';
import { createTransactionBatcher, type TransactionBatcher } from '../db/transaction-batcher.ts';
import { looksEncrypted, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';

/** How long a response is replayed, by default and at the least (DESIGN: at least 24 hours). */
export const idempotencyRetentionMs = 24 * 60 * 60 * 1000;

/** Longest Idempotency-Key accepted, in characters. */
export const idempotencyKeyMaxLength = 255;

/** Claim attempts in `begin` when the record keeps vanishing between claim and read. */
const beginAttemptsMax = 5;

const idempotencyKeyPattern = new RegExp(`^[\\x21-\\x7e]{1,${idempotencyKeyMaxLength}}$`);

/** 1 to idempotencyKeyMaxLength visible ASCII characters (no spaces, no control characters). */
export function isValidIdempotencyKey(key: string): boolean {
  return idempotencyKeyPattern.test(key);
}

/** `begin` was handed a key that isValidIdempotencyKey refuses (the caller answers 400). */
export class InvalidIdempotencyKeyError extends Error {
  override readonly name = 'InvalidIdempotencyKeyError';
}

/** `complete` found no in-progress record: never begun, already completed or abandoned. */
export class IdempotencyStateError extends Error {
  override readonly name = 'IdempotencyStateError';
}

export interface IdempotencyRequest {
  /** Who sends the request ("user:<id>", "merchant:<id>"...): keys are scoped per principal. */
  readonly principal: string;
  readonly key: string;
  readonly method: string;
  readonly path: string;
  /** A hash of the request body (and whatever else must match for a replay). */
  readonly requestHash: string;
}

export type ResponseHeaders = Readonly<Record<string, string>>;

export interface StoredResponse {
  readonly status: number;
  readonly headers: ResponseHeaders;
  readonly body: string;
}

export type BeginResult =
  /** A new record, in progress: run the request, then complete or abandon. */
  | { readonly outcome: 'started' }
  /** Completed earlier with the same method, path and request hash: send this response again. */
  | ({ readonly outcome: 'replay' } & StoredResponse)
  /** The key was used for a different request: answer 422. */
  | { readonly outcome: 'mismatch' }
  /** The first request with this key is still running: answer 409. */
  | { readonly outcome: 'inProgress' };

export interface RecordKey {
  readonly principal: string;
  readonly key: string;
}

export interface IdempotencyStore {
  begin(request: IdempotencyRequest): Promise<BeginResult>;
  complete(record: RecordKey & StoredResponse): Promise<void>;
  /** Deletes the record if still in progress; returns whether it did. */
  abandon(record: RecordKey): Promise<boolean>;
  /** Deletes the records past their expiry; returns how many. */
  purgeExpired(): Promise<number>;
  /**
   * Encrypts the responses that versions before this one kept in the clear; the platform runs it
   * at start, and it does its work once (recorded in `data_upgrades`). Returns how many it sealed.
   */
  sealPlaintextResponses(): Promise<number>;
}

/** The name `data_upgrades` records `sealPlaintextResponses` under, once it has run. */
export const sealResponsesUpgrade = 'seal-idempotency-responses-v1';
/** Records read and sealed per transaction by `sealPlaintextResponses`. */
const sealChunkRecordsMax = 500;
/**
 * Expired records deleted per statement by `purgeExpired`, each statement its own transaction, so
 * that no purge holds the database (and its write lock, on SQLite) for long however much expired.
 */
export const idempotencyPurgeBatchMax = 500;

export interface IdempotencyStoreOptions {
  /** Encrypts the kept responses (the platform's personal-data cipher). */
  readonly cipher: PersonalDataCipher;
  /** Milliseconds since the epoch; tests pass their own. */
  readonly clock?: () => number;
  /** How long a record lives after begin and again after complete; >= idempotencyRetentionMs. */
  readonly retentionMs?: number;
  /** Shares commits with other writes (the platform passes its own); a new one by default. */
  readonly batcher?: TransactionBatcher;
  /** Records deleted per statement by purgeExpired; idempotencyPurgeBatchMax by default. */
  readonly purgeBatchRecords?: number;
}

const started: BeginResult = { outcome: 'started' };
const mismatch: BeginResult = { outcome: 'mismatch' };
const inProgress: BeginResult = { outcome: 'inProgress' };

export function createIdempotencyStore(
  platformDb: PlatformDb,
  options: IdempotencyStoreOptions,
): IdempotencyStore {
  const {
    clock = Date.now,
    retentionMs = idempotencyRetentionMs,
    purgeBatchRecords = idempotencyPurgeBatchMax,
  } = options;
  if (!Number.isSafeInteger(retentionMs) || retentionMs < idempotencyRetentionMs) {
    throw new RangeError(`retentionMs must be an integer >= ${idempotencyRetentionMs}`);
  }
  if (!Number.isSafeInteger(purgeBatchRecords) || purgeBatchRecords < 1) {
    throw new RangeError('purgeBatchRecords must be a whole number, 1 or more');
  }
  const records = new Records(
    platformDb,
    options.batcher ?? createTransactionBatcher(platformDb),
    retentionMs,
    options.cipher,
  );

  return {
    async begin(request) {
      if (!isValidIdempotencyKey(request.key)) {
        throw new InvalidIdempotencyKeyError(
          `Idempotency-Key must be 1 to ${idempotencyKeyMaxLength} visible ASCII characters`,
        );
      }
      for (let attempt = 0; attempt < beginAttemptsMax; attempt++) {
        const nowMs = clock();
        const existing = await records.claimOrFind(request, nowMs);
        if (existing === 'claimed') return started;
        if (existing !== undefined && existing.expires_at > BigInt(nowMs)) {
          return outcomeOf(existing, request, options.cipher);
        }
        // Abandoned or expired since the claim failed: it is free again.
      }
      throw new Error(`idempotency record still contended after ${beginAttemptsMax} attempts`);
    },
    async complete(record) {
      if (!(await records.storeResponse(record, clock()))) {
        throw new IdempotencyStateError('no in-progress idempotency record to complete');
      }
    },
    abandon: (record) => records.deleteInProgress(record),
    purgeExpired: () => records.deleteExpired(clock(), purgeBatchRecords),
    sealPlaintextResponses: () => records.sealPlaintext(clock()),
  };
}

function outcomeOf(
  existing: IdempotencyRecordRow,
  request: IdempotencyRequest,
  cipher: PersonalDataCipher,
): BeginResult {
  const sameRequest =
    existing.method === request.method &&
    existing.path === request.path &&
    existing.request_hash === request.requestHash;
  // A different request is refused even while the first runs: reusing a key is a client bug.
  if (!sameRequest) return mismatch;
  if (existing.state === 'in_progress') return inProgress;
  return { outcome: 'replay', ...responseOf(existing, cipher) };
}

/** What a kept response's encryption is bound to: it cannot be moved to another record. */
function responseContext(record: RecordKey, part: 'headers' | 'body'): string {
  return `idempotency response ${part}\u0000${record.principal}\u0000${record.key}`;
}

function responseOf(row: IdempotencyRecordRow, cipher: PersonalDataCipher): StoredResponse {
  const record = { principal: row.principal, key: row.idempotency_key };
  // Records an earlier version kept in the clear, until sealPlaintextResponses seals them at start.
  const open = (value: string | null, part: 'headers' | 'body') =>
    value === null || !looksEncrypted(value)
      ? value
      : cipher.decrypt(value, responseContext(record, part));
  const headers: unknown = JSON.parse(open(row.response_headers, 'headers') ?? 'null');
  const body = open(row.response_body, 'body');
  if (row.response_status === null || body === null || !isHeaders(headers)) {
    throw new Error('completed idempotency record without a well-formed response');
  }
  return { status: row.response_status, headers, body };
}

function isHeaders(value: unknown): value is ResponseHeaders {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

function assertStatus(status: number): void {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`not an HTTP status: ${status}`);
  }
}

/**
 * The SQL, prepared (see prepared-query.ts): every mutating request runs it. Writes go through the
 * batcher, so that concurrent requests' records share commits.
 */
class Records {
  readonly #platformDb: PlatformDb;
  readonly #batcher: TransactionBatcher;
  readonly #retentionMs: number;
  readonly #cipher: PersonalDataCipher;

  constructor(
    platformDb: PlatformDb,
    batcher: TransactionBatcher,
    retentionMs: number,
    cipher: PersonalDataCipher,
  ) {
    this.#platformDb = platformDb;
    this.#batcher = batcher;
    this.#retentionMs = retentionMs;
    this.#cipher = cipher;
  }

  /**
   * Claims the key (claimIn), or else returns the record that holds it (undefined if it vanished
   * meanwhile).
   */
  async claimOrFind(
    request: IdempotencyRequest,
    nowMs: number,
  ): Promise<'claimed' | IdempotencyRecordRow | undefined> {
    // Answered once durable, like every unit: a record found is another request's state, which
    // is then on disk too (SQLite syncs its log in order).
    return this.#batcher.run(async (tx) => {
      if ((await this.claimIn(tx, request, nowMs)) !== undefined) return 'claimed';
      return firstRow(selectRecord, tx, request);
    });
  }

  /**
   * Inserts a new in-progress record, or takes over an expired one, in one statement; under
   * concurrency the primary key lets exactly one claimer through. Undefined when another
   * request holds the key.
   */
  claimIn(
    tx: Transaction<PlatformSchema>,
    request: IdempotencyRequest,
    nowMs: number,
  ): Promise<{ principal: string } | undefined> {
    return firstRow(claimRecord, tx, {
      principal: request.principal,
      key: request.key,
      method: request.method,
      path: request.path,
      requestHash: request.requestHash,
      nowMs: BigInt(nowMs),
      expiresAtMs: BigInt(nowMs + this.#retentionMs),
    });
  }

  /** Stores the response and restarts the retention from now: replayed for retentionMs after. */
  async storeResponse(record: RecordKey & StoredResponse, nowMs: number): Promise<boolean> {
    const response = this.storedResponse(record, nowMs);
    const stored = await this.#batcher.run((tx) => affectedRows(completeRecord, tx, response));
    return stored > 0n;
  }

  /** The row's new values: the response encrypted, retained for retentionMs from now. */
  storedResponse(record: RecordKey & StoredResponse, nowMs: number): CompleteArgs {
    assertStatus(record.status);
    const seal = (text: string, part: 'headers' | 'body') =>
      this.#cipher.encrypt(text, responseContext(record, part));
    return {
      principal: record.principal,
      key: record.key,
      status: record.status,
      headers: seal(JSON.stringify(record.headers), 'headers'),
      body: seal(record.body, 'body'),
      expiresAtMs: BigInt(nowMs + this.#retentionMs),
    };
  }

  async deleteInProgress(record: RecordKey): Promise<boolean> {
    const deleted = await this.#batcher.run((tx) => affectedRows(deleteInProgress, tx, record));
    return deleted > 0n;
  }

  /**
   * Seals clear responses chunk by chunk, in key order; each update applies only while the row
   * still holds the clear text it was read with (nodes starting together are harmless).
   */
  async sealPlaintext(nowMs: number): Promise<number> {
    const db = this.#platformDb.db;
    const done = await db
      .selectFrom('data_upgrades')
      .select('name')
      .where('name', '=', sealResponsesUpgrade)
      .executeTakeFirst();
    if (done !== undefined) return 0;
    let sealed = 0;
    let after: RecordKey = { principal: '', key: '' };
    for (;;) {
      const rows = await db
        .selectFrom('idempotency_records')
        .selectAll()
        .where('state', '=', 'completed')
        .where((eb) =>
          eb.or([
            eb('principal', '>', after.principal),
            eb.and([eb('principal', '=', after.principal), eb('idempotency_key', '>', after.key)]),
          ]),
        )
        .orderBy('principal')
        .orderBy('idempotency_key')
        .limit(sealChunkRecordsMax)
        .execute();
      sealed += await this.#sealRows(rows, nowMs);
      const last = rows.at(-1);
      if (last === undefined || rows.length < sealChunkRecordsMax) break;
      after = { principal: last.principal, key: last.idempotency_key };
    }
    await db
      .insertInto('data_upgrades')
      .values({ name: sealResponsesUpgrade, done_at: BigInt(nowMs) })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .execute();
    return sealed;
  }

  async #sealRows(rows: readonly IdempotencyRecordRow[], nowMs: number): Promise<number> {
    const clear = rows.filter(
      (row) => row.response_body !== null && !looksEncrypted(row.response_body),
    );
    return this.#platformDb.db.transaction().execute(async (tx) => {
      let sealed = 0;
      for (const row of clear) {
        const { status, headers, body } = responseOf(row, this.#cipher);
        const stored = this.storedResponse(
          { principal: row.principal, key: row.idempotency_key, status, headers, body },
          nowMs,
        );
        const result = await tx
          .updateTable('idempotency_records')
          .set({ response_headers: stored.headers, response_body: stored.body })
          .where('principal', '=', row.principal)
          .where('idempotency_key', '=', row.idempotency_key)
          .where('response_body', '=', body)
          .executeTakeFirst();
        sealed += Number(result.numUpdatedRows);
      }
      return sealed;
    });
  }

  /**
   * Deletes the records expired at nowMs, oldest first, at most batchRecords per statement (found
   * by the index on expires_at), until a statement finds fewer: how many it deleted.
   */
  async deleteExpired(nowMs: number, batchRecords: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const result = await this.#platformDb.db
        .deleteFrom('idempotency_records')
        .where((eb) =>
          eb(
            eb.refTuple('principal', 'idempotency_key'),
            'in',
            eb
              .selectFrom('idempotency_records')
              .select(['principal', 'idempotency_key'])
              .where('expires_at', '<=', BigInt(nowMs))
              .orderBy('expires_at')
              .limit(batchRecords)
              .$asTuple('principal', 'idempotency_key'),
          ),
        )
        .executeTakeFirst();
      const count = Number(result.numDeletedRows);
      deleted += count;
      // Fewer than a batch: nothing expired is left (or another node purged it meanwhile).
      if (count < batchRecords) return deleted;
    }
  }
}

type ClaimArgs = {
  principal: string;
  key: string;
  method: string;
  path: string;
  requestHash: string;
  nowMs: bigint;
  expiresAtMs: bigint;
};

const claimRecord = preparedQuery<ClaimArgs, { principal: string }>((db, arg) => {
  const fresh = {
    method: arg('method'),
    path: arg('path'),
    request_hash: arg('requestHash'),
    state: 'in_progress',
    response_status: null,
    response_headers: null,
    response_body: null,
    created_at: arg('nowMs'),
    expires_at: arg('expiresAtMs'),
  } as const;
  return db
    .insertInto('idempotency_records')
    .values({ principal: arg('principal'), idempotency_key: arg('key'), ...fresh })
    .onConflict((conflict) =>
      conflict
        .columns(['principal', 'idempotency_key'])
        .doUpdateSet(fresh)
        .where('idempotency_records.expires_at', '<=', arg('nowMs')),
    )
    .returning('principal');
});

const selectRecord = preparedQuery<RecordKey, IdempotencyRecordRow>((db, arg) =>
  db
    .selectFrom('idempotency_records')
    .selectAll()
    .where('principal', '=', arg('principal'))
    .where('idempotency_key', '=', arg('key')),
);

type CompleteArgs = {
  principal: string;
  key: string;
  status: number;
  headers: string;
  body: string;
  expiresAtMs: bigint;
};

const completeRecord = preparedQuery<CompleteArgs, never>((db, arg) =>
  db
    .updateTable('idempotency_records')
    .set({
      state: 'completed',
      response_status: arg('status'),
      response_headers: arg('headers'),
      response_body: arg('body'),
      expires_at: arg('expiresAtMs'),
    })
    .where('principal', '=', arg('principal'))
    .where('idempotency_key', '=', arg('key'))
    .where('state', '=', 'in_progress'),
);

const deleteInProgress = preparedQuery<RecordKey, never>((db, arg) =>
  db
    .deleteFrom('idempotency_records')
    .where('principal', '=', arg('principal'))
    .where('idempotency_key', '=', arg('key'))
    .where('state', '=', 'in_progress'),
);
