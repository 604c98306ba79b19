/**
 * Bank details at rest: a merchant's account holder, IBAN and BIC, the copies kept with each
 * payout, and the bank files that list them are personal data (a creator paid as a person is
 * named by them), so they are stored encrypted (DESIGN.md section 7), each value bound to its row
 * and column through the cipher's context: a ciphertext copied to another row does not open.
 *
 * Nothing is ever looked up by these values, so no lookup tag is kept.
 */
import { runDataUpgradeOnce } from '../db/data-upgrades.ts';
import type { Kysely } from 'kysely';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import type { PlatformSchema } from '../db/schema.ts';
import { looksEncrypted, type PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { BankDetails } from './bank-details.ts';

/** The three columns that hold bank details, in `merchant_bank_accounts` and in `payouts`. */
export interface BankDetailColumns {
  readonly holder_name: string;
  readonly iban: string;
  readonly bic: string;
}

export type BankFileColumn = 'file_xml' | 'file_csv';

/** Whose details: a merchant's account on file, or the copy a payout was made to. */
type Owner = { readonly merchantId: string } | { readonly payoutId: string };

function contextOf(owner: Owner, column: string): string {
  return 'merchantId' in owner
    ? `merchant_bank_accounts ${owner.merchantId} ${column}`
    : `payouts ${owner.payoutId} ${column}`;
}

export function createBankDetailsSealer(cipher: PersonalDataCipher) {
  return {
    seal(owner: Owner, details: BankDetails): BankDetailColumns {
      return {
        holder_name: cipher.encrypt(details.holderName, contextOf(owner, 'holder_name')),
        iban: cipher.encrypt(details.iban, contextOf(owner, 'iban')),
        bic: cipher.encrypt(details.bic, contextOf(owner, 'bic')),
      };
    },
    open(owner: Owner, columns: BankDetailColumns): BankDetails {
      return {
        holderName: cipher.decrypt(columns.holder_name, contextOf(owner, 'holder_name')),
        iban: cipher.decrypt(columns.iban, contextOf(owner, 'iban')),
        bic: cipher.decrypt(columns.bic, contextOf(owner, 'bic')),
      };
    },
    openIban(payoutId: string, iban: string): string {
      return cipher.decrypt(iban, contextOf({ payoutId }, 'iban'));
    },
    sealFile(batchId: string, column: BankFileColumn, text: string): string {
      return cipher.encrypt(text, `payout_batches ${batchId} ${column}`);
    },
    openFile(batchId: string, column: BankFileColumn, sealed: string): string {
      return cipher.decrypt(sealed, `payout_batches ${batchId} ${column}`);
    },
  };
}

export type BankDetailsSealer = ReturnType<typeof createBankDetailsSealer>;

/**
 * Rows the upgrade reads per query at most: a batch row carries both its bank files, so a page is
 * kept small enough to hold comfortably, whatever the history.
 */
export const sealUpgradePageRowsMax = 100;

/** The name `data_upgrades` records `sealPlaintextBankDetails` under, once it has run. */
export const sealBankDetailsUpgrade = 'seal-bank-details-v1';

/**
 * Encrypts the bank details that versions before this one stored in the clear; the platform runs
 * it at start, once (db/data-upgrades.ts).
 * Returns how many it sealed: accounts, payouts and bank files.
 */
export async function sealPlaintextBankDetails(
  db: Kysely<PlatformSchema>,
  sealer: BankDetailsSealer,
  nowMs: number,
  pageRows = sealUpgradePageRowsMax,
): Promise<number> {
  // Sealing the same clear text twice is harmless (the later ciphertext replaces the earlier, of
  // the same value), should nodes starting together both run it.
  return runDataUpgradeOnce(
    db,
    sealBankDetailsUpgrade,
    nowMs,
    async (tx) =>
      (await sealAccounts(tx, sealer, pageRows)) +
      (await sealPayouts(tx, sealer, pageRows)) +
      (await sealBankFiles(tx, sealer, pageRows)),
  );
}

// Each update applies only while the row still holds the clear text it was read with: a node
// starting at the same time may have sealed it meanwhile, and a merchant changed it since. Rows
// are read a page at a time (keyset on their key) so that a long history is never read at once.

async function sealAccounts(
  tx: Kysely<PlatformSchema>,
  sealer: BankDetailsSealer,
  pageRows: number,
) {
  const readPage: ReadPage<BankDetailColumns & { id: string }> = (afterId, pageRows) =>
    tx
      .selectFrom('merchant_bank_accounts')
      .select(['merchant_id as id', 'holder_name', 'iban', 'bic'])
      .$if(afterId !== undefined, (query) => query.where('merchant_id', '>', afterId ?? ''))
      .orderBy('merchant_id')
      .limit(pageRows)
      .execute();
  let sealed = 0;
  for await (const rows of keysetPages(readPage, pageRows)) {
    for (const row of rows.filter((account) => !looksEncrypted(account.iban))) {
      const result = await tx
        .updateTable('merchant_bank_accounts')
        .set(sealer.seal({ merchantId: row.id }, plainDetails(row)))
        .where('merchant_id', '=', row.id)
        .where('iban', '=', row.iban)
        .executeTakeFirst();
      sealed += Number(result.numUpdatedRows);
    }
  }
  return sealed;
}

async function sealPayouts(
  tx: Kysely<PlatformSchema>,
  sealer: BankDetailsSealer,
  pageRows: number,
) {
  const readPage: ReadPage<BankDetailColumns & { id: string }> = (afterId, pageRows) =>
    tx
      .selectFrom('payouts')
      .select(['id', 'holder_name', 'iban', 'bic'])
      .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
      .orderBy('id')
      .limit(pageRows)
      .execute();
  let sealed = 0;
  for await (const rows of keysetPages(readPage, pageRows)) {
    for (const row of rows.filter((payout) => !looksEncrypted(payout.iban))) {
      const result = await tx
        .updateTable('payouts')
        .set(sealer.seal({ payoutId: row.id }, plainDetails(row)))
        .where('id', '=', row.id)
        .where('iban', '=', row.iban)
        .executeTakeFirst();
      sealed += Number(result.numUpdatedRows);
    }
  }
  return sealed;
}

async function sealBankFiles(
  tx: Kysely<PlatformSchema>,
  sealer: BankDetailsSealer,
  pageRows: number,
) {
  const readPage: ReadPage<{ id: string; file_xml: string | null; file_csv: string | null }> = (
    afterId,
    pageRows,
  ) =>
    tx
      .selectFrom('payout_batches')
      .select(['id', 'file_xml', 'file_csv'])
      .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
      .orderBy('id')
      .limit(pageRows)
      .execute();
  let sealed = 0;
  for await (const rows of keysetPages(readPage, pageRows)) {
    for (const row of rows) {
      for (const column of ['file_xml', 'file_csv'] as const) {
        const text = row[column];
        if (text === null || looksEncrypted(text)) continue;
        const result = await tx
          .updateTable('payout_batches')
          .set({ [column]: sealer.sealFile(row.id, column, text) })
          .where('id', '=', row.id)
          .where(column, '=', text)
          .executeTakeFirst();
        sealed += Number(result.numUpdatedRows);
      }
    }
  }
  return sealed;
}

function plainDetails(columns: BankDetailColumns): BankDetails {
  return { holderName: columns.holder_name, iban: columns.iban, bic: columns.bic };
}
