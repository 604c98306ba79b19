/**
 * A small world for payment tests: a platform built by createPlatform (platformFor), on the
 * dialect's database for its ledger too, on a clock the test moves, with no background jobs (the
 * tests run the reconcilers themselves), and a user whose wallet `fund` credits.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Ledger } from '@mite/ledger';
import type { PlatformDialect } from '../db/platform-db.ts';
import { platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import type { NewOffer } from '../merchants/merchant-service.ts';
import { platformFor, type PlatformOverrides } from '../platform-testing.ts';

export async function world(
  t: TestContext,
  dialect: PlatformDialect,
  overrides: PlatformOverrides = {},
) {
  const clock = { nowMs: 1_800_000_000_000 };
  const {
    platformDb: platform,
    ledger,
    services,
  } = await platformFor(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
    ...overrides,
  });
  const [receiptKey] = services.receiptKeys;
  assert.ok(receiptKey);
  const signedUp = await services.users.signUp({
    email: 'ada@example.com',
    password: 'a long passphrase',
  });
  assert.ok(signedUp.ok);
  const userId = signedUp.value.userId;
  const profile = await services.users.profile(userId);
  assert.ok(profile);
  const { transferIds } = services;
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
    services,
    merchants: services.merchants,
    payments: services.payments,
    refunds: services.refunds,
    idempotency: services.idempotency,
    userId,
    wallet: profile.walletAccountId,
    fund,
    transferIds,
    receiptKey,
    batcher: services.batcher,
  };
}

export async function balanceOf(ledger: Ledger, id: bigint): Promise<bigint> {
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
      access_until: BigInt(w.clock.nowMs + 60_000),
      created_at: BigInt(w.clock.nowMs),
      completed_at: null,
      idempotency_key: payment.idempotencyKey ?? null,
    })
    .execute();
}

/**
 * A pending refund of the whole of `amountMicros`, paid back by the merchant alone, whose transfer
 * never reached the ledger, as a crash between recording a refund and moving its money leaves it
 * (created now, on the world's clock).
 */
export async function insertInterruptedRefund(
  w: World,
  refund: {
    refundId: string;
    paymentId: string;
    merchant: { merchantId: string; accountId: bigint };
    amountMicros: bigint;
  },
): Promise<void> {
  const legs = [
    {
      transferId: w.transferIds.next().toString(),
      debitAccountId: refund.merchant.accountId.toString(),
      amountMicros: refund.amountMicros.toString(),
    },
  ];
  await w.platform.db
    .insertInto('refunds')
    .values({
      id: refund.refundId,
      payment_id: refund.paymentId,
      merchant_id: refund.merchant.merchantId,
      amount_micros: refund.amountMicros.toString(),
      state: 'pending',
      failure_code: null,
      requested_by: `merchant:${refund.merchant.merchantId}`,
      reason: null,
      legs: JSON.stringify(legs),
      created_at: BigInt(w.clock.nowMs),
      completed_at: null,
    })
    .execute();
}
