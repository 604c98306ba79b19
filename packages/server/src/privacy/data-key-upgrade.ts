/**
 * The start-up data upgrade to per-user data keys (migration 0026): a database made before them
 * holds every email sealed under the platform's key and the card digits of top-ups in the clear.
 * Each is sealed again under its owner's data key, once per database (db/data-upgrades.ts). Every
 * update is conditional on the value read, and a value that does not open under the platform's
 * key is one sealed since: running twice, or on two nodes at once, changes nothing more.
 */
import type { Kysely, Transaction } from 'kysely';
import { runDataUpgradeOnce } from '../db/data-upgrades.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { cardLast4Purpose } from '../funding/topup-service.ts';
import { type DataKeyring, type DataKeySubject, userSubject } from './data-keys.ts';
import { looksEncrypted, type PersonalDataCipher } from './personal-data-cipher.ts';

export const dataKeyUpgradeName = '0024-per-user-data-keys';
/** Rows read per query while upgrading: memory stays bounded on a large database. */
export const dataKeyUpgradePageRows = 500;

type Tx = Transaction<PlatformSchema>;

/** Seals existing personal data under per-user keys, once; answers how many values it sealed. */
export async function upgradeToDataKeys(deps: {
  readonly platform: PlatformDb;
  readonly keyring: DataKeyring;
  /** The platform's cipher, which sealed the emails before data keys existed. */
  readonly cipher: PersonalDataCipher;
  readonly nowMs: number;
}): Promise<number> {
  return runDataUpgradeOnce(deps.platform.db, dataKeyUpgradeName, deps.nowMs, async (tx) => {
    const users = await upgradeUserEmails(tx, deps);
    const invitations = await upgradeInvitationEmails(tx, deps);
    const cards = await upgradeCardDigits(tx, deps);
    return users + invitations + cards;
  });
}

/**
 * Whether the database holds anything sealed under the master key before data keys existed (a
 * user's email, a bank account, a kept response, a webhook secret, a token key): then the
 * master key becomes the platform's root, so that it all stays readable (data-keys.ts).
 */
export async function sealedBeforeDataKeys(db: Kysely<PlatformSchema>): Promise<boolean> {
  const tables = [
    'users',
    'merchant_invitations',
    'merchant_bank_accounts',
    'payouts',
    'payout_batches',
    'idempotency_records',
    'webhook_endpoints',
    'token_keys',
  ] as const;
  for (const table of tables) {
    const row = await db
      .selectFrom(table)
      .select((eb) => eb.lit(1).as('one'))
      .limit(1)
      .executeTakeFirst();
    if (row !== undefined) return true;
  }
  return false;
}

/** `sealed` opened with the platform's cipher, or undefined when it is not sealed under it. */
function openLegacy(cipher: PersonalDataCipher, sealed: string, context: string) {
  try {
    return cipher.decrypt(sealed, context);
  } catch {
    return undefined;
  }
}

async function resealed(
  tx: Tx,
  keyring: DataKeyring,
  subject: DataKeySubject,
  plaintext: string,
  context: string,
): Promise<string> {
  return (await keyring.keyFor(subject, tx)).encrypt(plaintext, context);
}

/** Reads a table a page at a time by id, resealing each row; answers how many it changed. */
async function resealPages<Row extends { readonly id: string }>(
  read: (afterId: string) => Promise<Row[]>,
  reseal: (row: Row) => Promise<number>,
): Promise<number> {
  let sealed = 0;
  let after = '';
  for (;;) {
    const rows = await read(after);
    for (const row of rows) sealed += await reseal(row);
    const last = rows.at(-1);
    if (last === undefined || rows.length < dataKeyUpgradePageRows) return sealed;
    after = last.id;
  }
}

type Deps = Parameters<typeof upgradeToDataKeys>[0];

function upgradeUserEmails(tx: Tx, deps: Deps): Promise<number> {
  return resealPages(
    (after) =>
      tx
        .selectFrom('users')
        .select(['id', 'email_ciphertext'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(dataKeyUpgradePageRows)
        .execute(),
    async (row) => {
      const context = `user:${row.id}:email`;
      const email = openLegacy(deps.cipher, row.email_ciphertext, context);
      if (email === undefined) return 0;
      const sealed = await resealed(tx, deps.keyring, userSubject(row.id), email, context);
      const result = await tx
        .updateTable('users')
        .set({ email_ciphertext: sealed })
        .where('id', '=', row.id)
        .where('email_ciphertext', '=', row.email_ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  );
}

function upgradeInvitationEmails(tx: Tx, deps: Deps): Promise<number> {
  return resealPages(
    (after) =>
      tx
        .selectFrom('merchant_invitations')
        .select(['id', 'email_ciphertext'])
        .where('id', '>', after)
        .orderBy('id')
        .limit(dataKeyUpgradePageRows)
        .execute(),
    async (row) => {
      const context = `invitation:${row.id}:email`;
      const email = openLegacy(deps.cipher, row.email_ciphertext, context);
      if (email === undefined) return 0;
      const subject: DataKeySubject = `invitation:${row.id}`;
      const sealed = await resealed(tx, deps.keyring, subject, email, context);
      const result = await tx
        .updateTable('merchant_invitations')
        .set({ email_ciphertext: sealed })
        .where('id', '=', row.id)
        .where('email_ciphertext', '=', row.email_ciphertext)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  );
}

function upgradeCardDigits(tx: Tx, deps: Deps): Promise<number> {
  return resealPages(
    (after) =>
      tx
        .selectFrom('topups')
        .select(['id', 'user_id', 'card_last4'])
        .where('id', '>', after)
        .where('card_last4', 'is not', null)
        .orderBy('id')
        .limit(dataKeyUpgradePageRows)
        .execute(),
    async (row) => {
      const digits = row.card_last4;
      if (digits === null || looksEncrypted(digits)) return 0;
      const context = `user:${row.user_id}:${cardLast4Purpose(row.id)}`;
      const sealed = await resealed(tx, deps.keyring, userSubject(row.user_id), digits, context);
      const result = await tx
        .updateTable('topups')
        .set({ card_last4: sealed })
        .where('id', '=', row.id)
        .where('card_last4', '=', digits)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
  );
}
