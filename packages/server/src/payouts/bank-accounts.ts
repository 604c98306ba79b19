import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { type BankDetails, checkBankDetails } from './bank-details.ts';
import type { PayoutStore } from './payout-batches.ts';

/**
 * How long after its bank details are set or changed a merchant is paid nothing: time for the
 * merchant to see the `bank_account.updated` webhook and react, should a stolen key have made the
 * change. MITE_BANK_CHANGE_HOLD_HOURS overrides it (0: no hold).
 */
export const bankChangeHoldMsDefault = 48 * 3_600_000;

/** The hold after a bank detail change, from MITE_BANK_CHANGE_HOLD_HOURS (hours, 0 or more). */
export function bankChangeHoldMsFromEnv(env: Readonly<Record<string, string | undefined>>): number {
  const hours = env.MITE_BANK_CHANGE_HOLD_HOURS;
  if (hours === undefined || hours === '') return bankChangeHoldMsDefault;
  if (!/^\d{1,5}(\.\d{1,3})?$/.test(hours)) {
    throw new Error(
      `MITE_BANK_CHANGE_HOLD_HOURS is a number of hours, not ${JSON.stringify(hours)}`,
    );
  }
  return Math.round(Number(hours) * 3_600_000);
}

export interface BankAccount extends BankDetails {
  readonly merchantId: string;
  readonly updatedAtMs: number;
  /** Until when payout runs pass the merchant by: the hold after the last change. */
  readonly payoutsHeldUntilMs: number;
}

export interface BankAccountsDeps extends PayoutStore {
  readonly clock: () => number;
  /** Announced with each change: when payouts to the new account may start. */
  readonly bankChangeHoldMs: number;
}

/** The bank account each merchant is paid to, stored encrypted; every change is announced. */
export function createBankAccounts({ db, sealer, clock, bankChangeHoldMs }: BankAccountsDeps) {
  async function setBankAccount(
    merchantId: string,
    input: BankDetails,
  ): Promise<Result<BankAccount, 'validationFailed' | 'merchantNotFound'>> {
    const checked = checkBankDetails(input);
    if (!checked.ok) return fail('validationFailed', checked.detail);
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    const { holderName, iban, bic } = checked.value;
    const current = await getBankAccount(merchantId);
    // The same details again change nothing: no new hold, no event.
    if (current?.holderName === holderName && current.iban === iban && current.bic === bic) {
      return ok(current);
    }
    const updatedAtMs = clock();
    const fields = {
      ...sealer.seal({ merchantId }, checked.value),
      updated_at: BigInt(updatedAtMs),
    };
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('merchant_bank_accounts')
        .values({ merchant_id: merchantId, ...fields })
        .onConflict((conflict) => conflict.column('merchant_id').doUpdateSet(fields))
        .execute();
      // Told to the merchant in the same transaction: a change by a stolen key is announced.
      await enqueueWebhookEvent(tx, {
        merchantId,
        type: 'bank_account.updated',
        payload: {
          ibanLast4: iban.slice(-4),
          updatedAt: new Date(updatedAtMs).toISOString(),
          payoutsHeldUntil: new Date(updatedAtMs + bankChangeHoldMs).toISOString(),
        },
        nowMs: updatedAtMs,
      });
    });
    const payoutsHeldUntilMs = updatedAtMs + bankChangeHoldMs;
    return ok({ merchantId, holderName, iban, bic, updatedAtMs, payoutsHeldUntilMs });
  }

  async function getBankAccount(merchantId: string): Promise<BankAccount | undefined> {
    const row = await db
      .selectFrom('merchant_bank_accounts')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const updatedAtMs = Number(row.updated_at);
    return {
      merchantId,
      ...sealer.open({ merchantId }, row),
      updatedAtMs,
      payoutsHeldUntilMs: updatedAtMs + bankChangeHoldMs,
    };
  }

  return { setBankAccount, getBankAccount };
}
