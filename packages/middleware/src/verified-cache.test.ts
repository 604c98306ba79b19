import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  type Challenge,
  clockSkewSecondsMax,
  formatCredentialHeader,
  parseCredentialHeader,
  problemTable,
  toX402PaymentPayload,
  encodeX402Header,
} from '@mite/protocol';
import {
  createPaywallWith,
  type Paywall,
  type PaywallOptions,
  type PaywallOutcome,
  singleUseRedeemGraceSeconds,
} from './core.ts';
import type { ReceiptVerifier } from './receipt-verifier.ts';
import {
  challengeOf,
  createSigningKey,
  createTestClock,
  signReceipt,
  startTestPlatform,
  type TestClock,
  type TestPlatform,
  testRoutes,
  testSecret,
} from './test-platform.ts';
import {
  createVerifiedCache,
  credentialKeyTailLength,
  credentialKeyTextLengthMax,
  verifiedCacheSizeMax,
} from './verified-cache.ts';

interface Setup {
  readonly platform: TestPlatform;
  readonly clock: TestClock;
  readonly paywall: Paywall;
  /** Receipt signatures checked so far (cache misses that got as far as the receipt). */
  readonly verifications: () => number;
  /** Verified credentials cached now. */
  readonly cacheSize: () => number;
}

async function setUp(t: TestContext, options: Partial<PaywallOptions> = {}): Promise<Setup> {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const clock = createTestClock();
  let verifications = 0;
  let cache: { readonly size: number } = { size: 0 };
  const counting = (verifier: ReceiptVerifier): ReceiptVerifier => ({
    ...verifier,
    verifyKeyed(jws) {
      verifications += 1;
      return verifier.verifyKeyed(jws);
    },
  });
  const paywall = createPaywallWith(
    {
      merchantId: 'mer_test',
      realm: 'shop.test',
      platformUrl: platform.url,
      challengeSecret: testSecret,
      clock: clock.nowMs,
      routes: testRoutes,
      ...options,
    },
    { wrapVerifier: counting, onVerifiedCache: (view) => void (cache = view) },
  );
  return {
    platform,
    clock,
    paywall,
    verifications: () => verifications,
    cacheSize: () => cache.size,
  };
}

function verdictOf(outcome: PaywallOutcome): string {
  return outcome.kind === 'error' ? outcome.code : outcome.kind;
}

async function challengeFor(setup: Setup, url: string): Promise<Challenge> {
  const outcome = await setup.paywall.handle({ method: 'GET', url, headers: {} });
  assert.ok(outcome.kind === 'paymentRequired', `expected a 402, got ${verdictOf(outcome)}`);
  return challengeOf(outcome.headers, setup.clock.nowSeconds());
}

async function paidCredential(setup: Setup, url: string): Promise<string> {
  const challenge = await challengeFor(setup, url);
  return setup.platform.pay(challenge, { issuedAtSeconds: setup.clock.nowSeconds() });
}

async function present(setup: Setup, url: string, authorization: string): Promise<string> {
  const outcome = await setup.paywall.handle({ method: 'GET', url, headers: { authorization } });
  if (outcome.kind === 'paid') outcome.settle(200);
  if (outcome.kind === 'error') {
    assert.equal(outcome.status, problemTable[outcome.code as keyof typeof problemTable].status);
  }
  return verdictOf(outcome);
}

