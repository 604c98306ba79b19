/**
 * Per-subject data keys (DESIGN.md section 7): every user's personal fields are sealed under an
 * AES-256-GCM key of their own, stored only wrapped (AES-256-GCM, bound to the subject) under a
 * master key whose id is kept beside it. Destroying the wrapped key shreds everything it sealed,
 * backups included (crypto-shredding). A master key is rotated without downtime: new wraps use
 * the current key, reads accept the previous ones, and `rewrapBatch` moves the keys over a small
 * batch at a time while the platform serves.
 *
 * The platform's own secrets (webhook signing secrets, bank files, token keys, lookup tags) are
 * sealed under a root secret, itself a data key (subject `platform`), so that a rotation rewraps
 * it with the others. A new database gets a random root. A database that holds data sealed
 * before data keys existed gets the master key of that moment as its root, so that what was
 * sealed under it stays readable; there, the first master key keeps opening the platform's own
 * secrets after a rotation (not the users' fields, whose keys are random).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema } from '../db/schema.ts';
import type { MasterKey, MasterKeys } from './master-key.ts';
import { createPersonalDataCipher, type PersonalDataCipher } from './personal-data-cipher.ts';

/** Unwrapped data keys kept in memory at most (the least recently used are dropped). */
export const dataKeysCachedMax = 10_000;
/**
 * How long an unwrapped key is used from memory before the database is asked again: a key
 * destroyed on another node stops working here within this time (at once on this node).
 */
export const dataKeyCacheTtlMs = 60_000;
/** Data keys rewrapped per transaction by `rewrapBatch`: short transactions, serving goes on. */
export const rewrapBatchRowsMax = 100;

const dataKeyBytes = 32;
const ivBytes = 12;
const wrapFormat = 'k1';
export const platformRootSubject = 'platform';

/** Whose data a key seals: a user, a pending invitation, or the platform itself. */
export type DataKeySubject = `user:${string}` | `invitation:${string}` | typeof platformRootSubject;

/** Encrypts and decrypts one subject's fields, each bound to its context (owner and purpose). */
export type DataKey = Pick<PersonalDataCipher, 'encrypt' | 'decrypt'>;

/** Thrown when a subject's key was destroyed: its data is gone for good. */
export class ErasedDataError extends Error {
  constructor(subject: string) {
    super(`the data of ${subject} was erased`);
    this.name = 'ErasedDataError';
  }
}

type Executor = Kysely<PlatformSchema>;

export interface DataKeyring {
  /** The subject's key, made (and stored wrapped) on first use; throws ErasedDataError. */
  keyFor(subject: DataKeySubject, executor?: Executor): Promise<DataKey>;
  /** The subject's key if it has one, 'erased' if it was destroyed, else undefined. */
  existingKeyFor(subject: DataKeySubject): Promise<DataKey | 'erased' | undefined>;
  /** Destroys the subject's key (inside the caller's transaction when given). */
  destroy(subject: DataKeySubject, executor?: Executor): Promise<void>;
  /** Drops the subject's key from this node's memory (after a transaction that destroyed it). */
  forget(subject: DataKeySubject): void;
  /**
   * The platform's root secret (see above), made on first use: the current master key when
   * `sealedBefore` says the database holds data sealed under it, else random.
   */
  platformRoot(sealedBefore: () => Promise<boolean>): Promise<Buffer>;
  /** Rewraps up to `rewrapBatchRowsMax` keys still under a previous master key; answers how many. */
  rewrapBatch(): Promise<number>;
  /** How many live keys are still wrapped under a previous master key. */
  countStale(): Promise<number>;
  readonly currentMasterKeyId: string;
  /** Whether previous master keys are configured: a rotation may be under way. */
  readonly rotating: boolean;
}

