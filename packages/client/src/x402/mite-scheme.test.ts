/**
 * The x402 scheme client against the loopback test platform and merchant, driven through the
 * stock `x402Client` of `@x402/fetch` 2.27.0 (the interop test over a real platform and paywall is
 * the middleware's x402-fetch.test.ts). What is checked here: one payment per challenge, the
 * payload a Mite paywall reads, and every refusal made before the platform is called.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decodeCredentialJson, x402NetworkOf } from '@mite/protocol';
import { type PaymentRequired, x402Client, x402HTTPClient } from '@x402/fetch';
import { isMitePaymentError, type MitePaymentErrorCode } from '../index.ts';
import type { TestMerchant } from '../testing/test-merchant.ts';
import { roomyBudget, startWorld, walletToken, type World } from '../testing/world.ts';
import { type MiteScheme, miteScheme, type MiteSchemeOptions } from './index.ts';

let world: World;
let merchant: TestMerchant;

beforeEach(async () => {
  world = await startWorld();
  merchant = await world.merchant({
    '/articles/1': { price: '0.02', x402Only: true },
    '/elsewhere': { price: '0.02', x402Only: true, platform: 'https://pay.elsewhere.example' },
  });
});

afterEach(async () => {
  await world.close();
});

function scheme(options: Partial<MiteSchemeOptions> = {}): MiteScheme {
  return miteScheme({
    wallet: { platformUrl: world.platform.url, token: walletToken },
    budget: roomyBudget,
    clock: world.clock.nowMs,
    platformRetry: { attempts: 1, delayMs: 5, timeoutMs: 5_000 },
    ...options,
  });
}

/** The merchant's 402 for a path, decoded as @x402/fetch decodes it. */
async function paymentRequiredOf(path: string): Promise<PaymentRequired> {
  const response = await fetch(`${merchant.url}${path}`);
  assert.equal(response.status, 402);
  await response.body?.cancel();
  const reader = new x402HTTPClient(new x402Client());
  return reader.getPaymentRequiredResponse((name) => response.headers.get(name));
}

async function rejectsWith(promise: Promise<unknown>, code: MitePaymentErrorCode) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMitePaymentError(error), `expected a MitePaymentError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} refusal`);
}

describe('miteScheme: an x402 scheme client', () => {
  it("pays through the wallet's platform and returns the Mite credential as the payload", async () => {
    const mite = scheme();
    const client = new x402Client().register('mite:*', mite);
    const required = await paymentRequiredOf('/articles/1');
    const payload = await client.createPaymentPayload(required);
    assert.equal(payload.x402Version, 2);
    assert.equal(payload.accepted.network, x402NetworkOf(world.platform.url));
    const credential = decodeCredentialJson(payload.payload);
    assert.ok(credential.ok, credential.ok ? '' : credential.detail);
    const [payment] = world.platform.payments;
    assert.equal(world.platform.payments.length, 1);
    assert.equal(credential.value.challenge.id, payment?.challengeId);
    assert.equal(world.platform.balanceOf(walletToken), 10_000_000n - 20_000n);
    assert.equal(mite.spent().byOrigin[merchant.url], 20_000n);
  });

  it('pays a challenge once, however often and however concurrently it is asked', async () => {
    const mite = scheme();
    const client = new x402Client().register('mite:*', mite);
    const required = await paymentRequiredOf('/articles/1');
    const payloads = await Promise.all([1, 2, 3].map(() => client.createPaymentPayload(required)));
    // x402's "recovered" path asks again for the same 402 after paying.
    payloads.push(await client.createPaymentPayload(required));
    assert.equal(world.platform.payments.length, 1);
    for (const payload of payloads) assert.deepEqual(payload.payload, payloads[0]?.payload);
    assert.equal(mite.spent().totalMicros, 20_000n);
  });

  it('recognises only its own asset for x402 spend caps: US dollars in micro-units', () => {
    const mite = scheme();
    const network = x402NetworkOf(world.platform.url);
    assert.deepEqual(mite.findDefaultAsset('usd', network), {
      asset: 'usd',
      decimals: 6,
      symbol: 'USD',
    });
    assert.equal(mite.findDefaultAsset('eur', network), undefined);
    assert.equal(mite.findDefaultAsset('usd', 'eip155:8453'), undefined);
    const euros = scheme({
      wallet: { platformUrl: world.platform.url, token: walletToken, currency: 'EUR' },
    });
    assert.equal(euros.findDefaultAsset('eur', network), undefined);
  });

  describe('refuses before the platform is called', () => {
    it('a requirement of another platform, even one whose network was forged', async () => {
      const mite = scheme();
      const required = await paymentRequiredOf('/elsewhere');
      const requirements = required.accepts[0];
      assert.ok(requirements !== undefined);
      await rejectsWith(mite.createPaymentPayload(2, requirements), 'untrustedPlatform');
      // The network says ours, the challenge inside names another platform: they disagree.
      const forged = { ...requirements, network: mite.network };
      await rejectsWith(mite.createPaymentPayload(2, forged), 'badChallenge');
      assert.equal(world.platform.attempts.length, 0);
    });

    it('a payment when the x402 client did not say which URL asks', async () => {
      const required = await paymentRequiredOf('/articles/1');
      const requirements = required.accepts[0];
      assert.ok(requirements !== undefined);
      await rejectsWith(scheme().createPaymentPayload(2, requirements), 'badChallenge');
      assert.equal(world.platform.attempts.length, 0);
    });

    it('a site on plain http that is not on the loopback', async () => {
      const client = new x402Client().register('mite:*', scheme());
      const required = await paymentRequiredOf('/articles/1');
      const remote = { ...required, resource: { url: 'http://news.example/articles/1' } };
      await rejectsWith(client.createPaymentPayload(remote), 'insecureTransport');
      assert.equal(world.platform.attempts.length, 0);
    });

    it("a price above x402's spend cap, which the x402 client hands to the scheme", async () => {
      const required = await paymentRequiredOf('/articles/1');
      const requirements = required.accepts[0];
      assert.ok(requirements !== undefined);
      const capped = scheme().createPaymentPayload(2, requirements, {
        maxAmountPerPayment: '19999',
      });
      const error = await rejectsWith(capped, 'overBudget');
      assert.equal(error.limit, 'perPayment');
      assert.equal(world.platform.attempts.length, 0);
      // A cap of exactly the price lets it through.
      const client = new x402Client().register('mite:*', scheme());
      client.setSpendControls({
        allowedAssets: [{ network: 'mite:*', asset: 'usd', maxAmountPerPayment: '20000' }],
      });
      await client.createPaymentPayload(required);
      assert.equal(world.platform.payments.length, 1);
    });

    it('an expired challenge and an x402 version other than 2', async () => {
      const client = new x402Client().register('mite:*', scheme());
      const required = await paymentRequiredOf('/articles/1');
      world.clock.advanceSeconds(3_600);
      await rejectsWith(client.createPaymentPayload(required), 'badChallenge');
      const requirements = required.accepts[0];
      assert.ok(requirements !== undefined);
      await rejectsWith(scheme().createPaymentPayload(1, requirements), 'badChallenge');
      assert.equal(world.platform.attempts.length, 0);
    });
  });
});