describe('the cache of verified credentials', () => {
  it('verifies a ticket once, however often it is shown, and answers the same each time', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/1');
    const outcomes: PaywallOutcome[] = [];
    for (let index = 0; index < 5; index += 1) {
      const outcome = await setup.paywall.handle({
        method: 'GET',
        url: '/articles/1',
        headers: { authorization },
      });
      assert.ok(outcome.kind === 'paid' && !outcome.singleUse);
      outcome.settle(200);
      outcomes.push(outcome);
      setup.clock.advanceSeconds(3600);
    }
    assert.equal(setup.verifications(), 1);
    assert.equal(setup.cacheSize(), 1);
    const [first, ...later] = outcomes;
    for (const outcome of later) {
      assert.ok(outcome.kind === 'paid' && first?.kind === 'paid');
      assert.deepEqual(outcome.receipt, first.receipt);
      assert.deepEqual(outcome.responseHeaders, first.responseHeaders);
    }
    assert.ok(first?.kind === 'paid' && Object.isFrozen(first.receipt));
  });

  it('keys entries by the exact text and header: the same receipt as x402 is verified anew', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/2');
    assert.equal(await present(setup, '/articles/2', authorization), 'paid');
    const credential = parseCredentialHeader(authorization);
    assert.ok(credential.ok);
    const signature = encodeX402Header(toX402PaymentPayload(credential.value));
    for (let index = 0; index < 2; index += 1) {
      const outcome = await setup.paywall.handle({
        method: 'GET',
        url: '/articles/2',
        headers: { 'payment-signature': signature },
      });
      assert.ok(outcome.kind === 'paid');
      assert.ok(outcome.responseHeaders['PAYMENT-RESPONSE'] !== undefined);
    }
    assert.equal(setup.verifications(), 2);
    assert.equal(setup.cacheSize(), 2);
  });

  it('still refuses a cached single-use credential the second time: the replay store is asked', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    assert.equal(await present(setup, '/api/quote', authorization), 'paid');
    assert.equal(setup.cacheSize(), 1);
    assert.equal(await present(setup, '/api/quote', authorization), 'receiptReplayed');
    assert.equal(await present(setup, '/api/quote', authorization), 'receiptReplayed');
    assert.equal(setup.verifications(), 1, 'the refusals came from the cached entry');
  });

  it('gives a cached single-use receipt back after a 5xx, once, and refuses it afterwards', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const get = { method: 'GET', url: '/api/quote', headers: { authorization } };
    const failed = await setup.paywall.handle(get);
    assert.ok(failed.kind === 'paid');
    failed.settle(502);
    const retried = await setup.paywall.handle(get);
    assert.ok(retried.kind === 'paid');
    retried.settle(200);
    assert.equal(verdictOf(await setup.paywall.handle(get)), 'receiptReplayed');
    assert.equal(setup.verifications(), 1);
  });

  it('refuses a cached ticket once its accessUntil has passed', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/7');
    assert.equal(await present(setup, '/articles/7', authorization), 'paid');
    setup.clock.advanceSeconds(86_399);
    assert.equal(await present(setup, '/articles/7', authorization), 'paid');
    assert.equal(setup.verifications(), 1);
    setup.clock.advanceSeconds(1);
    assert.equal(await present(setup, '/articles/7', authorization), 'accessExpired');
    // The entry died with the access period: it is neither served nor stored again.
    assert.equal(setup.cacheSize(), 0);
    assert.equal(await present(setup, '/articles/7', authorization), 'accessExpired');
  });

  it('refuses a cached single-use receipt after its redemption deadline', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const outcome = await setup.paywall.handle({
      method: 'GET',
      url: '/api/quote',
      headers: { authorization },
    });
    assert.ok(outcome.kind === 'paid');
    outcome.settle(500); // given back, so only the times can refuse it now
    setup.clock.advanceSeconds(300 + clockSkewSecondsMax + singleUseRedeemGraceSeconds - 1);
    assert.equal(setup.cacheSize(), 1);
    setup.clock.advanceSeconds(1);
    assert.equal(await present(setup, '/api/quote', authorization), 'accessExpired');
  });

  it('still checks the current price, resource and merchant for a cached credential', async (t) => {
    let price = '0.05';
    const setup = await setUp(t, {
      routes: [
        { method: 'GET', path: '/metered', price: () => price, accessPeriodSeconds: 3600 },
        { method: 'GET', path: '/other', price: '0.05', accessPeriodSeconds: 3600 },
      ],
    });
    const authorization = await paidCredential(setup, '/metered');
    assert.equal(await present(setup, '/metered', authorization), 'paid');
    price = '0.06';
    assert.equal(await present(setup, '/metered', authorization), 'wrongAmount');
    assert.equal(await present(setup, '/other', authorization), 'wrongResource');
    price = '0.050';
    assert.equal(await present(setup, '/metered', authorization), 'paid');
    assert.equal(setup.verifications(), 1, 'every verdict after the first came from the cache');
  });

  it('does not cache a credential that fails its checks', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/articles/4');
    const claims = setup.platform.claimsFor(challenge, setup.clock.nowSeconds());
    const stranger = await createSigningKey();
    const forged = formatCredentialHeader({
      challenge,
      payload: {
        receipt: await signReceipt(claims, stranger, { kid: setup.platform.signingKey.kid }),
      },
    });
    assert.equal(await present(setup, '/articles/4', forged), 'receiptInvalid');
    assert.equal(await present(setup, '/articles/4', forged), 'receiptInvalid');
    assert.equal(setup.verifications(), 2);
    assert.equal(setup.cacheSize(), 0);
  });

  it('drops the credentials of a withdrawn key when the JWKS is refreshed', async (t) => {
    const setup = await setUp(t, { jwksRefreshIntervalMinMs: 60_000 });
    const oldKey = setup.platform.signingKey;
    const ticket = await paidCredential(setup, '/articles/5');
    assert.equal(await present(setup, '/articles/5', ticket), 'paid');
    assert.equal(setup.cacheSize(), 1);
    // The platform rotates and withdraws the old key: the next unknown kid refreshes the JWKS.
    const newKey = await createSigningKey();
    setup.platform.publish([newKey]);
    setup.platform.signWith(newKey);
    setup.clock.advanceSeconds(60);
    const fresh = await paidCredential(setup, '/articles/6');
    assert.equal(await present(setup, '/articles/6', fresh), 'paid');
    assert.equal(setup.platform.jwksRequests, 2);
    assert.equal(setup.cacheSize(), 1, 'only the new key’s credential is left');
    const before = setup.verifications();
    assert.equal(await present(setup, '/articles/5', ticket), 'unknownKey');
    assert.equal(setup.verifications(), before + 1, 'the old ticket was verified anew');
    assert.equal(setup.platform.signingKey.kid, newKey.kid);
    assert.notEqual(oldKey.kid, newKey.kid);
  });

  it('drops a credential whose key id now names another key, and keeps all on a failed refresh', async (t) => {
    const setup = await setUp(t, { jwksRefreshIntervalMinMs: 1000 });
    const original = setup.platform.signingKey;
    const ticket = await paidCredential(setup, '/articles/8');
    assert.equal(await present(setup, '/articles/8', ticket), 'paid');
    // A refresh that fails keeps the keys, and so the cached credentials.
    setup.platform.setDown(true);
    setup.platform.signWith(await createSigningKey());
    setup.clock.advanceSeconds(1);
    assert.equal(
      await present(setup, '/articles/9', await paidCredential(setup, '/articles/9')),
      'unknownKey',
    );
    assert.equal(setup.cacheSize(), 1);
    assert.equal(await present(setup, '/articles/8', ticket), 'paid');
    // A JWKS that publishes another key under the same id replaces the key: the entry goes.
    setup.platform.setDown(false);
    const impostor = await createSigningKey();
    setup.platform.publish([
      { ...impostor, kid: original.kid, publicJwk: { ...impostor.publicJwk, kid: original.kid } },
      impostor,
    ]);
    setup.platform.signWith(impostor);
    setup.clock.advanceSeconds(1);
    assert.equal(
      await present(setup, '/articles/10', await paidCredential(setup, '/articles/10')),
      'paid',
    );
    assert.equal(setup.cacheSize(), 1);
    assert.equal(await present(setup, '/articles/8', ticket), 'receiptInvalid');
  });

  it('is off with verifiedCacheSizeMax 0: every showing is verified', async (t) => {
    const setup = await setUp(t, { verifiedCacheSizeMax: 0 });
    const authorization = await paidCredential(setup, '/articles/1');
    for (let index = 0; index < 3; index += 1) {
      assert.equal(await present(setup, '/articles/1', authorization), 'paid');
    }
    assert.equal(setup.verifications(), 3);
    assert.equal(setup.cacheSize(), 0);
    await assert.rejects(async () => setUp(t, { verifiedCacheSizeMax: -1 }), RangeError);
  });
});

