import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { captureLog } from '../http/testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { startPlatformUnderTest } from '../platform-testing.ts';
import { parseCsv, readPain001 } from './bank-file.ts';
import { createBankDetailsSealer } from './sealed-bank-details.ts';
import { bankChangeHoldMsDefault } from './payout-service.ts';

type Json = Record<string, unknown>;

/**
 * A platform as `mite serve` builds it, listening on loopback, on a clock the test moves, with no
 * background jobs; its callers are real principals authenticated by the platform's own
 * authenticator: the operator's admin key, and merchants' API keys made through the services.
 */
async function start(t: TestContext, dialect: PlatformDialect) {
  const clock = { nowMs: Date.UTC(2027, 4, 2, 12, 0, 0) };
  const log = captureLog();
  const { platform, baseUrl, admin } = await startPlatformUnderTest(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
    logger: log.logger,
  });
  const { merchants, payouts, transferIds, cipher } = platform.services;
  const { ledger } = platform;
  /** An API key of the merchant's with the bank account scopes. */
  const keyOf = async (merchantId: string): Promise<string> => {
    const issued = await merchants.issueApiKey(merchantId, [
      'bank_account:read',
      'bank_account:write',
    ]);
    assert.ok(issued.ok);
    return issued.value.secret;
  };
  let keys = 0;
  const call = async (
    method: string,
    path: string,
    options: { as?: string; body?: unknown; key?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    if (options.as !== undefined) headers.authorization = `Bearer ${options.as}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['idempotency-key'] = options.key ?? `key-${++keys}`;
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    const json = (): Json => JSON.parse(text) as Json;
    return { status: response.status, headers: response.headers, text, json };
  };
  const earn = async (accountId: bigint, micros: bigint) => {
    const results = await ledger.createTransfers([
      {
        id: transferIds.next(),
        debitAccountId: platformAccountIds.processorReceivable,
        creditAccountId: accountId,
        amount: micros,
        ledger: ledgers.usd,
        code: transferCodes.payment,
      },
    ]);
    assert.deepEqual(results, ['ok']);
  };
  return {
    call,
    merchants,
    earn,
    ledger,
    log,
    clock,
    platform: platform.platformDb,
    payouts,
    cipher,
    keyOf,
    operator: admin,
  };
}

forEachDialect('payout routes', (dialect, it) => {
  it('lets a merchant set its bank account and an operator run, inspect and export payouts', async (t) => {
    const env = await start(t, dialect);
    const { call } = env;
    const shop = await env.merchants.createMerchant({
      name: 'Shop',
      feeBasisPoints: 0,
      payoutThresholdMicros: 1_000_000n,
    });
    const as = await env.keyOf(shop.merchantId);

    const bad = await call('PUT', '/v1/bank-account', {
      as,
      body: { holderName: 'Shop & Sons', iban: 'DE89370400440532013001', bic: 'COBADEFF' },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().type, '/v1/problems/validation-failed');
    assert.equal((await call('GET', '/v1/bank-account', { as })).status, 404);
    const set = await call('PUT', '/v1/bank-account', {
      as,
      body: { holderName: 'Shop & Sons', iban: 'DE89 3704 0044 0532 0130 00', bic: 'cobadeff' },
    });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.json().iban, 'DE89370400440532013000');
    assert.equal((await call('GET', '/v1/bank-account', { as })).json().holderName, 'Shop & Sons');

    // Who may do what.
    assert.equal((await call('POST', '/v1/payout-runs', { as })).status, 403);
    assert.equal((await call('POST', '/v1/payout-runs')).status, 401);
    const operatorBank = await call('PUT', '/v1/bank-account', {
      as: env.operator,
      body: { holderName: 'X', iban: 'DE89370400440532013000', bic: 'COBADEFF' },
    });
    assert.equal(operatorBank.status, 403);

    const idle = await call('POST', '/v1/payout-runs', { as: env.operator });
    assert.equal(idle.status, 200, idle.text);
    assert.deepEqual(idle.json(), { nothingDue: true, resumedBatchIds: [], held: [], frozen: [] });

    await env.earn(shop.accountId, 2_505_000n);
    // The bank account is new: held for 48 hours after it was set, and said so.
    const setAt = new Date(env.clock.nowMs).toISOString();
    const heldUntil = new Date(env.clock.nowMs + bankChangeHoldMsDefault).toISOString();
    const held = await call('POST', '/v1/payout-runs', { as: env.operator });
    assert.equal(held.status, 200, held.text);
    assert.deepEqual(held.json().held, [
      {
        merchantId: shop.merchantId,
        reason: 'bankDetailsChanged',
        bankDetailsChangedAt: setAt,
        heldUntil,
      },
    ]);
    env.clock.nowMs += bankChangeHoldMsDefault;
    const run = await call('POST', '/v1/payout-runs', { as: env.operator, key: 'run-1' });
    assert.equal(run.status, 201, run.text);
    const batch = run.json();
    const batchId = String(batch.batchId);
    assert.equal(batch.state, 'paid');
    assert.equal(batch.total, '2.50');
    assert.equal(batch.currency, 'USD');
    assert.equal(batch.count, 1);
    const [payout] = batch.payouts as Json[];
    assert.equal(payout?.amount, '2.50');
    assert.equal(payout.merchantId, shop.merchantId);
    assert.equal(payout.state, 'paid');
    assert.deepEqual(batch.files, {
      xml: `/v1/payout-batches/${batchId}/pain.001.xml`,
      csv: `/v1/payout-batches/${batchId}/payouts.csv`,
    });
    assert.ok(
      env.log
        .entries()
        .some((entry) => JSON.stringify(entry.payoutProgress ?? {}).includes('"done":1')),
      'progress is logged',
    );
    const replay = await call('POST', '/v1/payout-runs', { as: env.operator, key: 'run-1' });
    assert.equal(replay.status, 201);
    assert.equal(replay.json().batchId, batchId, 'the same key replays, paying nothing');
    const [account] = await env.ledger.lookupAccounts([shop.accountId]);
    assert.equal((account?.creditsPosted ?? 0n) - (account?.debitsPosted ?? 0n), 5_000n);

    const got = await call('GET', `/v1/payout-batches/${batchId}`, { as: env.operator });
    assert.equal(got.status, 200);
    const { resumedBatchIds, held: heldNow, frozen, ...summary } = batch;
    assert.deepEqual([resumedBatchIds, heldNow, frozen], [[], [], []]);
    assert.deepEqual(got.json(), summary);
    assert.equal((await call('GET', `/v1/payout-batches/${batchId}`, { as })).status, 403);
    const missing = await call('GET', '/v1/payout-batches/pb_nope', { as: env.operator });
    assert.equal(missing.status, 404);

    const xml = await call('GET', `/v1/payout-batches/${batchId}/pain.001.xml`, {
      as: env.operator,
    });
    assert.equal(xml.status, 200);
    assert.match(xml.headers.get('content-type') ?? '', /^application\/xml/);
    assert.match(xml.headers.get('content-disposition') ?? '', /attachment; filename="pb_/);
    const file = readPain001(xml.text);
    assert.equal(file.messageId, batchId);
    assert.equal(file.groupControlSumMicros, 2_500_000n);
    assert.ok(xml.text.includes('<Nm>Shop &amp; Sons</Nm>'));

    const csv = await call('GET', `/v1/payout-batches/${batchId}/payouts.csv`, {
      as: env.operator,
    });
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.deepEqual(parseCsv(csv.text)[1]?.slice(1), [
      shop.merchantId,
      'Shop & Sons',
      'DE89370400440532013000',
      'COBADEFF',
      '2.50',
      'USD',
    ]);
    const noFile = await call('GET', '/v1/payout-batches/pb_nope/payouts.csv', {
      as: env.operator,
    });
    assert.equal(noFile.status, 404);

    const report = await call('GET', `/v1/payout-batches/${batchId}/reconciliation`, {
      as: env.operator,
    });
    assert.equal(report.status, 200, report.text);
    const body = report.json();
    assert.equal(body.matches, true);
    assert.deepEqual(body.problems, []);
    assert.deepEqual((body.totals as Json).ledger, '2.50');
    assert.deepEqual((body.lines as Json[])[0]?.ledgerAmount, '2.50');

    const list = await call('GET', '/v1/payout-batches?limit=1', { as: env.operator });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(
      (list.json().items as Json[]).map((item) => item.batchId),
      [batchId],
    );
    assert.equal(list.json().nextCursor, null);

    const openapi = await call('GET', '/v1/openapi.json');
    assert.equal(openapi.status, 200);
    const paths = openapi.json().paths as Record<string, Record<string, Json>>;
    const xmlResponse = JSON.stringify(
      paths['/v1/payout-batches/{batchId}/pain.001.xml']?.get?.responses,
    );
    assert.match(xmlResponse, /application\/xml/);
    assert.ok(paths['/v1/payout-runs']?.post);
    assert.ok(paths['/v1/bank-account']?.put);
    assert.ok(paths['/v1/merchants/{merchantId}/payouts']?.get);
  });

  it('tells an operator in words what a reconciliation of altered bank files found', async (t) => {
    const env = await start(t, dialect);
    const shop = await env.merchants.createMerchant({
      name: 'Shop',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const set = await env.payouts.setBankAccount(shop.merchantId, {
      holderName: 'Shop',
      iban: 'DE89370400440532013000',
      bic: 'COBADEFF',
    });
    assert.ok(set.ok);
    env.clock.nowMs += bankChangeHoldMsDefault;
    await env.earn(shop.accountId, 5_000_000n);
    const run = await env.payouts.runPayouts();
    assert.ok(!run.nothingDue);
    const { batchId } = run;
    // The XML amount edited by someone holding the key; the CSV overwritten without it.
    const sealer = createBankDetailsSealer(env.cipher);
    const row = await env.platform.db
      .selectFrom('payout_batches')
      .select('file_xml')
      .where('id', '=', batchId)
      .executeTakeFirstOrThrow();
    const xml = sealer.openFile(batchId, 'file_xml', row.file_xml ?? '');
    await env.platform.db
      .updateTable('payout_batches')
      .set({
        file_xml: sealer.sealFile(
          batchId,
          'file_xml',
          xml.replace('<InstdAmt Ccy="USD">5.00<', '<InstdAmt Ccy="USD">50.00<'),
        ),
        file_csv: 'not a sealed file',
      })
      .where('id', '=', batchId)
      .execute();

    const report = await env.call('GET', `/v1/payout-batches/${batchId}/reconciliation`, {
      as: env.operator,
    });
    assert.equal(report.status, 200, report.text);
    const body = report.json();
    assert.equal(body.matches, false);
    assert.deepEqual(body.problems, [
      'the CSV file does not decrypt: it was altered where it is stored',
      'the XML file CtrlSum differs from the sum of its amounts',
      'the batch is paid but has no CSV file',
      'the XML file totals differ from the paid payouts',
      'the CSV file totals differ from the paid payouts',
    ]);
    assert.deepEqual(
      (body.lines as Json[]).map((line) => line.problems),
      [['the XML file has another amount', 'paid, but missing from the CSV file']],
    );
  });

  it('shows a merchant its own payouts, page by page, each checked against the ledger', async (t) => {
    const env = await start(t, dialect);
    const shop = await env.merchants.createMerchant({
      name: 'Shop',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const other = await env.merchants.createMerchant({
      name: 'Other',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const reader = await env.merchants.issueApiKey(shop.merchantId, ['reports:read']);
    assert.ok(reader.ok);
    const as = reader.value.secret;
    const set = await env.call('PUT', '/v1/bank-account', {
      as: await env.keyOf(shop.merchantId),
      body: { holderName: 'Shop', iban: 'DE89370400440532013000', bic: 'COBADEFF' },
    });
    assert.equal(
      set.json().payoutsHeldUntil,
      new Date(env.clock.nowMs + bankChangeHoldMsDefault).toISOString(),
    );
    env.clock.nowMs += bankChangeHoldMsDefault;
    const batchIds: string[] = [];
    for (const micros of [2_000_000n, 3_000_000n, 4_000_000n]) {
      await env.earn(shop.accountId, micros);
      const run = await env.payouts.runPayouts();
      assert.ok(!run.nothingDue);
      batchIds.push(run.batchId);
      env.clock.nowMs += 60_000;
    }
    const path = `/v1/merchants/${shop.merchantId}/payouts`;
    const first = await env.call('GET', `${path}?limit=2`, { as });
    assert.equal(first.status, 200, first.text);
    const page = first.json() as { items: Json[]; nextCursor: string };
    assert.deepEqual(
      page.items.map((item) => [item.amount, item.batchId, item.state]),
      [
        ['4.00', batchIds[2], 'paid'],
        ['3.00', batchIds[1], 'paid'],
      ],
    );
    const newest = page.items[0] as Json;
    assert.deepEqual(newest.reconciliation, { state: 'matches', problems: [] });
    assert.deepEqual(newest.bankTransfer, {
      endToEndId: newest.payoutId,
      remittanceInformation: `Mite payout ${String(newest.payoutId)}`,
      holderName: 'Shop',
      ibanLast4: '3000',
      bic: 'COBADEFF',
    });
    const rest = await env.call('GET', `${path}?limit=2&cursor=${page.nextCursor}`, { as });
    assert.deepEqual(
      (rest.json().items as Json[]).map((item) => item.amount),
      ['2.00'],
    );
    assert.equal(rest.json().nextCursor, null);

    // A ledger transfer that is not there is found out.
    await env.platform.db
      .updateTable('payouts')
      .set({ transfer_id: '12345' })
      .where('id', '=', String(newest.payoutId))
      .execute();
    const altered = await env.call('GET', `${path}?limit=1`, { as });
    assert.deepEqual((altered.json().items as Json[])[0]?.reconciliation, {
      state: 'mismatch',
      problems: ['paid, but the ledger has no transfer'],
    });

    // Another merchant's payouts are not found for it; operators read any merchant's.
    assert.equal(
      (await env.call('GET', `/v1/merchants/${other.merchantId}/payouts`, { as })).status,
      404,
    );
    const byOperator = await env.call('GET', path, { as: env.operator });
    assert.equal((byOperator.json().items as Json[]).length, 3);
    const bankOnly = await env.keyOf(shop.merchantId);
    assert.equal((await env.call('GET', path, { as: bankOnly })).status, 403);
  });
});
