/** A small world for payment tests: a platform database, a ledger, services, a funded user. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { openLedger, TimeOrderedIds } from '@mite/ledger';
import { tempDir } from '@mite/testkit';
import { createUserService } from '../auth/user-service.ts';
import type { PlatformDialect } from '../db/platform-db.ts';
import { platformDbFor } from '../db/testing.ts';
import {
  ensurePlatformAccounts,
  platformAccountIds,
  transferCodes,
} from '../ledger/chart-of-accounts.ts';
import { createMerchantService, type NewOffer } from '../merchants/merchant-service.ts';
import { createPersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { loadReceiptKey } from '../receipts/receipt-keys.ts';
import { createPaymentService } from './payment-service.ts';
import { createRefundService } from './refund-service.ts';
import { createTransactionBatcher } from '../db/transaction-batcher.ts';
import { openPolicyGate } from '../policy/policy-decisions.ts';
import { createIdempotencyStore } from '../idempotency/idempotency-store.ts';
import { createWalletService } from '../wallets/wallet-service.ts';

export async function world(t: TestContext, dialect: PlatformDialect) {
  const platform = await platformDbFor(t, dialect);
  const ledger = await openLedger({ url: `sqlite:${tempDir('mite-pay-')}/ledger.sqlite` });
  t.after(() => ledger.close());
  await ensurePlatformAccounts(ledger);
  const clock = { now: 1_800_000_000_000 };
  const cipher = createPersonalDataCipher(randomBytes(32));
  const receiptKey = await loadReceiptKey(tempDir('mite-keys-'));
  const batcher = createTransactionBatcher(platform);
  const deps = { platform, ledger, clock: () => clock.now, batcher };
  const users = createUserService({ ...deps, wallets: createWalletService({ ledger }), cipher });
  const merchants = createMerchantService(deps);
  const transferIds = new TimeOrderedIds();
  const payments = createPaymentService({
    ...deps,
    merchants,
    cipher,
    receiptKey,
    transferIds,
    policy: openPolicyGate,
    idempotency: createIdempotencyStore(platform, { clock: () => clock.now, cipher, batcher }),
  });
  const refunds = createRefundService({ ...deps, transferIds });
  const signedUp = await users.signUp({ email: 'ada@example.com', password: 'a long passphrase' });
  assert.ok(signedUp.ok);
  const userId = signedUp.value.userId;
  const profile = await users.profile(userId);
  assert.ok(profile);
  const fund = async (micros: bigint) => {
    const results = await ledger.createTransfers([
      {
        id: transferIds.next(),
        debitAccountId: platformAccountIds.processorReceivable,
        creditAccountId: profile.walletAccountId,
        amount: micros,
        ledger: 1,
        code: 1,
      },
    ]);
    assert.deepEqual(results, ['ok']);
  };
  return {
    platform,
    ledger,
    clock,
    merchants,
    payments,
    refunds,
    userId,
    wallet: profile.walletAccountId,
    fund,
    transferIds,
    receiptKey,
    batcher,
    cipher,
  };
}

export async function balanceOf(
  ledger: Awaited<ReturnType<typeof openLedger>>,
  id: bigint,
): Promise<bigint> {
  const [account] = await ledger.lookupAccounts([id]);
  assert.ok(account);
  return account.creditsPosted - account.debitsPosted;
}

type World = Awaited<ReturnType<typeof world>>;

/** A merchant with this platform fee and no payout threshold. */
export function merchant(w: World, name: string, feeBasisPoints: number) {
  return w.merchants.createMerchant({ name, feeBasisPoints, payoutThresholdMicros: 0n });
}

/** An offer of `merchantId`'s (goods, 60 s of access unless said otherwise); its id. */
export async function addOffer(
  w: World,
  merchantId: string,
  fields: Partial<Omit<NewOffer, 'merchantId'>> & { priceMicros: bigint },
): Promise<string> {
  const created = await w.merchants.createOffer({
    merchantId,
    resource: 'item:1',
    title: 'Item',
    category: 'goods',
    accessPeriodSeconds: 60,
    ...fields,
  });
  assert.ok(created.ok, created.ok ? '' : created.code);
  return created.value.id;
}

/**
 * A pending payment whose transfers never reached the ledger, as a crash between recording a
 * payment and moving its money leaves it (created now, on the world's clock).
 */
export async function insertInterruptedPayment(
  w: World,
  payment: {
    paymentId: string;
    merchant: { merchantId: string; accountId: bigint };
    offerId: string;
    amountMicros: bigint;
    idempotencyKey?: string;
  },
): Promise<void> {
  const legs = [
    {
      transferId: w.transferIds.next().toString(),
      creditAccountId: payment.merchant.accountId.toString(),
      amountMicros: payment.amountMicros.toString(),
      code: transferCodes.payment,
    },
  ];
  await w.platform.db
    .insertInto('payments')
    .values({
      id: payment.paymentId,
      user_id: w.userId,
      merchant_id: payment.merchant.merchantId,
      offer_id: payment.offerId,
      amount_micros: payment.amountMicros.toString(),
      state: 'pending',
      failure_code: null,
      legs: JSON.stringify(legs),
      access_until: BigInt(w.clock.now + 60_000),
      created_at: BigInt(w.clock.now),
      completed_at: null,
      idempotency_key: payment.idempotencyKey ?? null,
    })
    .execute();
}