export function createDataKeyring(deps: {
  readonly platform: PlatformDb;
  readonly masterKeys: MasterKeys;
  readonly clock: () => number;
}): DataKeyring {
  const { masterKeys, clock } = deps;
  const db = deps.platform.db;
  const wrapper = createWrapper(masterKeys);
  // Through the index on master_key_id: only the previous keys' rows, never a scan of them all.
  const previousIds = masterKeys.previous.map((master) => master.id);
  // Only unwrapped keys as ciphers: the raw bytes are not kept beside them, and never logged.
  const cache = new LRUCache<string, DataKey>({ max: dataKeysCachedMax, ttl: dataKeyCacheTtlMs });

  async function readRaw(
    subject: string,
    executor: Executor,
  ): Promise<Buffer | 'erased' | undefined> {
    const row = await executor
      .selectFrom('data_keys')
      .select(['wrapped', 'master_key_id'])
      .where('subject', '=', subject)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    if (row.wrapped === null) return 'erased';
    return wrapper.unwrap(subject, row.wrapped, row.master_key_id);
  }

  async function rawKeyFor(subject: string, fresh: Buffer, executor: Executor): Promise<Buffer> {
    const found = await readRaw(subject, executor);
    if (found === 'erased') throw new ErasedDataError(subject);
    if (found !== undefined) return found;
    await executor
      .insertInto('data_keys')
      .values({
        subject,
        wrapped: wrapper.wrap(subject, fresh),
        master_key_id: masterKeys.current.id,
        created_at: BigInt(clock()),
        destroyed_at: null,
      })
      .onConflict((conflict) => conflict.column('subject').doNothing())
      .execute();
    // Another node may have made the subject's key first: the stored one is the key.
    const stored = await readRaw(subject, executor);
    if (stored === 'erased') throw new ErasedDataError(subject);
    if (stored === undefined) throw new Error(`the data key of ${subject} was not stored`);
    return stored;
  }

  function remember(subject: string, raw: Buffer): DataKey {
    const key = keyOf(raw);
    cache.set(subject, key);
    return key;
  }

  return {
    currentMasterKeyId: masterKeys.current.id,
    async keyFor(subject, executor) {
      const cached = cache.get(subject);
      if (cached !== undefined) return cached;
      const raw = await rawKeyFor(subject, randomBytes(dataKeyBytes), executor ?? db);
      // Inside a caller's transaction the key is not remembered: it may yet be rolled back.
      if (executor !== undefined) return keyOf(raw);
      return remember(subject, raw);
    },
    async existingKeyFor(subject) {
      const cached = cache.get(subject);
      if (cached !== undefined) return cached;
      const raw = await readRaw(subject, db);
      return raw === undefined || raw === 'erased' ? raw : remember(subject, raw);
    },
    async destroy(subject, executor = db) {
      const nowMs = BigInt(clock());
      await executor
        .insertInto('data_keys')
        .values({
          subject,
          wrapped: null,
          master_key_id: masterKeys.current.id,
          created_at: nowMs,
          destroyed_at: nowMs,
        })
        .onConflict((conflict) =>
          conflict.column('subject').doUpdateSet({ wrapped: null, destroyed_at: nowMs }),
        )
        .execute();
      cache.delete(subject);
    },
    forget(subject) {
      cache.delete(subject);
    },
    async platformRoot(sealedBefore) {
      const stored = await readRaw(platformRootSubject, db);
      if (stored === 'erased') throw new ErasedDataError(platformRootSubject);
      if (stored !== undefined) return stored;
      const legacy = await sealedBefore();
      const fresh = legacy ? Buffer.from(masterKeys.current.key) : randomBytes(dataKeyBytes);
      return rawKeyFor(platformRootSubject, fresh, db);
    },
    rotating: previousIds.length > 0,
    rewrapBatch: () => rewrapBatch(db, wrapper, masterKeys.current.id, previousIds),
    async countStale() {
      if (previousIds.length === 0) return 0;
      const row = await db
        .selectFrom('data_keys')
        .select((eb) => eb.fn.countAll<string | number | bigint>().as('count'))
        .where('master_key_id', 'in', previousIds)
        .where('wrapped', 'is not', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
  };
}

function keyOf(raw: Buffer): DataKey {
  const cipher = createPersonalDataCipher(raw);
  return { encrypt: cipher.encrypt, decrypt: cipher.decrypt };
}

async function rewrapBatch(
  db: Executor,
  wrapper: Wrapper,
  currentId: string,
  previousIds: readonly string[],
): Promise<number> {
  if (previousIds.length === 0) return 0;
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .selectFrom('data_keys')
      .select(['subject', 'wrapped', 'master_key_id'])
      .where('master_key_id', 'in', previousIds)
      .where('wrapped', 'is not', null)
      .orderBy('subject')
      .limit(rewrapBatchRowsMax)
      .execute();
    let rewrapped = 0;
    for (const row of rows) {
      if (row.wrapped === null) continue;
      const raw = wrapper.unwrap(row.subject, row.wrapped, row.master_key_id);
      // Conditional: a node rewrapping (or an erasure) at the same time changed it meanwhile.
      const result = await tx
        .updateTable('data_keys')
        .set({ wrapped: wrapper.wrap(row.subject, raw), master_key_id: currentId })
        .where('subject', '=', row.subject)
        .where('master_key_id', '=', row.master_key_id)
        .where('wrapped', '=', row.wrapped)
        .executeTakeFirst();
      rewrapped += Number(result.numUpdatedRows);
    }
    return rewrapped;
  });
}

