import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import type { Ledger, Transfer } from '@mite/ledger';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { platformFor } from '../platform-testing.ts';
import { parseCsv, readPain001 } from './bank-file.ts';
import { createBankDetailsSealer, sealBankDetailsUpgrade } from './sealed-bank-details.ts';
import {
  bankChangeHoldMsDefault,
  createPayoutService,
  type PayoutProgress,
  type PayoutRun,
  type PayoutServiceDeps,
  payoutDebtorFromEnv,
} from './payout-service.ts';

type Dialect = PlatformDialect;

const debtor = { name: 'Mite Payouts & Co', iban: 'DE89370400440532013000', bic: 'COBADEFFXXX' };
/** Rows as text, to search for what must not be stored in the clear. */
function dump(rows: unknown): string {
  return JSON.stringify(rows, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

const banks = [
  { iban: 'GB82WEST12345698765432', bic: 'NWBKGB2L' },
  { iban: 'FR1420041010050500013M02606', bic: 'BNPAFRPP' },
  { iban: 'NL91ABNA0417164300', bic: 'ABNANL2A' },
  { iban: 'BE68539007547034', bic: 'GEBABEBB' },
] as const;

/** A ledger whose createTransfers is replaced, to simulate a crash or a concurrent refund. */
function ledgerWith(ledger: Ledger, createTransfers: Ledger['createTransfers']): Ledger {
  return new Proxy(ledger, {
    get(target, property, receiver) {
      if (property === 'createTransfers') return createTransfers;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * A platform as `mite serve` builds it (on PostgreSQL, the ledger shares its database), on a clock
 * the test moves, with no background jobs and no hold after bank changes (but in the test of the
 * hold itself). `payoutsWith` makes a variant of the platform's payout service over the same
 * stores, for a test that needs a page size, a chunk size or a ledger of its own.
 */
async function world(t: TestContext, dialect: Dialect) {
  const clock = { nowMs: Date.UTC(2027, 2, 1, 9, 0, 0) };
  const {
    platformDb: platform,
    ledger,
    services,
  } = await platformFor(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
    bankChangeHoldMs: 0,
    env: {
      MITE_PAYOUT_DEBTOR_NAME: debtor.name,
      MITE_PAYOUT_DEBTOR_IBAN: debtor.iban,
      MITE_PAYOUT_DEBTOR_BIC: debtor.bic,
    },
  });
  const { merchants, transferIds, cipher } = services;
  const payoutsWith = (overrides: Partial<PayoutServiceDeps> = {}) =>
    createPayoutService({
      platform,
      ledger,
      clock: services.clock,
      transferIds,
      debtor,
      cipher,
      bankChangeHoldMs: 0,
      ...overrides,
    });
  const move = async (debit: bigint, credit: bigint, micros: bigint, code: number) => {
    const transfer: Transfer = {
      id: transferIds.next(),
      debitAccountId: debit,
      creditAccountId: credit,
      amount: micros,
      ledger: ledgers.usd,
      code,
    };
    assert.deepEqual(await ledger.createTransfers([transfer]), ['ok']);
  };
  /** Earnings, as purchases would credit them. */
  const earn = (account: bigint, micros: bigint) =>
    move(platformAccountIds.processorReceivable, account, micros, transferCodes.payment);
  /** A refund taking money back out of a merchant's account. */
  const refund = (account: bigint, micros: bigint) =>
    move(account, platformAccountIds.processorReceivable, micros, transferCodes.refund);
  let banksUsed = 0;
  const merchant = async (
    name: string,
    thresholdMicros: bigint,
    options: { bank?: boolean; holderName?: string } = {},
  ) => {
    const created = await merchants.createMerchant({
      name,
      feeBasisPoints: 0,
      payoutThresholdMicros: thresholdMicros,
    });
    if (options.bank !== false) {
      const bank = banks[banksUsed++ % banks.length] ?? banks[0];
      const set = await services.payouts.setBankAccount(created.merchantId, {
        holderName: options.holderName ?? `${name} Ltd`,
        ...bank,
      });
      assert.ok(set.ok, JSON.stringify(set));
    }
    return created;
  };
  const balanceOf = async (id: bigint) => {
    const [account] = await ledger.lookupAccounts([id]);
    assert.ok(account);
    return account.creditsPosted - account.debitsPosted - account.debitsPending;
  };
  const settled = () => balanceOf(platformAccountIds.settlement);
  /** The `payout.paid` webhook events in the outbox, as [merchant id, payload]. */
  const paidEvents = async () => {
    const events = await platform.db
      .selectFrom('webhook_events')
      .select(['merchant_id', 'payload'])
      .where('type', '=', 'payout.paid')
      .orderBy('created_at')
      .execute();
    return events.map((event) => [event.merchant_id, JSON.parse(event.payload) as unknown]);
  };
  return {
    platform,
    ledger,
    clock,
    sealer: createBankDetailsSealer(cipher),
    payouts: services.payouts,
    payoutsWith,
    merchant,
    earn,
    refund,
    balanceOf,
    settled,
    paidEvents,
  };
}

function batchOf(run: PayoutRun) {
  assert.ok(!run.nothingDue, 'a batch was made');
  return run;
}

async function assertLedgerClean(ledger: Ledger) {
  assert.deepEqual((await ledger.verify()).problems, []);
}

forEachDialect('payouts', (dialect, it) => {
  it('holds payouts for 48 hours after bank details change, and announces the change', async (t) => {
    const w = await world(t, dialect);
    const held = w.payoutsWith({ bankChangeHoldMs: bankChangeHoldMsDefault });
    const setAt = w.clock.nowMs;
    const [firstBank = banks[0]] = banks;
    const ada = await w.merchant('Ada', 1_000_000n, { bank: false });
    assert.ok(
      (await held.setBankAccount(ada.merchantId, { holderName: 'Ada Ltd', ...firstBank })).ok,
    );
    await w.earn(ada.accountId, 2_000_000n);
    const bankEvents = async () =>
      (
        await w.platform.db
          .selectFrom('webhook_events')
          .select(['merchant_id', 'payload'])
          .where('type', '=', 'bank_account.updated')
          .orderBy('created_at')
          .execute()
      ).map((event) => [event.merchant_id, JSON.parse(event.payload) as unknown]);
    const heldRun = {
      nothingDue: true,
      resumedBatchIds: [],
      held: [
        {
          merchantId: ada.merchantId,
          bankDetailsChangedAtMs: setAt,
          heldUntilMs: setAt + bankChangeHoldMsDefault,
        },
      ],
      frozen: [],
    };
    assert.deepEqual(await held.runPayouts(), heldRun);
    w.clock.nowMs = setAt + bankChangeHoldMsDefault - 1;
    assert.deepEqual(await held.runPayouts(), heldRun);
    assert.equal(await w.balanceOf(ada.accountId), 2_000_000n, 'nothing moved');
    assert.deepEqual(await bankEvents(), [
      [
        ada.merchantId,
        {
          ibanLast4: firstBank.iban.slice(-4),
          updatedAt: new Date(setAt).toISOString(),
          payoutsHeldUntil: new Date(setAt + bankChangeHoldMsDefault).toISOString(),
        },
      ],
    ]);
    assert.doesNotMatch(dump(await bankEvents()), new RegExp(firstBank.iban.slice(0, 10)));

    // The same details again: no new hold, no event.
    const same = await held.setBankAccount(ada.merchantId, {
      holderName: 'Ada Ltd',
      ...firstBank,
    });
    assert.ok(same.ok);
    assert.equal(same.value.updatedAtMs, setAt);
    assert.equal((await bankEvents()).length, 1);
    w.clock.nowMs = setAt + bankChangeHoldMsDefault;
    const paid = batchOf(await held.runPayouts());
    assert.deepEqual(paid.held, []);
    assert.deepEqual(
      paid.payouts.map((payout) => [payout.merchantId, payout.amountMicros]),
      [[ada.merchantId, 2_000_000n]],
    );

    // A change holds the next payout again, from the change.
    const changedAt = w.clock.nowMs + 1_000;
    w.clock.nowMs = changedAt;
    const changed = await held.setBankAccount(ada.merchantId, {
      holderName: 'Ada Ltd',
      ...banks[1],
    });
    assert.ok(changed.ok);
    assert.equal((await bankEvents()).length, 2);
    await w.earn(ada.accountId, 3_000_000n);
    const again = await held.runPayouts();
    assert.ok(again.nothingDue);
    assert.deepEqual(
      again.held.map((hold) => hold.heldUntilMs),
      [changedAt + bankChangeHoldMsDefault],
    );
  });

  it('pays merchants at their threshold in one batch, whole cents, the rest staying', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 10_000_000n);
    const bob = await w.merchant('Bob', 5_000_000n);
    const cleo = await w.merchant('Cleo', 10_000_000n);
    const dan = await w.merchant('Dan', 0n, { bank: false });
    const eve = await w.merchant('Eve', 0n);
    await w.earn(ada.accountId, 12_345_678n); // above: pays 12.34, keeps 0.005678
    await w.earn(bob.accountId, 5_000_001n); // at the threshold (plus a micro): pays 5.00
    await w.earn(cleo.accountId, 9_999_999n); // just below: not paid
    await w.earn(dan.accountId, 100_000_000n); // no bank account: not paid
    await w.earn(eve.accountId, 9_999n); // under one cent: nothing to pay

    const progress: PayoutProgress[] = [];
    const fine = w.payoutsWith({ chunkSize: 1 });
    const batch = batchOf(await fine.runPayouts({ onProgress: (p) => progress.push(p) }));
    assert.equal(batch.state, 'paid');
    assert.deepEqual(batch.resumedBatchIds, []);
    assert.equal(batch.count, 2);
    assert.equal(batch.totalMicros, 17_340_000n);
    assert.ok(batch.hasFiles);
    const byMerchant = new Map(batch.payouts.map((payout) => [payout.merchantId, payout]));
    assert.deepEqual([...byMerchant.keys()].sort(), [ada.merchantId, bob.merchantId].sort());
    assert.equal(byMerchant.get(ada.merchantId)?.amountMicros, 12_340_000n);
    assert.equal(byMerchant.get(bob.merchantId)?.amountMicros, 5_000_000n);
    assert.ok(batch.payouts.every((payout) => payout.state === 'paid'));
    assert.deepEqual(
      progress.map((p) => [p.batchId, p.done, p.total]),
      [
        [batch.batchId, 0, 2],
        [batch.batchId, 1, 2],
        [batch.batchId, 2, 2],
      ],
    );

    assert.equal(await w.balanceOf(ada.accountId), 5_678n);
    assert.equal(await w.balanceOf(bob.accountId), 1n);
    assert.equal(await w.balanceOf(cleo.accountId), 9_999_999n);
    assert.equal(await w.balanceOf(dan.accountId), 100_000_000n);
    assert.equal(await w.balanceOf(eve.accountId), 9_999n);
    assert.equal(await w.settled(), 17_340_000n);
    const [adaTransfer] = await w.ledger.lookupTransfers([
      byMerchant.get(ada.merchantId)?.transferId ?? 0n,
    ]);
    assert.equal(adaTransfer?.amount, 12_340_000n, 'the ledger moves exactly the file amount');
    assert.equal(adaTransfer?.code, transferCodes.payout);
    await assertLedgerClean(w.ledger);

    const report = await w.payouts.reconciliationReport(batch.batchId);
    assert.ok(report.ok);
    assert.deepEqual(report.value.findings, []);
    assert.ok(report.value.matches);
    assert.equal(report.value.totals.ledgerMicros, 17_340_000n);
    assert.equal(report.value.totals.xmlControlSumMicros, 17_340_000n);
    assert.equal(report.value.totals.csvMicros, 17_340_000n);
    assert.deepEqual(
      report.value.lines.map((line) => [line.ledgerAmountMicros, line.xmlAmountMicros]),
      batch.payouts.map((payout) => [payout.amountMicros, payout.amountMicros]),
    );

    const again = await w.payouts.runPayouts();
    assert.deepEqual(
      again,
      { nothingDue: true, resumedBatchIds: [], held: [], frozen: [] },
      'nothing is paid twice',
    );
    assert.equal(await w.settled(), 17_340_000n);

    await w.earn(cleo.accountId, 1n); // now exactly at the threshold
    const next = batchOf(await w.payouts.runPayouts());
    assert.deepEqual(
      next.payouts.map((payout) => [payout.merchantId, payout.amountMicros]),
      [[cleo.merchantId, 10_000_000n]],
    );
    const listed = await w.payouts.listBatches({ limit: 10 });
    assert.deepEqual(
      listed.map((summary) => summary.batchId),
      [next.batchId, batch.batchId],
    );
    const second = await w.payouts.listBatches({ limit: 10, beforeBatchId: next.batchId });
    assert.deepEqual(
      second.map((summary) => summary.batchId),
      [batch.batchId],
    );
    assert.equal((await w.payouts.getBatch(batch.batchId))?.payouts.length, 2);
    assert.equal(await w.payouts.getBatch('pb_nope'), undefined);
    await assertLedgerClean(w.ledger);
  });

  it('plans and pays a run larger than one page of merchants and payouts', async (t) => {
    const w = await world(t, dialect);
    const due = [];
    for (const name of ['Ada', 'Bob', 'Cleo', 'Dan', 'Eve']) {
      const merchant = await w.merchant(name, 1_000_000n);
      await w.earn(merchant.accountId, 2_000_000n);
      due.push(merchant);
    }
    const below = await w.merchant('Fay', 1_000_000n);
    await w.earn(below.accountId, 999_999n);
    // No query of the run returns more than a page: a batch is never read whole.
    const resultRows: number[] = [];
    const rowCounter: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: (args) => {
        resultRows.push(args.result.rows.length);
        return Promise.resolve(args.result);
      },
    };
    const progress: PayoutProgress[] = [];
    const paged = w.payoutsWith({
      platform: { ...w.platform, db: w.platform.db.withPlugin(rowCounter) },
      pageRows: 2,
      chunkSize: 1,
    });
    const batch = batchOf(await paged.runPayouts({ onProgress: (p) => progress.push(p) }));

    assert.equal(batch.state, 'paid');
    assert.equal(batch.count, 5);
    assert.equal(batch.totalMicros, 10_000_000n);
    assert.deepEqual(
      batch.payouts.map((payout) => payout.merchantId).sort(),
      due.map((merchant) => merchant.merchantId).sort(),
    );
    assert.ok(batch.payouts.every((payout) => payout.state === 'paid'));
    assert.deepEqual(
      progress.map((p) => [p.done, p.total]),
      [0, 1, 2, 3, 4, 5].map((done) => [done, 5]),
    );
    const xml = await w.payouts.getBankFile(batch.batchId, 'xml');
    assert.ok(xml.ok);
    assert.equal(readPain001(xml.value).paymentCount, 5, 'the file names every page');
    assert.equal(await w.settled(), 10_000_000n);
    assert.equal(await w.balanceOf(below.accountId), 999_999n);
    const report = await paged.reconciliationReport(batch.batchId);
    assert.ok(report.ok && report.value.matches, JSON.stringify(report, bigintJson));
    assert.equal(report.value.lines.length, 5);
    assert.ok(resultRows.length > 10, 'read in pages');
    assert.ok(Math.max(...resultRows) <= 2, `rows per query: ${resultRows.join(', ')}`);
    assert.ok((await paged.runPayouts()).nothingDue, 'nothing is paid twice');
    await assertLedgerClean(w.ledger);
  });

  it('resumes a batch interrupted after its first page, a page at a time', async (t) => {
    const w = await world(t, dialect);
    for (const name of ['Ada', 'Bob', 'Cleo', 'Dan', 'Eve']) {
      const merchant = await w.merchant(name, 0n);
      await w.earn(merchant.accountId, 3_000_000n);
    }
    let calls = 0;
    const crashing = w.payoutsWith({
      pageRows: 2,
      ledger: ledgerWith(w.ledger, async (transfers) => {
        calls += 1;
        if (calls > 1) throw new Error('crashed after the first page');
        return w.ledger.createTransfers(transfers);
      }),
    });
    await assert.rejects(crashing.runPayouts(), /crashed after the first page/);
    assert.equal(await w.settled(), 6_000_000n, 'the first page was paid');

    const progress: PayoutProgress[] = [];
    const run = await w
      .payoutsWith({ pageRows: 2, chunkSize: 1 })
      .runPayouts({ onProgress: (p) => progress.push(p) });
    assert.ok(run.nothingDue);
    const [batchId] = run.resumedBatchIds;
    assert.ok(batchId !== undefined);
    assert.deepEqual(
      progress.map((p) => [p.done, p.total]),
      [2, 3, 4, 5].map((done) => [done, 5]),
    );
    const resumed = await w.payouts.getBatch(batchId);
    assert.equal(resumed?.state, 'paid');
    assert.equal(resumed.count, 5);
    assert.equal(await w.settled(), 15_000_000n);
    assert.equal((await w.paidEvents()).length, 5, 'each payout is announced once');
    await assertLedgerClean(w.ledger);
  });

  it('writes the bank files from the batch, names escaped, sums matching', async (t) => {
    const w = await world(t, dialect);
    const tricky = `O'Brien & <Sons> "Ltd", Dublin`;
    const ada = await w.merchant('Ada', 0n, { holderName: tricky });
    const bob = await w.merchant('Bob', 0n);
    await w.earn(ada.accountId, 1_234_567n);
    await w.earn(bob.accountId, 20_000_000n);
    const batch = batchOf(await w.payouts.runPayouts());

    const xml = await w.payouts.getBankFile(batch.batchId, 'xml');
    assert.ok(xml.ok);
    assert.ok(xml.value.includes('O&apos;Brien &amp; &lt;Sons&gt; &quot;Ltd&quot;, Dublin'));
    const file = readPain001(xml.value);
    assert.equal(file.messageId, batch.batchId);
    assert.equal(file.groupCount, 2);
    assert.equal(file.paymentCount, 2);
    assert.equal(file.debtorIban, debtor.iban);
    const sum = file.transactions.reduce((total, tx) => total + tx.amountMicros, 0n);
    assert.equal(file.groupControlSumMicros, sum);
    assert.equal(sum, 21_230_000n);
    assert.deepEqual(
      file.transactions.map((tx) => [tx.endToEndId, tx.amountMicros, tx.currency]),
      batch.payouts.map((payout) => [payout.id, payout.amountMicros, 'USD']),
    );
    assert.ok(file.transactions.some((tx) => tx.creditorName === tricky));
    assert.ok(xml.value.includes('<CreDtTm>2027-03-01T09:00:00Z</CreDtTm>'));

    const csv = await w.payouts.getBankFile(batch.batchId, 'csv');
    assert.ok(csv.ok);
    const [header, ...records] = parseCsv(csv.value);
    assert.deepEqual(header, [
      'payout_id',
      'merchant_id',
      'holder_name',
      'iban',
      'bic',
      'amount',
      'currency',
    ]);
    const adaPayout = batch.payouts.find((payout) => payout.merchantId === ada.merchantId);
    assert.ok(adaPayout);
    assert.ok(
      records.some(
        (record) =>
          JSON.stringify(record) ===
          JSON.stringify([
            adaPayout.id,
            ada.merchantId,
            tricky,
            adaPayout.iban,
            adaPayout.bic,
            '1.23',
            'USD',
          ]),
      ),
    );
    assert.ok(csv.value.includes(`"O'Brien & <Sons> ""Ltd"", Dublin"`));
    assert.deepEqual(await w.payouts.getBankFile('pb_nope', 'xml'), {
      ok: false,
      code: 'batchNotFound',
    });
  });

  it('resumes a batch interrupted before the ledger, with the amounts it fixed', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 10_000_000n);
    const bob = await w.merchant('Bob', 10_000_000n);
    await w.earn(ada.accountId, 15_000_000n);
    await w.earn(bob.accountId, 11_000_000n);
    const unreachable = w.payoutsWith({
      ledger: ledgerWith(w.ledger, () => Promise.reject(new Error('ledger unreachable'))),
    });
    await assert.rejects(unreachable.runPayouts(), /ledger unreachable/);
    const [stuck] = await w.payouts.listBatches({ limit: 5 });
    assert.equal(stuck?.state, 'building');
    assert.equal(stuck.totalMicros, 26_000_000n);
    assert.equal(await w.settled(), 0n, 'no money moved');

    // Ada earns more meanwhile: the resumed batch pays what it fixed, no more.
    await w.earn(ada.accountId, 3_000_000n);
    const run = await w.payouts.runPayouts();
    assert.deepEqual(run, {
      nothingDue: true,
      resumedBatchIds: [stuck.batchId],
      held: [],
      frozen: [],
    });
    const resumed = await w.payouts.getBatch(stuck.batchId);
    assert.equal(resumed?.state, 'paid');
    assert.deepEqual(
      resumed.payouts.map((payout) => payout.state),
      ['paid', 'paid'],
    );
    assert.equal(await w.settled(), 26_000_000n);
    assert.equal(await w.balanceOf(ada.accountId), 3_000_000n);
    assert.equal(await w.balanceOf(bob.accountId), 0n);
    assert.equal((await w.payouts.listBatches({ limit: 5 })).length, 1);
    const report = await w.payouts.reconciliationReport(stuck.batchId);
    assert.ok(report.ok && report.value.matches, JSON.stringify(report, bigintJson));
    await assertLedgerClean(w.ledger);
  });

  it('resumes a batch interrupted after the ledger without paying twice', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n);
    const bob = await w.merchant('Bob', 0n);
    await w.earn(ada.accountId, 4_000_000n);
    await w.earn(bob.accountId, 6_000_000n);
    const crashing = w.payoutsWith({
      ledger: ledgerWith(w.ledger, async (transfers) => {
        await w.ledger.createTransfers(transfers);
        throw new Error('crashed before recording the outcome');
      }),
    });
    await assert.rejects(crashing.runPayouts(), /crashed/);
    assert.equal(await w.settled(), 10_000_000n, 'the money moved once');
    const [stuck] = await w.payouts.listBatches({ limit: 5 });
    assert.equal(stuck?.state, 'building');

    const run = await w.payouts.runPayouts();
    assert.deepEqual(run, {
      nothingDue: true,
      resumedBatchIds: [stuck.batchId],
      held: [],
      frozen: [],
    });
    assert.equal(await w.settled(), 10_000_000n, 'and only once');
    const resumed = await w.payouts.getBatch(stuck.batchId);
    assert.equal(resumed?.state, 'paid');
    assert.equal(resumed.totalMicros, 10_000_000n);
    const events = await w.paidEvents();
    assert.equal(events.length, 2, 'each payout is announced once');
    assert.deepEqual(
      events.map(([merchantId]) => merchantId).sort(),
      [ada.merchantId, bob.merchantId].sort(),
    );
    assert.deepEqual(await w.payouts.runPayouts(), {
      nothingDue: true,
      resumedBatchIds: [],
      held: [],
      frozen: [],
    });
    await assertLedgerClean(w.ledger);
  });

  it('fails only the payout whose balance fell before its transfer', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 1_000_000n);
    const bob = await w.merchant('Bob', 1_000_000n);
    await w.earn(ada.accountId, 8_000_000n);
    await w.earn(bob.accountId, 3_000_000n);
    let refunded = false;
    const racing = w.payoutsWith({
      ledger: ledgerWith(w.ledger, async (transfers) => {
        if (!refunded) {
          refunded = true;
          await w.refund(ada.accountId, 2_000_000n); // a refund lands after the balance read
        }
        return w.ledger.createTransfers(transfers);
      }),
    });
    const batch = batchOf(await racing.runPayouts());
    assert.equal(batch.state, 'paid');
    const adaPayout = batch.payouts.find((payout) => payout.merchantId === ada.merchantId);
    const bobPayout = batch.payouts.find((payout) => payout.merchantId === bob.merchantId);
    assert.equal(adaPayout?.state, 'failed');
    assert.equal(adaPayout.failureCode, 'exceedsCredits');
    assert.equal(bobPayout?.state, 'paid');
    assert.equal(batch.totalMicros, 3_000_000n, 'the batch total is what was paid');
    assert.equal(batch.count, 1);
    assert.equal(await w.balanceOf(ada.accountId), 6_000_000n, "Ada's money stays");
    assert.equal(await w.settled(), 3_000_000n);
    const xml = await w.payouts.getBankFile(batch.batchId, 'xml');
    assert.ok(xml.ok);
    assert.deepEqual(
      readPain001(xml.value).transactions.map((tx) => tx.endToEndId),
      [bobPayout.id],
    );
    const report = await w.payouts.reconciliationReport(batch.batchId);
    assert.ok(report.ok);
    assert.ok(report.value.matches, JSON.stringify(report.value, bigintJson));
    assert.equal(
      report.value.lines.find((l) => l.payoutId === adaPayout.id)?.ledgerAmountMicros,
      null,
    );

    assert.deepEqual(await w.paidEvents(), [
      [
        bob.merchantId,
        {
          payoutId: bobPayout.id,
          batchId: batch.batchId,
          amount: '3.00',
          currency: 'USD',
          ibanLast4: bobPayout.iban.slice(-4),
        },
      ],
    ]);

    // The next run pays Ada what she has now.
    const next = batchOf(await w.payouts.runPayouts());
    assert.deepEqual(
      next.payouts.map((payout) => [payout.merchantId, payout.amountMicros, payout.state]),
      [[ada.merchantId, 6_000_000n, 'paid']],
    );
    await assertLedgerClean(w.ledger);
  });

  it('marks a batch failed, without files, when every payout failed', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n);
    await w.earn(ada.accountId, 2_000_000n);
    const racing = w.payoutsWith({
      ledger: ledgerWith(w.ledger, async (transfers) => {
        await w.refund(ada.accountId, 2_000_000n);
        return w.ledger.createTransfers(transfers);
      }),
    });
    const batch = batchOf(await racing.runPayouts());
    assert.equal(batch.state, 'failed');
    assert.equal(batch.hasFiles, false);
    assert.equal(batch.totalMicros, 0n);
    const file = await w.payouts.getBankFile(batch.batchId, 'csv');
    assert.equal(file.ok ? 'ok' : file.code, 'noBankFile');
    const report = await w.payouts.reconciliationReport(batch.batchId);
    assert.ok(report.ok && report.value.matches, JSON.stringify(report, bigintJson));
  });

  it('flags a bank file that disagrees with the ledger', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n);
    const bob = await w.merchant('Bob', 0n);
    await w.earn(ada.accountId, 5_000_000n);
    await w.earn(bob.accountId, 2_500_000n);
    const batch = batchOf(await w.payouts.runPayouts());
    const row = await w.platform.db
      .selectFrom('payout_batches')
      .select(['file_xml', 'file_csv'])
      .where('id', '=', batch.batchId)
      .executeTakeFirstOrThrow();
    // Altered as someone holding the key could: decrypted, edited, encrypted again.
    const { batchId } = batch;
    const xml = w.sealer.openFile(batchId, 'file_xml', row.file_xml ?? '');
    const csv = w.sealer.openFile(batchId, 'file_csv', row.file_csv ?? '');
    await w.platform.db
      .updateTable('payout_batches')
      .set({
        file_xml: w.sealer.sealFile(
          batchId,
          'file_xml',
          xml.replace('<InstdAmt Ccy="USD">5.00<', '<InstdAmt Ccy="USD">50.00<'),
        ),
        file_csv: w.sealer.sealFile(batchId, 'file_csv', csv.replace(',2.50,USD', ',2.49,USD')),
      })
      .where('id', '=', batchId)
      .execute();
    const report = await w.payouts.reconciliationReport(batch.batchId);
    assert.ok(report.ok);
    assert.equal(report.value.matches, false);
    const adaLine = report.value.lines.find((line) => line.merchantId === ada.merchantId);
    const bobLine = report.value.lines.find((line) => line.merchantId === bob.merchantId);
    assert.deepEqual(adaLine?.findings, [{ code: 'fileAmountDiffers', file: 'xml' }]);
    assert.equal(adaLine.xmlAmountMicros, 50_000_000n);
    assert.equal(adaLine.ledgerAmountMicros, 5_000_000n);
    assert.deepEqual(bobLine?.findings, [{ code: 'fileAmountDiffers', file: 'csv' }]);
    assert.ok(report.value.findings.some((finding) => finding.code === 'xmlControlSumDiffers'));
    assert.deepEqual(await w.payouts.reconciliationReport('pb_nope'), {
      ok: false,
      code: 'batchNotFound',
    });
  });

  it('never pays twice when runs overlap', async (t) => {
    const w = await world(t, dialect);
    const merchants = await Promise.all(
      ['Ada', 'Bob', 'Cleo'].map((name) => w.merchant(name, 1_000_000n)),
    );
    for (const merchant of merchants) await w.earn(merchant.accountId, 7_000_000n);
    const runs = await Promise.all([
      w.payouts.runPayouts(),
      w.payoutsWith().runPayouts(),
      w.payoutsWith({ chunkSize: 1 }).runPayouts(),
    ]);
    const batches = await w.payouts.listBatches({ limit: 10 });
    assert.equal(batches.length, 1, JSON.stringify(runs, bigintJson));
    assert.equal(batches[0]?.state, 'paid');
    assert.equal(runs.filter((run) => !run.nothingDue).length, 1);
    assert.equal(await w.settled(), 21_000_000n);
    for (const merchant of merchants) assert.equal(await w.balanceOf(merchant.accountId), 0n);
    await assertLedgerClean(w.ledger);
  });

  it('keeps a checked bank account per merchant', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n, { bank: false });
    const good = {
      holderName: 'Ada Lovelace',
      iban: 'de89 3704 0044 0532 0130 00',
      bic: 'cobadeff',
    };
    const set = await w.payouts.setBankAccount(ada.merchantId, good);
    assert.ok(set.ok);
    assert.equal(set.value.iban, 'DE89370400440532013000');
    assert.equal(set.value.bic, 'COBADEFF');
    const changed = await w.payouts.setBankAccount(ada.merchantId, {
      ...good,
      holderName: 'Ada King',
      iban: banks[0].iban,
    });
    assert.ok(changed.ok);
    assert.deepEqual(await w.payouts.getBankAccount(ada.merchantId), {
      merchantId: ada.merchantId,
      holderName: 'Ada King',
      iban: banks[0].iban,
      bic: 'COBADEFF',
      updatedAtMs: w.clock.nowMs,
      // This world holds no payouts after a change.
      payoutsHeldUntilMs: w.clock.nowMs,
    });
    const badIban = await w.payouts.setBankAccount(ada.merchantId, {
      ...good,
      iban: 'DE89370400440532013001',
    });
    assert.equal(badIban.ok ? 'ok' : badIban.code, 'validationFailed');
    const badBic = await w.payouts.setBankAccount(ada.merchantId, { ...good, bic: 'COBA-DE' });
    assert.equal(badBic.ok ? 'ok' : badBic.code, 'validationFailed');
    const nobody = await w.payouts.setBankAccount('mer_nobody', good);
    assert.equal(nobody.ok ? 'ok' : nobody.code, 'merchantNotFound');
    assert.equal(await w.payouts.getBankAccount('mer_nobody'), undefined);
  });

  it('stores bank details and bank files encrypted, each bound to its row', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n, { holderName: 'Ada Lovelace' });
    const bob = await w.merchant('Bob', 0n, { holderName: 'Bob Babbage' });
    await w.earn(ada.accountId, 5_000_000n);
    const batch = batchOf(await w.payouts.runPayouts());
    const stored = dump([
      await w.platform.db.selectFrom('merchant_bank_accounts').selectAll().execute(),
      await w.platform.db.selectFrom('payouts').selectAll().execute(),
      await w.platform.db.selectFrom('payout_batches').selectAll().execute(),
    ]);
    // The currency as a CSV field or a JSON string: a bare "USD" turns up in base64 ciphertext by
    // chance, "," and '"' never do.
    const clearTexts = [
      'Lovelace',
      'Babbage',
      banks[0].iban,
      banks[0].bic,
      '<?xml',
      ',USD',
      '"USD"',
    ];
    for (const clear of clearTexts) {
      assert.ok(!stored.includes(clear), `${clear} is stored in the clear`);
    }
    // Read back in the clear through the service.
    assert.equal(batch.payouts[0]?.holderName, 'Ada Lovelace');
    assert.equal(batch.payouts[0]?.iban, banks[0].iban);
    const xml = await w.payouts.getBankFile(batch.batchId, 'xml');
    assert.ok(xml.ok && xml.value.includes(banks[0].iban));

    // A ciphertext moved to another merchant's row does not open there.
    const adaRow = await w.platform.db
      .selectFrom('merchant_bank_accounts')
      .selectAll()
      .where('merchant_id', '=', ada.merchantId)
      .executeTakeFirstOrThrow();
    await w.platform.db
      .updateTable('merchant_bank_accounts')
      .set({ iban: adaRow.iban })
      .where('merchant_id', '=', bob.merchantId)
      .execute();
    await assert.rejects(w.payouts.getBankAccount(bob.merchantId), /corrupt|authenticate/i);

    // An altered bank file is a finding of the reconciliation, not a crash.
    await w.platform.db
      .updateTable('payout_batches')
      .set({ file_csv: adaRow.iban })
      .where('id', '=', batch.batchId)
      .execute();
    const report = await w.payouts.reconciliationReport(batch.batchId);
    assert.ok(report.ok);
    assert.equal(report.value.matches, false);
    assert.deepEqual(
      report.value.findings.filter((finding) => finding.code === 'fileAltered'),
      [{ code: 'fileAltered', file: 'csv' }],
    );
  });

  it('encrypts bank details an older version stored in the clear, once', async (t) => {
    const w = await world(t, dialect);
    const ada = await w.merchant('Ada', 0n, { bank: false });
    await w.earn(ada.accountId, 5_000_000n);
    // As the version before this one wrote them: every column in the clear.
    const clear = { holder_name: 'Ada Lovelace', iban: banks[1].iban, bic: banks[1].bic };
    await w.platform.db
      .insertInto('merchant_bank_accounts')
      .values({ merchant_id: ada.merchantId, ...clear, updated_at: 1n })
      .execute();
    await w.platform.db
      .insertInto('payout_batches')
      .values({
        id: 'pb_old',
        state: 'paid',
        created_at: 1n,
        completed_at: 2n,
        total_micros: '1000000',
        count: 1,
        file_xml: '<?xml version="1.0"?><Document/>',
        file_csv: 'payout_id\npo_old',
      })
      .execute();
    for (const id of ['po_old', 'po_older']) {
      await w.platform.db
        .insertInto('payouts')
        .values({
          id,
          batch_id: 'pb_old',
          merchant_id: ada.merchantId,
          amount_micros: '1000000',
          transfer_id: id === 'po_old' ? '1' : '2',
          state: 'paid',
          failure_code: null,
          ...clear,
          created_at: 1n,
          completed_at: 2n,
        })
        .execute();
    }
    // The older version recorded no upgrade (this platform's start did, finding nothing).
    await w.platform.db
      .deleteFrom('data_upgrades')
      .where('name', '=', sealBankDetailsUpgrade)
      .execute();

    // Two nodes starting at once (one reading a row a query): one account, two payouts and two
    // bank files sealed, once.
    const counts = await Promise.all([
      w.payouts.sealPlaintextBankDetails(),
      w.payoutsWith({ pageRows: 1 }).sealPlaintextBankDetails(),
    ]);
    assert.equal(counts[0] + counts[1], 5);
    const stored = dump([
      await w.platform.db.selectFrom('merchant_bank_accounts').selectAll().execute(),
      await w.platform.db.selectFrom('payouts').selectAll().execute(),
      await w.platform.db.selectFrom('payout_batches').selectAll().execute(),
    ]);
    for (const text of ['Lovelace', banks[1].iban, '<?xml', 'payout_id']) {
      assert.ok(!stored.includes(text), `${text} is still in the clear`);
    }
    assert.equal((await w.payouts.getBankAccount(ada.merchantId))?.iban, banks[1].iban);
    assert.equal((await w.payouts.getBatch('pb_old'))?.payouts[0]?.holderName, 'Ada Lovelace');
    const csv = await w.payouts.getBankFile('pb_old', 'csv');
    assert.deepEqual(csv, { ok: true, value: 'payout_id\npo_old' });
    // Recorded as done: a second start leaves everything as it is.
    assert.equal(await w.payouts.sealPlaintextBankDetails(), 0);
    const again = await w.platform.db.selectFrom('merchant_bank_accounts').selectAll().execute();
    assert.equal(dump([again]), dump([JSON.parse(stored)[0]]));
    // New payouts work on the sealed account.
    const batch = batchOf(await w.payouts.runPayouts());
    assert.equal(batch.payouts[0]?.iban, banks[1].iban);
  });
});

