import assert from 'node:assert/strict';
import { currentConsentText } from '../consents/consent-texts.ts';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findPgBin } from '@mite/testkit';
import { forEachDialect } from '../db/testing.ts';
import {
  type Answer,
  createMerchantWithKey,
  type PlatformUnderTest,
  signUpAndTopUp,
  startPlatformUnderTest,
  type TestPlatform,
} from '../platform-testing.ts';
import { ErasedDataError, userSubject } from './data-keys.ts';

const run = promisify(execFile);

/** Values no other part of a test world holds, so that finding one in the stores is a leak. */
const person = {
  email: 'zelda.quirinius-erasure@example.org',
  password: 'a long passphrase for zelda',
  card: '4000055665567315',
  last4: '7315',
};

function expectStatus(answer: Answer, status: number, what: string): Record<string, unknown> {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
  assert.ok(answer.body, `${what}: no JSON body`);
  return answer.body;
}

/** A merchant selling a $0.995 article, and the person, who topped up $1.00 by card. */
async function setUp(env: PlatformUnderTest) {
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Erasure Gazette' });
  const offer = expectStatus(
    await env.call('POST', '/v1/offers', {
      auth: apiKey,
      body: {
        resource: '/articles/long-read',
        title: 'A long read',
        price: '0.995',
        category: 'content',
        accessPeriodSeconds: 86400,
      },
    }),
    201,
    'offer',
  );
  const personal = await signUpAndTopUp(env, {
    email: person.email,
    password: person.password,
    topUp: '1.00',
    cardNumber: person.card,
  });
  return { merchantId, apiKey, offerId: String(offer.id), ...personal };
}

/** Every place a value could hide in clear: as is, and in base64 (standard and URL-safe). */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value);
  return [value, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')];
}

/**
 * The offsets where `needle` occurs in `haystack` as a value of its own. A short needle (the
 * card's last four digits) is counted only where it stands apart from letters, digits and the
 * base64 and id punctuation on both sides: any four digits turn up by chance inside ids,
 * timestamps and base64 ciphertext (a clean-clone run found "7315" in a pg_dump that way), while a
 * stored last4 stands between quotes, tabs or spaces.
 */
function findings(haystack: Buffer, needle: string): number[] {
  const joined = (byte: number | undefined) =>
    byte !== undefined && /^[0-9A-Za-z+/=_-]$/.test(String.fromCharCode(byte));
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    if (needle.length > 4 || !(joined(haystack[at - 1]) || joined(haystack[at + needle.length]))) {
      found.push(at);
    }
  }
  return found;
}

/** The platform database's bytes as stored: the SQLite file and its WAL, or a pg_dump. */
async function rawStores(platform: TestPlatform): Promise<Map<string, Buffer>> {
  const stores = new Map<string, Buffer>();
  if (platform.platformUrl.startsWith('sqlite:')) {
    const file = platform.platformUrl.slice('sqlite:'.length);
    for (const path of [file, `${file}-wal`]) stores.set(path, readFileSync(path));
    return stores;
  }
  const bin = findPgBin();
  assert.ok(bin, 'PostgreSQL binaries are needed for pg_dump');
  const dump = await run(join(bin, 'pg_dump'), ['--dbname', platform.platformUrl], {
    maxBuffer: 256 * 1024 * 1024,
    encoding: 'buffer',
  });
  stores.set('pg_dump', dump.stdout);
  return stores;
}

async function assertNothingInClear(platform: TestPlatform): Promise<void> {
  const stores = await rawStores(platform);
  // A control: what is stored in clear on purpose (an offer's resource) is found, so the scan
  // reads the rows themselves.
  const all = Buffer.concat([...stores.values()]);
  assert.ok(findings(all, '/articles/long-read').length > 0, 'the scan does not see the rows');
  for (const [where, bytes] of stores) {
    // The email in lower case, as normalised before sealing, and as typed.
    for (const value of [person.email, person.last4, person.card]) {
      for (const encoded of encodings(value)) {
        assert.deepEqual(findings(bytes, encoded), [], `${where} holds ${value} as ${encoded}`);
      }
    }
  }
}