describe('createVerifiedCache', () => {
  const entry = (expiresAtSeconds: number, name = '') => ({ expiresAtSeconds, name });
  type Entry = ReturnType<typeof entry>;
  // Texts with distinct tails, as credentials (each ending in its own receipt signature) have.
  const text = (name: string) =>
    `Payment ${'a'.repeat(100)}${name.repeat(credentialKeyTailLength)}`;

  it('holds at most sizeMax entries and forgets the least recently used', () => {
    const cache = createVerifiedCache<Entry>(3);
    for (const name of ['a', 'b', 'c']) cache.set('authorization', text(name), entry(100, name));
    assert.equal(cache.get('authorization', text('a'), 0)?.name, 'a'); // now the most recent
    cache.set('authorization', text('d'), entry(100, 'd'));
    assert.equal(cache.size, 3);
    assert.equal(cache.get('authorization', text('b'), 0), undefined);
    assert.deepEqual(
      ['a', 'c', 'd'].map((name) => cache.get('authorization', text(name), 0)?.name),
      ['a', 'c', 'd'],
    );
  });

  it('does not return an entry at or after its expiry, and drops it', () => {
    const cache = createVerifiedCache<Entry>();
    cache.set('authorization', text('a'), entry(100));
    assert.ok(cache.get('authorization', text('a'), 99) !== undefined);
    assert.equal(cache.get('authorization', text('a'), 100), undefined);
    assert.equal(cache.size, 0);
  });

  it('answers only the exact text, from the same header', () => {
    const cache = createVerifiedCache<Entry>();
    const stored = text('a');
    cache.set('authorization', stored, entry(100, 'stored'));
    const sameTail = `Payment ${'b'.repeat(100)}${'a'.repeat(credentialKeyTailLength)}`;
    assert.equal(sameTail.slice(-credentialKeyTailLength), stored.slice(-credentialKeyTailLength));
    assert.equal(cache.get('authorization', sameTail, 0), undefined);
    assert.equal(cache.get('x402', stored, 0), undefined);
    assert.equal(cache.get('authorization', ` ${stored}`, 0), undefined);
    assert.equal(cache.get('authorization', `${stored} `.trim(), 0)?.name, 'stored');
    cache.delete('authorization', sameTail); // not this text's entry: kept
    assert.equal(cache.size, 1);
    // One slot per tail: the later text replaces the earlier.
    cache.set('authorization', sameTail, entry(100, 'same tail'));
    assert.equal(cache.get('authorization', stored, 0), undefined);
    assert.equal(cache.get('authorization', sameTail, 0)?.name, 'same tail');
    cache.set('x402', sameTail, entry(100, 'x402'));
    assert.equal(cache.size, 1);
    assert.equal(cache.get('authorization', sameTail, 0), undefined);
    assert.equal(cache.get('x402', sameTail, 0)?.name, 'x402');
  });

  it('compares long texts by their hash, still exactly', () => {
    const cache = createVerifiedCache<Entry>();
    const long = `Payment ${'a'.repeat(credentialKeyTextLengthMax)}z`;
    cache.set('authorization', long, entry(100, 'long'));
    assert.equal(cache.get('authorization', `${long}`, 0)?.name, 'long');
    assert.equal(cache.get('authorization', `Payment b${long.slice(9)}`, 0), undefined);
    assert.equal(cache.get('authorization', long.slice(1), 0), undefined);
  });

  it('keeps only what retain keeps, and stores nothing at size 0', () => {
    const cache = createVerifiedCache<Entry>();
    for (const name of ['a', 'b', 'c']) cache.set('authorization', text(name), entry(100, name));
    cache.retain((held) => held.name !== 'b');
    assert.equal(cache.size, 2);
    assert.equal(cache.get('authorization', text('b'), 0), undefined);
    const off = createVerifiedCache<Entry>(0);
    off.set('authorization', text('a'), entry(100));
    assert.equal(off.get('authorization', text('a'), 0), undefined);
    assert.throws(() => createVerifiedCache(1.5), RangeError);
    assert.equal(verifiedCacheSizeMax, 10_000);
  });
});