describe('payout service configuration', () => {
  it('refuses an unusable debtor account, chunk size or page size', async (t) => {
    const w = await world(t, 'sqlite');
    assert.throws(
      () => w.payoutsWith({ debtor: { ...debtor, iban: 'DE00370400440532013000' } }),
      /debtor/,
    );
    assert.throws(() => w.payoutsWith({ chunkSize: 0 }), /chunkSize/);
    assert.throws(() => w.payoutsWith({ pageRows: 0 }), /pageRows/);
    assert.throws(() => w.payoutsWith({ pageRows: 1.5 }), /pageRows/);
  });

  it('takes the debtor account from the environment, test data by default', () => {
    assert.deepEqual(payoutDebtorFromEnv({}), {
      name: 'Mite Platform (sandbox)',
      iban: 'DE89370400440532013000',
      bic: 'COBADEFFXXX',
    });
    assert.deepEqual(
      payoutDebtorFromEnv({
        MITE_PAYOUT_DEBTOR_NAME: 'Mite Inc.',
        MITE_PAYOUT_DEBTOR_IBAN: 'GB82 WEST 1234 5698 7654 32',
        MITE_PAYOUT_DEBTOR_BIC: 'NWBKGB2L',
      }),
      { name: 'Mite Inc.', iban: 'GB82WEST12345698765432', bic: 'NWBKGB2L' },
    );
    assert.throws(
      () => payoutDebtorFromEnv({ MITE_PAYOUT_DEBTOR_IBAN: 'GB00WEST12345698765432' }),
      /IBAN/,
    );
  });
});

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
