/**
 * Top-ups over real HTTP on loopback, per processor: none configured, the sandbox's webhook
 * verified over the raw bytes, and Stripe through the official client against a local stand-in.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, type TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import type { PlatformDialect } from '../db/platform-db.ts';
import { databaseUrlFor, forEachDialect } from '../db/testing.ts';
import { createPlatform, sandboxWebhookSecretFor } from '../platform.ts';
import type { FundingConfig } from './funding-config.ts';
import { sandboxCards } from './sandbox-provider.ts';
import {
  type FakeStripe,
  startFakeStripe,
  stripeTestPaymentMethods,
} from './test-stripe-server.ts';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function start(t: TestContext, backend: PlatformDialect, funding: FundingConfig) {
  // SQLite: the platform's own files in its data directory.
  const databaseUrl = backend === 'postgres' ? await databaseUrlFor(backend) : undefined;
  const masterKey = randomBytes(32);
  const platform = await createPlatform({
    dataDir: tempDir('mite-funding-'),
    ...(databaseUrl === undefined ? {} : { databaseUrl }),
    env: { MITE_MASTER_KEY: masterKey.toString('base64') },
    logger: pino({ level: 'silent' }),
    funding,
  });
  t.after(() => platform.close());
  const base = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  let keys = 0;
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${base}${path}`, { method: 'POST', headers, body });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) } as Answer;
  };
  const call = async (method: string, path: string, auth?: string, body?: unknown) => {
    const headers: Record<string, string> = { 'idempotency-key': `key-${++keys}` };
    if (auth !== undefined) headers.authorization = `Bearer ${auth}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text) } as Answer;
  };
  const credentials = { email: 'ada@example.com', password: 'a long passphrase' };
  assert.equal((await call('POST', '/v1/users', undefined, credentials)).status, 201);
  const session = await call('POST', '/v1/sessions', undefined, credentials);
  const user = String(session.body.token);
  const balance = async () => (await call('GET', '/v1/wallet', user)).body.balance;
  const topUpRows = () => platform.platformDb.db.selectFrom('topups').selectAll().execute();
  return { platform, call, post, user, balance, topUpRows, masterKey };
}

forEachDialect('funding', (backend, it) => {
  it('without a processor, a top-up is refused with fundingUnavailable and changes nothing', async (t) => {
    const env = await start(t, backend, { provider: 'none' });
    const refused = await env.call('POST', '/v1/topups', env.user, {
      amount: '10.00',
      card: { number: sandboxCards.succeeds, expMonth: 12, expYear: 2099, cvc: '123' },
    });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.type, '/v1/problems/funding-unavailable');
    assert.deepEqual(await env.topUpRows(), []);
    assert.equal(await env.balance(), '0.00');
    assert.equal(env.platform.funding.provider, 'none');
    const webhook = await env.post('/v1/funding/sandbox/webhooks', '{}', {
      'content-type': 'application/json',
    });
    assert.equal(webhook.status, 404, 'no processor, no webhook route');
  });

  it('verifies the sandbox webhook over the bytes received, not a re-serialisation', async (t) => {
    // The sandbox's own confirmation is pushed past the test: only the test's webhooks count.
    const env = await start(t, backend, { provider: 'sandbox', confirmDelayMs: 600_000 });
    const pending = await env.call('POST', '/v1/topups', env.user, {
      amount: '10.00',
      card: { number: sandboxCards.confirmsLater, expMonth: 12, expYear: 2099, cvc: '123' },
    });
    assert.equal(pending.body.state, 'pending');
    assert.equal(pending.body.sandbox, true);
    const [row] = await env.topUpRows();
    assert.ok(row?.charge_id);
    // Spacing, key order and a \u escape: valid JSON whose bytes are not JSON.stringify's.
    const raw = `{ "feeMicros" : "590000",\n  "chargeId": "${row.charge_id}", "type": "charge\\u002esucceeded" }`;
    const reserialised = JSON.stringify(JSON.parse(raw));
    assert.notEqual(raw, reserialised);
    const webhook = new Webhook(sandboxWebhookSecretFor(env.masterKey));
    const send = (signedOver: string, body: string) => {
      const at = new Date();
      return env.post('/v1/funding/sandbox/webhooks', body, {
        'content-type': 'application/json',
        'webhook-id': 'msg_test',
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': webhook.sign('msg_test', at, signedOver),
      });
    };
    const signedOverOtherBytes = await send(reserialised, raw);
    assert.equal(signedOverOtherBytes.status, 400, 'signed over bytes that were not sent');
    assert.equal(signedOverOtherBytes.body.type, '/v1/problems/invalid-signature');
    assert.equal(await env.balance(), '0.00');
    const signedOverSentBytes = await send(raw, raw);
    assert.equal(signedOverSentBytes.status, 204, JSON.stringify(signedOverSentBytes.body));
    assert.equal(await env.balance(), '10.00');
  });

  describe('Stripe', () => {
    const stripeFunding = (fake: FakeStripe): FundingConfig => ({
      provider: 'stripe',
      secretKey: fake.secretKey,
      webhookSecret: fake.webhookSecret,
      apiBaseUrl: fake.url,
      fee: { feeBasisPoints: 290, feeFixedMicros: 300_000n },
    });

    it('tops up with a PaymentMethod: credited once, fee booked, recorded as test mode', async (t) => {
      const fake = await startFakeStripe(t);
      const env = await start(t, backend, stripeFunding(fake));
      const body = { amount: '10.00', paymentMethod: stripeTestPaymentMethods.succeeds };
      const paid = await env.call('POST', '/v1/topups', env.user, body);
      assert.equal(paid.status, 201, JSON.stringify(paid.body));
      assert.deepEqual(
        [paid.body.state, paid.body.fee, paid.body.cardLast4, paid.body.provider],
        ['succeeded', '0.59', '4242', 'stripe'],
      );
      assert.equal(paid.body.sandbox, true, 'an sk_test_ key is test mode');
      assert.equal(await env.balance(), '10.00');
      const [created] = fake.requests;
      assert.equal(created?.form.get('amount'), '1000', 'cents');
      assert.equal(created?.form.get('confirm'), 'true');
      assert.equal(created?.idempotencyKey, paid.body.id, 'the top-up id is the key');
      // Its webhook, however often it comes, credits nothing more.
      const [intentId] = [...fake.intents.keys()];
      assert.ok(intentId);
      const event = fake.signedEvent('payment_intent.succeeded', intentId);
      for (let delivery = 0; delivery < 3; delivery++) {
        const answer = await env.post('/v1/funding/stripe/webhooks', event.body, {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': event.signature,
        });
        assert.equal(answer.status, 204, JSON.stringify(answer.body));
      }
      assert.equal(await env.balance(), '10.00');
      const cards = await env.call('POST', '/v1/topups', env.user, {
        amount: '10.00',
        card: { number: sandboxCards.succeeds, expMonth: 12, expYear: 2099, cvc: '123' },
      });
      assert.equal(cards.status, 400, 'Stripe takes no card numbers');
      const oddCents = await env.call('POST', '/v1/topups', env.user, {
        amount: '10.005',
        paymentMethod: stripeTestPaymentMethods.succeeds,
      });
      assert.equal(oddCents.status, 400);
      assert.match(String(oddCents.body.detail), /whole number of cents/);
      assert.equal(fake.requests.length, 1, 'neither reached Stripe');
    });

    it('a declined or unknown payment method changes nothing', async (t) => {
      const fake = await startFakeStripe(t);
      const env = await start(t, backend, stripeFunding(fake));
      const expected = [
        [stripeTestPaymentMethods.declines, '/v1/problems/card-declined'],
        [stripeTestPaymentMethods.insufficientFunds, '/v1/problems/card-insufficient-funds'],
        ['pm_card_nobodyKnowsThisOne', '/v1/problems/card-invalid'],
      ] as const;
      for (const [paymentMethod, type] of expected) {
        const declined = await env.call('POST', '/v1/topups', env.user, {
          amount: '10.00',
          paymentMethod,
        });
        assert.equal(declined.status, 422, JSON.stringify(declined.body));
        assert.equal(declined.body.type, type);
      }
      assert.equal(await env.balance(), '0.00');
      const rows = await env.topUpRows();
      assert.deepEqual(
        rows.map((row) => row.state),
        ['failed', 'failed', 'failed'],
      );
    });

    it('a pending PaymentIntent is credited once by its signed webhook; forged ones are refused', async (t) => {
      const fake = await startFakeStripe(t);
      const env = await start(t, backend, stripeFunding(fake));
      const pending = await env.call('POST', '/v1/topups', env.user, {
        amount: '20.00',
        paymentMethod: stripeTestPaymentMethods.needsAction,
      });
      assert.equal(pending.status, 201, JSON.stringify(pending.body));
      assert.equal(pending.body.state, 'pending');
      const [intentId] = [...fake.intents.keys()];
      assert.ok(intentId);
      const event = fake.settle(intentId, 'succeeded');
      const deliver = (body: string, signature: string) =>
        env.post('/v1/funding/stripe/webhooks', body, {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signature,
        });
      const oneByteOff = event.body.replace('"amount": 2000', '"amount": 2001');
      assert.notEqual(oneByteOff, event.body);
      const forged = fake.signedEvent('payment_intent.succeeded', intentId, {
        secret: `whsec_${randomBytes(24).toString('hex')}`,
      });
      const stale = fake.signedEvent('payment_intent.succeeded', intentId, {
        atS: Math.floor(Date.now() / 1000) - 3600,
      });
      for (const [body, signature] of [
        [oneByteOff, event.signature],
        [forged.body, forged.signature],
        [stale.body, stale.signature],
        [event.body, ''],
      ] as const) {
        const refused = await deliver(body, signature);
        assert.equal(refused.status, 400);
        assert.equal(refused.body.type, '/v1/problems/invalid-signature');
      }
      assert.equal(await env.balance(), '0.00');
      // The same event delivered at once, several times: the database credits it once.
      const answers = await Promise.all([1, 2, 3].map(() => deliver(event.body, event.signature)));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [204, 204, 204],
      );
      assert.equal(await env.balance(), '20.00');
      const done = await env.call('GET', `/v1/topups/${String(pending.body.id)}`, env.user);
      assert.deepEqual([done.body.state, done.body.fee], ['succeeded', '0.88']);
      // An event about something else on the account is acknowledged and ignored.
      const other = fake.signedEvent('charge.refunded', intentId);
      assert.equal((await deliver(other.body, other.signature)).status, 204);
      assert.equal(await env.balance(), '20.00');
    });

    it('refunds a charge through the Refunds API, once per idempotency key', async (t) => {
      const fake = await startFakeStripe(t);
      const env = await start(t, backend, stripeFunding(fake));
      const paid = await env.call('POST', '/v1/topups', env.user, {
        amount: '10.00',
        paymentMethod: stripeTestPaymentMethods.succeeds,
      });
      assert.equal(paid.status, 201);
      const [row] = await env.topUpRows();
      assert.ok(row?.charge_id);
      const provider = env.platform.services.fundingProvider;
      assert.ok(provider);
      const request = { chargeId: row.charge_id, amountMicros: 2_500_000n, idempotencyKey: 'r1' };
      const first = await provider.refund(request);
      const again = await provider.refund(request);
      assert.equal(again.refundId, first.refundId);
      assert.deepEqual(fake.refunds, [
        { id: first.refundId, payment_intent: row.charge_id, amount: 250 },
      ]);
    });
  });
});
