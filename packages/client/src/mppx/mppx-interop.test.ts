/**
 * A stock client of the Payment scheme pays Mite: the published `mppx` SDK (0.11.0), with only
 * the `mite` method of this folder, fetches a priced route of a merchant site behind
 * `@mite/middleware`, gets the 402, pays through the real platform (on SQLite and on
 * PostgreSQL), retries, and gets the content with a Payment-Receipt. All on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// Through the package's exports map, as a user imports it.
import { mite } from '@mite/client/mppx';
import { decodeBase64url, parsePaymentReceiptHeader } from '@mite/protocol';
import { postgresSkipReason } from '@mite/testkit';
import { Credential, Receipt } from 'mppx';
import { Mppx } from 'mppx/client';
import type { Budget } from '../budget.ts';
import { isMitePaymentError } from '../errors.ts';
import type { PaymentEvent } from '../payer.ts';
import { type Dialect, type LiveWorld, startLiveWorld } from '../testing/live-world.ts';

const articleMicros = 20_000n;
const answerMicros = 1_000n;
const roomy: Budget = { maxPerPayment: '0.10', maxPerOriginPerDay: '1.00', maxTotal: '1.00' };

/** Every request a client sends, as "METHOD /path [+credential] STATUS"; credentials kept. */
function recordingFetch(log: string[], credentials: string[]): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    const authorization = request.headers.get('authorization');
    const paying = authorization?.startsWith('Payment ') === true;
    if (paying) credentials.push(authorization);
    const { pathname } = new URL(request.url);
    log.push(`${request.method} ${pathname}${paying ? ' +credential' : ''} ${response.status}`);
    return response;
  };
}

/** An mppx client whose only method is Mite's, paying from the reader's wallet. */
function mppxClient(world: LiveWorld, budget: Budget = roomy) {
  const log: string[] = [];
  const credentials: string[] = [];
  const payments: PaymentEvent[] = [];
  const recording = recordingFetch(log, credentials);
  const method = mite({
    wallet: { platformUrl: world.platformUrl, token: world.token },
    budget,
    fetch: recording,
    onPayment: (event) => void payments.push(event),
  });
  const mppx = Mppx.create({ methods: [method], polyfill: false, fetch: recording });
  return { mppx, method, log, credentials, payments };
}

/** Verifies a compact EdDSA JWS against the platform's published keys (`GET /v1/keys`). */
async function verifiesWithPlatformKeys(world: LiveWorld, jws: string): Promise<boolean> {
  const { body } = await world.api('GET', '/v1/keys');
  const [header = '', payload = '', signature = ''] = jws.split('.');
  const decodedHeader = decodeBase64url(header, header.length);
  assert.ok(decodedHeader.ok);
  const { kid } = JSON.parse(new TextDecoder().decode(decodedHeader.value)) as { kid: string };
  const keys = body['keys'] as { kid: string; x: string; crv: string; kty: string }[];
  const jwk = keys.find((key) => key.kid === kid);
  assert.ok(jwk, `the platform publishes key ${kid}`);
  const key = await crypto.subtle.importKey(
    'jwk',
    { kty: jwk.kty, crv: jwk.crv, x: jwk.x },
    { name: 'Ed25519' },
    false,
    ['verify'],
  );
  const signatureBytes = decodeBase64url(signature, signature.length);
  assert.ok(signatureBytes.ok);
  const signed = new TextEncoder().encode(`${header}.${payload}`);
  return crypto.subtle.verify({ name: 'Ed25519' }, key, signatureBytes.value, signed);
}

