import type { PlatformDb } from '../db/platform-db.ts';
import { issueSecret, parseSecret, secretMatches } from './secrets.ts';

/**
 * Operators' admin keys. A fresh platform has none; the first start creates one and shows it
 * once (as a database server prints its first password), so the operator console can be reached.
 */
export function createAdminKeyService(deps: { platform: PlatformDb; clock: () => number }) {
  const db = deps.platform.db;

  async function issue(label: string): Promise<{ keyId: string; secret: string }> {
    const issued = issueSecret('adminKey');
    await db
      .insertInto('admin_keys')
      .values({
        id: issued.id,
        secret_hash: issued.hash,
        label,
        created_at: BigInt(deps.clock()),
        revoked_at: null,
      })
      .execute();
    return { keyId: issued.id, secret: issued.secret };
  }

  /** Creates the first admin key when there is none; undefined when one exists already. */
  async function bootstrap(): Promise<{ keyId: string; secret: string } | undefined> {
    const any = await db.selectFrom('admin_keys').select('id').limit(1).executeTakeFirst();
    return any === undefined ? issue('first admin key') : undefined;
  }

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
    return { keyId: key.id };
  }

  return { issue, bootstrap, authenticate };
}

export type AdminKeyService = ReturnType<typeof createAdminKeyService>;