forEachDialect('account erasure', (dialect, it) => {
  it('keeps the email and card digits out of the stored bytes, then shreds them on erasure', async (t) => {
    const env = await startPlatformUnderTest(t, dialect);
    const { call } = env;
    const shop = await setUp(env);
    await assertNothingInClear(env.platform as TestPlatform);

    // Confirmation and the balance rule come first.
    const wrong = await call('POST', '/v1/users/me/erasure', {
      auth: shop.user,
      body: { password: 'not the password' },
    });
    assert.equal(wrong.status, 401, wrong.text);
    const withBalance = await call('POST', '/v1/users/me/erasure', {
      auth: shop.user,
      body: { password: person.password },
    });
    assert.equal(withBalance.status, 409, withBalance.text);
    assert.match(String(withBalance.body?.type), /balance-remains/);

    // Spending leaves half a cent: too little to pay out, so it moves to unclaimed balances.
    const payment = expectStatus(
      await call('POST', '/v1/payments', { auth: shop.user, body: { offerId: shop.offerId } }),
      201,
      'payment',
    );
    const paymentId = String(payment.paymentId ?? payment.id);
    const before = expectStatus(
      await call('GET', `/v1/payments/${paymentId}`, { auth: shop.apiKey }),
      200,
      'payment as the merchant',
    );
    const kept = await env.platform.platformDb.db
      .selectFrom('idempotency_records')
      .select('idempotency_key')
      .where('principal', '=', `user:${shop.userId}`)
      .execute();
    assert.ok(kept.length > 0, 'the top-up and the purchase kept their responses for replays');
    expectStatus(
      await call('POST', '/v1/consents', {
        auth: shop.user,
        body: {
          purpose: 'autoPay',
          scope: 'https://news.example',
          textVersion: currentConsentText('autoPay').version,
        },
      }),
      200,
      'a consent to auto-pay a site',
    );
    const erased = expectStatus(
      await call('POST', '/v1/users/me/erasure', {
        auth: shop.user,
        body: { password: person.password },
      }),
      200,
      'erasure',
    );
    assert.equal(erased.unclaimed, '0.005');

    // The account is gone for its owner: the session ended, the password opens nothing.
    assert.equal((await call('GET', '/v1/wallet', { auth: shop.user })).status, 401);
    const logIn = await call('POST', '/v1/sessions', {
      body: { email: person.email, password: person.password },
    });
    assert.equal(logIn.status, 401, logIn.text);

    // The merchant still sees the payment, under the same pseudonym, and its reports.
    const after = expectStatus(
      await call('GET', `/v1/payments/${paymentId}`, { auth: shop.apiKey }),
      200,
      'payment after erasure',
    );
    assert.equal(after.payer, before.payer);
    const listed = expectStatus(
      await call('GET', `/v1/merchants/${shop.merchantId}/payments`, { auth: shop.apiKey }),
      200,
      'payments list',
    );
    assert.equal((listed.items as unknown[]).length, 1);
    const refunds = await call('GET', `/v1/merchants/${shop.merchantId}/refunds`, {
      auth: shop.apiKey,
    });
    assert.equal(refunds.status, 200, refunds.text);
    const earnings = await call(
      'GET',
      `/v1/merchants/${shop.merchantId}/reports/earnings?interval=day&from=2020-01-01&to=2020-01-07`,
      {
        auth: shop.apiKey,
      },
    );
    assert.equal(earnings.status, 200, earnings.text);

    // The operator sees the top-up as an erased user's; a view of the email answers "erased".
    const topUp = expectStatus(
      await call('GET', `/v1/operator/topups/${shop.topUpId}`, { auth: env.admin }),
      200,
      'operator top-up',
    );
    assert.equal(topUp.userErased, true);
    assert.equal(topUp.cardLast4, null);
    const view = await call('POST', '/v1/operator/personal-data-views', {
      auth: env.admin,
      body: {
        recordKind: 'topUp',
        recordId: shop.topUpId,
        field: 'email',
        reason: 'a dispute about a charge',
      },
    });
    assert.equal(view.status, 410, view.text);

    // The stored ciphertexts stay, but nothing opens them any more.
    const { keyring, cipher } = env.platform.services;
    const db = env.platform.platformDb.db;
    const user = await db
      .selectFrom('users')
      .select(['email_ciphertext', 'email_lookup'])
      .where('id', '=', shop.userId)
      .executeTakeFirstOrThrow();
    assert.notEqual(user.email_lookup, cipher.lookupTag(person.email, 'email'));
    const replays = await db
      .selectFrom('idempotency_records')
      .select('idempotency_key')
      .where('principal', '=', `user:${shop.userId}`)
      .execute();
    assert.deepEqual(replays, [], 'the top-up\u2019s kept response, with its card digits, is gone');
    const consents = await db
      .selectFrom('consents')
      .select('id')
      .where('user_id', '=', shop.userId)
      .execute();
    assert.deepEqual(consents, [], 'the sites the person let pay automatically are forgotten');
    assert.equal(await keyring.existingKeyFor(userSubject(shop.userId)), 'erased');
    await assert.rejects(keyring.keyFor(userSubject(shop.userId)), ErasedDataError);
    assert.throws(() => cipher.decrypt(user.email_ciphertext, `user:${shop.userId}:email`));
    await assertNothingInClear(env.platform as TestPlatform);

    // The email is free again: a new account, which knows nothing of the old one.
    const again = await call('POST', '/v1/users', {
      body: { email: person.email, password: person.password },
    });
    assert.equal(again.status, 201, again.text);
    assert.notEqual(again.body?.userId, shop.userId);
  });
});
