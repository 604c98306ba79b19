import type { PlatformDb } from '../db/platform-db.ts';
import type { AdminKeyRow } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import { msOrNull, recordKeyUse } from './key-usage.ts';
import { issueSecret, parseSecret, secretMatches } from './secrets.ts';

/** An admin key as operators see it: never its secret. */
export interface AdminKeyInfo {
  readonly keyId: string;
  readonly label: string;
  readonly createdAtMs: number;
  /** To within keyLastUsedResolutionMs; null when never used. */
  readonly lastUsedAtMs: number | null;
  readonly revokedAtMs: number | null;
}

export type AdminKeyChangeError = 'notFound' | 'lastAdminKey';

function adminKeyInfo(row: AdminKeyRow): AdminKeyInfo {
  return {
    keyId: row.id,
    label: row.label,
    createdAtMs: Number(row.created_at),
    lastUsedAtMs: msOrNull(row.last_used_at),
    revokedAtMs: msOrNull(row.revoked_at),
  };
}

/**
 * Operators' admin keys. A fresh platform has none; the first start creates one and shows it
 * once (as a database server prints its first password), so the operator console can be reached.
 * The last active key cannot be revoked, so that the operator is never locked out of the API.
 */
export function createAdminKeyService(deps: { platform: PlatformDb; clock: () => number }) {
  const { platform, clock } = deps;
  const db = platform.db;

  async function insertKey(
    into: Pick<typeof db, 'insertInto'>,
    label: string,
  ): Promise<{ keyId: string; secret: string }> {
    const issued = issueSecret('adminKey');
    await into
      .insertInto('admin_keys')
      .values({
        id: issued.id,
        secret_hash: issued.hash,
        label,
        created_at: BigInt(clock()),
        revoked_at: null,
      })
      .execute();
    return { keyId: issued.id, secret: issued.secret };
  }

  const issue = (label: string) => insertKey(db, label);

  /** Creates the first admin key when there is none; undefined when one exists already. */
  async function bootstrap(): Promise<{ keyId: string; secret: string } | undefined> {
    const any = await db.selectFrom('admin_keys').select('id').limit(1).executeTakeFirst();
    return any === undefined ? issue('first admin key') : undefined;
  }

  /** Every request reads its key's row (none is cached): a revoked key is refused at once. */
  async function authenticate(secret: string): Promise<{ keyId: string } | undefined> {
    const parsed = parseSecret(secret);
    if (parsed?.kind !== 'adminKey') return undefined;
    const key = await db
      .selectFrom('admin_keys')
      .selectAll()
      .where('id', '=', parsed.id)
      .executeTakeFirst();
    if (key === undefined || key.revoked_at !== null || !secretMatches(secret, key.secret_hash)) {
      return undefined;
    }
    await recordKeyUse(db, 'admin_keys', key, clock());
    return { keyId: key.id };
  }

  /** Every admin key, revoked ones too, oldest first. */
  async function list(): Promise<AdminKeyInfo[]> {
    const rows = await db
      .selectFrom('admin_keys')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(adminKeyInfo);
  }

  /**
   * The active keys, locked on PostgreSQL until the transaction ends: two revocations at once
   * then take turns, and the second sees the first's, so they cannot revoke the last two keys.
   * (SQLite runs one write transaction at a time.)
   */
  async function activeKeyIds(tx: Pick<typeof db, 'selectFrom'>): Promise<string[]> {
    let query = tx.selectFrom('admin_keys').select('id').where('revoked_at', 'is', null);
    if (platform.dialect === 'postgres') query = query.forUpdate();
    return (await query.execute()).map((row) => row.id);
  }

  /** Revokes a key at once; revoking a revoked key changes nothing; the last active one stays. */
  async function revoke(keyId: string): Promise<Result<AdminKeyInfo, AdminKeyChangeError>> {
    return db.transaction().execute(async (tx) => {
      const active = await activeKeyIds(tx);
      if (active.includes(keyId)) {
        if (active.length === 1) {
          return fail('lastAdminKey', 'The last active admin key cannot be revoked; rotate it.');
        }
        await tx
          .updateTable('admin_keys')
          .set({ revoked_at: BigInt(clock()) })
          .where('id', '=', keyId)
          .execute();
      }
      const row = await tx
        .selectFrom('admin_keys')
        .selectAll()
        .where('id', '=', keyId)
        .executeTakeFirst();
      return row === undefined ? fail('notFound', 'No such admin key.') : ok(adminKeyInfo(row));
    });
  }

  /** A new secret under the same label and the old key revoked, in one transaction. */
  async function rotate(
    keyId: string,
  ): Promise<Result<{ keyId: string; secret: string; label: string }, AdminKeyChangeError>> {
    return db.transaction().execute(async (tx) => {
      const active = await activeKeyIds(tx);
      if (!active.includes(keyId)) return fail('notFound', 'No such active admin key.');
      const row = await tx
        .updateTable('admin_keys')
        .set({ revoked_at: BigInt(clock()) })
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .returning('label')
        .executeTakeFirst();
      if (row === undefined) return fail('notFound', 'No such active admin key.');
      return ok({ ...(await insertKey(tx, row.label)), label: row.label });
    });
  }

  return { issue, bootstrap, authenticate, list, revoke, rotate };
}

export type AdminKeyService = ReturnType<typeof createAdminKeyService>;