for (const dialect of ['sqlite', 'postgres'] satisfies Dialect[]) {
  const skip = dialect === 'postgres' ? postgresSkipReason() : undefined;
  describe(`mppx 0.11.0 pays Mite's 402s (${dialect})`, { skip }, () => {
    let world: LiveWorld;

    before(async () => {
      world = await startLiveWorld(dialect);
    });
    after(() => world?.close());

    it('pays a priced route through the platform, retries, and gets a Payment-Receipt that verifies', async () => {
      const client = mppxClient(world);
      const before = await world.walletMicros();
      const response = await client.mppx.fetch(`${world.shopUrl}/articles/42`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^article 42 for psn_/);
      assert.deepEqual(client.log, [
        'GET /articles/42 402',
        'POST /v1/payments 201',
        'GET /articles/42 +credential 200',
      ]);
      assert.equal(before - (await world.walletMicros()), articleMicros, 'exactly the price');

      // The receipt header as a stock client reads it, and as Mite reads it.
      const receipt = Receipt.fromResponse(response);
      const [payment] = client.payments;
      assert.ok(payment !== undefined && client.payments.length === 1);
      assert.deepEqual(
        [receipt.status, receipt.method, receipt.reference],
        ['success', 'mite', payment.paymentId],
      );
      const mine = parsePaymentReceiptHeader(response.headers.get('payment-receipt') ?? '');
      assert.ok(mine.ok, mine.ok ? '' : mine.detail);
      assert.equal(mine.value.challengeId, payment.challengeId);
      assert.equal(response.headers.get('cache-control'), 'private');

      // The platform knows that payment, and the credential mppx sent carried its signed receipt.
      const { status, body } = await world.api('GET', `/v1/payments/${receipt.reference}`);
      assert.equal(status, 200);
      assert.deepEqual(
        [body['state'], body['amount'], body['merchantId'], body['challengeId']],
        ['succeeded', '0.02', world.merchantId, payment.challengeId],
      );
      const [sent] = client.credentials;
      const credential = Credential.deserialize<{ receipt: string }>(sent ?? '');
      assert.equal(credential.challenge.id, payment.challengeId);
      assert.equal(credential.payload.receipt, body['receipt']);
      assert.ok(await verifiesWithPlatformKeys(world, credential.payload.receipt));

      // mppx told the method nothing of the URL: the merchant stands for the site.
      assert.equal(payment.origin, `merchant ${world.merchantId}`);
      assert.equal(client.method.spent().totalMicros, articleMicros);
    });

    it('opens a bought article again with its receipt, paying nothing', async () => {
      const client = mppxClient(world);
      const first = await client.mppx.fetch(`${world.shopUrl}/articles/7`);
      assert.equal(first.status, 200);
      const before = await world.walletMicros();
      // Within the same second (the site's clock stands still): the same challenge again.
      const again = await client.mppx.fetch(`${world.shopUrl}/articles/7`);
      assert.equal(again.status, 200);
      // A second later, a new challenge: the kept receipt opens the article all the same.
      world.advanceShopSeconds(1);
      const later = await client.mppx.fetch(`${world.shopUrl}/articles/7`);
      assert.equal(later.status, 200);
      assert.equal(await world.walletMicros(), before, 'nothing paid twice');
      assert.equal(client.payments.length, 1);
      assert.deepEqual(client.log.slice(3), [
        'GET /articles/7 402',
        'GET /articles/7 +credential 200',
        'GET /articles/7 402',
        'GET /articles/7 +credential 200',
      ]);
    });

    it('refuses to present a single-use purchase twice: a challenge already paid is not paid again', async () => {
      const client = mppxClient(world);
      const first = await client.mppx.fetch(`${world.shopUrl}/api/answer`);
      assert.equal(first.status, 200);
      const before = await world.walletMicros();
      // The same second, the same challenge: the answer was bought and delivered once.
      await assert.rejects(client.mppx.fetch(`${world.shopUrl}/api/answer`), (error) => {
        assert.ok(isMitePaymentError(error, 'merchantRefused'), String(error));
        assert.match(error.message, /paid already; not paying it twice/);
        assert.equal(error.paid, false);
        return true;
      });
      assert.equal(await world.walletMicros(), before, 'nothing moved');
      // Another second, another challenge: a single-use answer is bought each time.
      world.advanceShopSeconds(1);
      const next = await client.mppx.fetch(`${world.shopUrl}/api/answer`);
      assert.equal(next.status, 200);
      assert.equal(before - (await world.walletMicros()), answerMicros);
      assert.equal(client.payments.length, 2);
    });

    it('refuses a payment over budget with a clear error, before anything is paid', async () => {
      const client = mppxClient(world, { ...roomy, maxTotal: '0.03' });
      const url = `${world.shopUrl}/articles/8`;
      const first = await client.mppx.fetch(url, { context: { url } });
      assert.equal(first.status, 200);
      // Told the URL, the method counts the payment against that origin.
      assert.equal(client.payments[0]?.origin, new URL(world.shopUrl).origin);
      const before = await world.walletMicros();
      const dear = `${world.shopUrl}/articles/9`;
      await assert.rejects(client.mppx.fetch(dear, { context: { url: dear } }), (error) => {
        assert.ok(isMitePaymentError(error, 'overBudget'), String(error));
        assert.equal(error.limit, 'total');
        assert.match(error.message, /0\.03/);
        return true;
      });
      assert.equal(await world.walletMicros(), before, 'nothing moved');
      assert.equal(client.log.at(-1), 'GET /articles/9 402');
    });

    it('refuses a plain-http site off the loopback when told the URL, before paying', async () => {
      const client = mppxClient(world);
      const before = await world.walletMicros();
      await assert.rejects(
        client.mppx.fetch(`${world.shopUrl}/articles/10`, {
          context: { url: 'http://news.example/articles/10' },
        }),
        (error) => isMitePaymentError(error, 'insecureTransport'),
      );
      assert.equal(await world.walletMicros(), before);
    });
  });
}
