/**
 * Endpoints' signing secrets at rest: whoever holds one can forge the platform's events to that
 * endpoint, so it is stored encrypted with the personal-data cipher, bound to its endpoint through
 * the cipher's context (a ciphertext copied to another endpoint does not open), and opened only
 * at the moment an attempt is signed. The secret is shown in the clear once, at creation.
 */
import { runDataUpgradeOnce } from '../db/data-upgrades.ts';
import type { Kysely } from 'kysely';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { looksEncrypted, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';

function contextOf(endpointId: string): string {
  return `webhook signing secret\u0000${endpointId}`;
}

/** The value stored in `webhook_endpoints.secret` for `secret`. */
export function sealWebhookSecret(
  cipher: PersonalDataCipher,
  endpointId: string,
  secret: string,
): string {
  return cipher.encrypt(secret, contextOf(endpointId));
}

/** The secret `sealed` holds; throws when it is not this endpoint's or is corrupt. */
export function openWebhookSecret(
  cipher: PersonalDataCipher,
  endpointId: string,
  sealed: string,
): string {
  return cipher.decrypt(sealed, contextOf(endpointId));
}

/** Endpoints the upgrade reads per query at most. */
export const sealSecretsPageRowsMax = 100;

/** The name `data_upgrades` records `sealPlaintextWebhookSecrets` under, once it has run. */
export const sealWebhookSecretsUpgrade = 'seal-webhook-secrets-v1';

/**
 * Encrypts the signing secrets that versions before this one stored in the clear; the platform
 * runs it at start, once (db/data-upgrades.ts). Endpoints are read a page at a time (keyset on
 * their id). Returns how many it sealed.
 */
export async function sealPlaintextWebhookSecrets(
  db: Kysely<PlatformSchema>,
  cipher: PersonalDataCipher,
  nowMs: number,
  pageRows = sealSecretsPageRowsMax,
): Promise<number> {
  return runDataUpgradeOnce(db, sealWebhookSecretsUpgrade, nowMs, async (tx) => {
    const readPage: ReadPage<{ id: string; secret: string }> = (afterId, pageRows) =>
      tx
        .selectFrom('webhook_endpoints')
        .select(['id', 'secret'])
        .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
        .orderBy('id')
        .limit(pageRows)
        .execute();
    let sealed = 0;
    for await (const rows of keysetPages(readPage, pageRows)) {
      for (const row of rows.filter((endpoint) => !looksEncrypted(endpoint.secret))) {
        // Only while the row still holds the clear secret it was read with: a node starting at
        // the same time may have sealed it meanwhile.
        const result = await tx
          .updateTable('webhook_endpoints')
          .set({ secret: sealWebhookSecret(cipher, row.id, row.secret) })
          .where('id', '=', row.id)
          .where('secret', '=', row.secret)
          .executeTakeFirst();
        sealed += Number(result.numUpdatedRows);
      }
    }
    return sealed;
  });
}