interface Wrapper {
  wrap(subject: string, raw: Buffer): string;
  unwrap(subject: string, wrapped: string, masterKeyId: string): Buffer;
}

/** AES-256-GCM under a key derived from each master key, the subject as associated data. */
function createWrapper(masterKeys: MasterKeys): Wrapper {
  const wrapKeys = new Map<string, Buffer>();
  for (const master of [masterKeys.current, ...masterKeys.previous]) {
    wrapKeys.set(master.id, wrapKeyOf(master));
  }
  const currentKey = wrapKeyOf(masterKeys.current);
  return {
    wrap(subject, raw) {
      const iv = randomBytes(ivBytes);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      cipher.setAAD(Buffer.from(`data-key:${subject}`));
      const body = Buffer.concat([cipher.update(raw), cipher.final()]);
      const parts = [iv, body, cipher.getAuthTag()].map((part) => part.toString('base64url'));
      return [wrapFormat, ...parts].join('.');
    },
    unwrap(subject, wrapped, masterKeyId) {
      const key = wrapKeys.get(masterKeyId);
      if (key === undefined) {
        throw new Error(
          `the data key of ${subject} is wrapped under master key ${masterKeyId}, not configured`,
        );
      }
      const [format, iv, body, tag] = wrapped.split('.');
      if (format !== wrapFormat || iv === undefined || body === undefined || tag === undefined) {
        throw new Error(`the data key of ${subject} has an unknown format`);
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(`data-key:${subject}`));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]);
    },
  };
}

function wrapKeyOf(master: MasterKey): Buffer {
  return Buffer.from(hkdfSync('sha256', master.key, '', 'mite data key wrap v1', 32));
}

/** What a view shows for a field of a person who erased their account. */
export const erasedLabel = 'erased';

/** The key of a user's personal fields. */
export function userSubject(userId: string): DataKeySubject {
  return `user:${userId}`;
}

/**
 * A user's field, opened with their data key under the context `user:<id>:<purpose>`, or
 * undefined when the user erased their account (the key is gone, the value with it).
 */
export async function openUserField(
  keyring: Pick<DataKeyring, 'existingKeyFor'>,
  userId: string,
  sealed: string,
  purpose: string,
): Promise<string | undefined> {
  const key = await keyring.existingKeyFor(userSubject(userId));
  if (key === undefined) throw new Error(`user ${userId} has no data key`);
  if (key === 'erased') return undefined;
  return key.decrypt(sealed, `user:${userId}:${purpose}`);
}
