import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import { tableColumns } from '../db/table-columns.ts';
import { forEachDialect } from '../db/testing.ts';
import { logInMerchantPerson, setUpShop, startPlatformUnderTest } from '../platform-testing.ts';

type Sections = Record<string, Record<string, unknown>[]>;

forEachDialect('GET /v1/users/me/export', (dialect, it) => {
  it('answers everything held about me as JSON, email decrypted, without secrets or others', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01', reason: 'typo in the article' },
    });
    assert.equal(refund.status, 201, refund.text);
    const budget = {
      maxPerPayment: '0.25',
      maxPerOriginPerDay: '2.5',
      maxTotal: '100',
      approveAbove: '0',
    };
    const saved = await env.call('PUT', '/v1/wallet/budget', { auth: shop.user, body: budget });
    assert.equal(saved.status, 200, saved.text);
    const other = { email: 'bo@example.com', password: 'another long passphrase' };
    assert.equal((await env.call('POST', '/v1/users', { body: other })).status, 201);

    const answer = await env.call('GET', '/v1/users/me/export?format=json', { auth: shop.user });
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.contentType, /^application\/json/);
    const sections = answer.body?.sections as Sections;
    assert.equal(answer.body?.userId, shop.userId);
    assert.equal(sections.users?.[0]?.email, 'ada@example.com');
    assert.deepEqual(
      sections.payments?.map((p) => [p.id, p.resource, p.amount, p.merchant_name]),
      [[shop.paymentId, '/articles/1', '0.02', 'Daily News']],
    );
    assert.deepEqual(
      sections.refunds?.map((r) => [r.payment_id, r.amount, r.reason]),
      [[shop.paymentId, '0.01', 'typo in the article']],
    );
    assert.deepEqual(
      sections.topups?.map((r) => [r.id, r.amount, r.card_last4]),
      [[shop.topUpId, '5.00', '4242']],
    );
    assert.equal(sections.wallet_budgets?.[0]?.max_per_payment, '0.25');
    assert.equal(sections.offer_access?.[0]?.payment_id, shop.paymentId);
    assert.equal(sections.sessions?.length, 1);
    assert.deepEqual(
      sections.wallet_movements?.map((m) => m.kind),
      ['refund', 'payment', 'topUp'],
    );
    assert.equal(sections.wallet?.[0]?.balance, '4.99');
    for (const secret of [
      'password_hash',
      'token_hash',
      'card_token',
      'email_lookup',
      'outputs_hash',
    ]) {
      assert.doesNotMatch(answer.text, new RegExp(secret), `${secret} is not exported`);
    }
    assert.doesNotMatch(answer.text, /bo@example\.com/, 'another user\u2019s data is not exported');
    assert.match(String(answer.contentType), /json/);
  });

  it('includes invitations to my email and the merchants I belong to', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const owner = await logInMerchantPerson(env, {
      email: 'owner@example.com',
      merchantName: 'Comics',
    });
    const invited = await env.call('POST', `/v1/merchants/${owner.merchantId}/invitations`, {
      auth: owner.token,
      body: { email: 'ADA@example.com', role: 'viewer' },
    });
    assert.equal(invited.status, 201, invited.text);
    const mine = await env.call('GET', '/v1/users/me/export', { auth: shop.user });
    const sections = mine.body?.sections as Sections;
    assert.deepEqual(
      sections.merchant_invitations?.map((row) => [row.merchant_id, row.role]),
      [[owner.merchantId, 'viewer']],
    );
    const owners = await env.call('POST', '/v1/sessions', {
      body: { email: 'owner@example.com', password: 'a long passphrase' },
    });
    const theirs = await env.call('GET', '/v1/users/me/export', {
      auth: String(owners.body?.token),
    });
    const ownerSections = theirs.body?.sections as Sections;
    assert.deepEqual(
      ownerSections.merchant_members?.map((row) => [row.merchant_name, row.role]),
      [['Comics', 'owner']],
    );
    assert.deepEqual(ownerSections.merchant_invitations, []);
    assert.doesNotMatch(theirs.text, /ada@example\.com/i);
  });

  it('has a section for every table with a user_id column, so that no new table is forgotten', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    const answer = await env.call('GET', '/v1/users/me/export', { auth: shop.user });
    assert.equal(answer.status, 200, answer.text);
    const sections = Object.keys(answer.body?.sections as Sections);
    const tables = await tableColumns(env.platform.platformDb);
    const keyedByUser = [...tables]
      .filter(([, columns]) => columns.includes('user_id'))
      .map(([name]) => name);
    assert.ok(keyedByUser.length >= 9, keyedByUser.join());
    const missing = keyedByUser.filter((table) => !sections.includes(table));
    assert.deepEqual(
      missing,
      [],
      'tables with a user_id the export leaves out (data-export/user-export.ts)',
    );
  });

  it('answers a zip of CSV files, one per section, that a spreadsheet opens', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    // A merchant writes a refund's reason: in a spreadsheet it must stay text.
    const refund = await env.call('POST', `/v1/payments/${shop.paymentId}/refunds`, {
      auth: shop.apiKey,
      body: { amount: '0.01', reason: '=HYPERLINK("https://evil.example")' },
    });
    assert.equal(refund.status, 201, refund.text);
    const response = await fetch(`${env.baseUrl}/v1/users/me/export?format=csv`, {
      headers: { authorization: `Bearer ${shop.user}` },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/zip');
    assert.match(
      String(response.headers.get('content-disposition')),
      /^attachment; filename="mite-export-\d{4}-\d\d-\d\d\.zip"$/,
    );
    const files = unzipSync(new Uint8Array(await response.arrayBuffer()));
    assert.ok(files['README.txt'] !== undefined);
    const payments = parse(strFromU8(files['payments.csv'] ?? new Uint8Array()), {
      columns: true,
    }) as Record<string, string>[];
    assert.deepEqual(
      payments.map((row) => [row.id, row.resource, row.amount]),
      [[shop.paymentId, '/articles/1', '0.02']],
    );
    const legs = JSON.parse(payments[0]?.legs ?? '[]') as unknown[];
    assert.ok(legs.length >= 2, 'nested values are JSON in their cell');
    const refunds = parse(strFromU8(files['refunds.csv'] ?? new Uint8Array()), {
      columns: true,
    }) as Record<string, string>[];
    assert.equal(refunds[0]?.reason, '\'=HYPERLINK("https://evil.example")', 'no formula runs');
    const users = parse(strFromU8(files['users.csv'] ?? new Uint8Array()), {
      columns: true,
    }) as Record<string, string>[];
    assert.equal(users[0]?.email, 'ada@example.com');
    assert.equal(
      strFromU8(files['merchant_members.csv'] ?? new Uint8Array([1])),
      '',
      'an empty section is an empty file',
    );
  });

  it('is for a wallet session only, and refuses an unknown format', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const shop = await setUpShop(env);
    assert.equal((await env.call('GET', '/v1/users/me/export')).status, 401);
    assert.equal((await env.call('GET', '/v1/users/me/export', { auth: shop.apiKey })).status, 403);
    assert.equal((await env.call('GET', '/v1/users/me/export', { auth: env.admin })).status, 403);
    const xml = await env.call('GET', '/v1/users/me/export?format=xml', { auth: shop.user });
    assert.equal(xml.status, 400, xml.text);
    assert.match(xml.contentType, /problem\+json/);
  });
});

forEachDialect('GET /v1/privacy/retention', (dialect, it) => {
  it('tells anyone what is kept and for how long, with this platform\u2019s period', async (t) => {
    const env = await startPlatformUnderTest(t, dialect, {
      purchaseDetailRetentionMs: 30 * 86_400_000,
    });
    const answer = await env.call('GET', '/v1/privacy/retention');
    assert.equal(answer.status, 200, answer.text);
    const items = answer.body?.items as { key: string; days: number | null }[];
    assert.equal(items.find((item) => item.key === 'purchaseDetails')?.days, 30);
    assert.equal(items.find((item) => item.key === 'requestReplays')?.days, 1);
    assert.equal(items.find((item) => item.key === 'money')?.days, null);
  });
});
