import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from '@x402/core/http';
import { PaymentRequiredV2Schema } from '@x402/core/schemas';
import {
  type Challenge,
  challengeEcho,
  chargeRequest,
  clockSkewSecondsMax,
  encodeBase64url,
  encodeBase64urlJson,
  formatCredentialHeader,
  parseCredentialHeader,
  parsePaymentReceiptHeader,
  caip2Pattern,
  parsePriceList,
  problemTable,
  toX402PaymentPayload,
  x402NetworkOf,
} from '@mite/protocol';
import {
  createPaywall,
  encodedJsonLength,
  type Paywall,
  type PaywallOutcome,
  singleUseRedeemGraceSeconds,
} from './core.ts';
import {
  challengeOf,
  createSigningKey,
  createTestClock,
  signReceipt,
  startTestPlatform,
  type TestClock,
  type TestPlatform,
  testPaywall,
  testRoutes,
  testSecret,
} from './test-platform.ts';

interface Setup {
  readonly platform: TestPlatform;
  readonly clock: TestClock;
  readonly paywall: Paywall;
}

async function setUp(
  t: TestContext,
  options: Parameters<typeof testPaywall>[2] = {},
): Promise<Setup> {
  const platform = await startTestPlatform();
  t.after(() => platform.close());
  const clock = createTestClock();
  return { platform, clock, paywall: testPaywall(platform, clock, options) };
}

function get(url: string, headers: Record<string, string> = {}): Parameters<Paywall['handle']>[0] {
  return { method: 'GET', url, headers };
}

/** The outcome's kind, or for an error its code: what most assertions compare. */
function verdictOf(outcome: PaywallOutcome): string {
  return outcome.kind === 'error' ? outcome.code : outcome.kind;
}

async function challengeFor({ paywall, clock }: Setup, url: string): Promise<Challenge> {
  const outcome = await paywall.handle(get(url));
  assert.ok(outcome.kind === 'paymentRequired', `expected a 402, got ${verdictOf(outcome)}`);
  return challengeOf(outcome.headers, clock.nowSeconds());
}

async function paidCredential(setup: Setup, url: string): Promise<string> {
  const challenge = await challengeFor(setup, url);
  return setup.platform.pay(challenge, { issuedAtSeconds: setup.clock.nowSeconds() });
}

async function present(setup: Setup, url: string, authorization: string): Promise<PaywallOutcome> {
  return setup.paywall.handle(get(url, { authorization }));
}

/**
 * A refusal's 402: the draft's problem type with Mite's code, and a fresh challenge to pay again,
 * whose id the problem names.
 */
function assertRefusal(outcome: PaywallOutcome, code: keyof typeof problemTable): void {
  assert.ok(outcome.kind === 'error', `expected ${code}, got ${verdictOf(outcome)}`);
  assert.equal(outcome.code, code);
  assert.equal(outcome.status, problemTable[code].status);
  const problem = JSON.parse(outcome.body) as Record<string, unknown>;
  assert.equal(problem['type'], problemTable[code].type);
  assert.equal(problem['miteCode'], code);
  assert.equal(outcome.headers['Content-Type'], 'application/problem+json');
  const fresh = outcome.headers['WWW-Authenticate'];
  assert.equal(fresh !== undefined, outcome.status === 402);
  if (fresh !== undefined) {
    assert.equal(problem['challengeId'], /id="([^"]+)"/.exec(fresh)?.[1]);
  } else {
    assert.equal('challengeId' in problem, false);
  }
}

/** A request nothing can be sold for: a 400 bad-request with Mite's code, and no challenge. */
function assertNotSold(outcome: PaywallOutcome, code: keyof typeof problemTable): void {
  assert.ok(outcome.kind === 'error', `expected ${code}, got ${verdictOf(outcome)}`);
  assert.equal(outcome.code, code);
  assert.equal(outcome.status, 400);
  const problem = JSON.parse(outcome.body) as Record<string, unknown>;
  assert.equal(problem['type'], 'https://paymentauth.org/problems/bad-request');
  assert.equal(problem['miteCode'], code);
  assert.equal(outcome.headers['WWW-Authenticate'], undefined);
}

describe('the 402 answer', () => {
  it('lets unpriced routes through', async (t) => {
    const { paywall } = await setUp(t);
    assert.deepEqual(await paywall.handle(get('/about')), { kind: 'free' });
    assert.deepEqual(await paywall.handle({ method: 'POST', url: '/articles/1', headers: {} }), {
      kind: 'free',
    });
  });

  it('lets a request through untouched when the price function says it is not priced', async (t) => {
    const { paywall } = await setUp(t, {
      routes: [
        {
          method: 'GET',
          path: '/articles/:id',
          price: ({ params }) => (params.id === '42' ? '0.02' : undefined),
        },
      ],
    });
    assert.deepEqual(await paywall.handle(get('/articles/7')), { kind: 'free' });
    // Even a target the wire could not carry: an unpriced request is not the paywall's business.
    assert.deepEqual(await paywall.handle(get('/articles/caf\u00e9')), { kind: 'free' });
    assert.equal((await paywall.handle(get('/articles/42'))).kind, 'paymentRequired');
  });

  it('answers 406, with no challenge, a client whose Accept-Payment refuses mite/charge', async (t) => {
    const { paywall } = await setUp(t, { x402: 'always' });
    const refused = await paywall.handle(get('/articles/42', { 'accept-payment': 'tempo/charge' }));
    assert.ok(refused.kind === 'notAcceptable', verdictOf(refused));
    assert.equal(refused.status, 406);
    assert.equal(refused.headers['WWW-Authenticate'], undefined);
    assert.equal(refused.headers['PAYMENT-REQUIRED'], undefined);
    assert.equal(refused.headers['Content-Type'], 'application/problem+json');
    assert.deepEqual(JSON.parse(refused.body), refused.problem);
    assert.equal(refused.problem.status, 406);
    assert.match(refused.problem.detail, /mite\/charge/);
    for (const accepted of ['mite/charge', '*/*', 'tempo/charge, mite/*;q=0.2', 'not a range']) {
      const outcome = await paywall.handle(get('/articles/42', { 'accept-payment': accepted }));
      assert.equal(outcome.kind, 'paymentRequired', accepted);
    }
    // A free route, and a request that presents a credential, are not asked.
    const free = await paywall.handle(get('/about', { 'accept-payment': 'tempo/charge' }));
    assert.equal(free.kind, 'free');
    const presented = await paywall.handle(
      get('/articles/42', { 'accept-payment': 'tempo/charge', authorization: 'Payment x' }),
    );
    assert.equal(presented.kind, 'error');
  });

  it('answers a priced request with a challenge whose request names what is sold', async (t) => {
    const setup = await setUp(t);
    const outcome = await setup.paywall.handle(get('/articles/42?lang=fr'));
    assert.ok(outcome.kind === 'paymentRequired');
    assert.equal(outcome.status, 402);
    assert.equal(outcome.headers['Cache-Control'], 'no-store');
    assert.equal(outcome.headers['Content-Type'], 'application/problem+json');
    // Stock x402 clients send no hint, so every 402 carries the envelope unless turned off.
    const required = decodePaymentRequiredHeader(outcome.headers['PAYMENT-REQUIRED'] ?? '');
    assert.equal(required.error, undefined);
    assert.equal(JSON.parse(outcome.body).type, problemTable.paymentRequired.type);
    const challenge = challengeOf(outcome.headers, setup.clock.nowSeconds());
    // The charge intent's shape: the price in micro-units, Mite's own fields under methodDetails.
    assert.deepEqual(challenge.request, {
      amount: '20000',
      currency: 'usd',
      recipient: 'mer_test',
      description: 'An article',
      methodDetails: {
        platform: setup.platform.url,
        resource: '/articles/42?lang=fr',
        category: 'news',
        accessPeriodSeconds: 86_400,
        decimals: 6,
      },
    });
    assert.equal(challenge.realm, 'shop.test');
    assert.equal(challenge.expiresAtSeconds, setup.clock.nowSeconds() + 300);
    assert.equal(challenge.description, 'An article');
  });

  it('names the platform offer a route sells in its challenges, and refuses an id the wire cannot carry', async (t) => {
    const setup = await setUp(t, {
      routes: [
        { method: 'GET', path: '/gems/100', price: '0.99', category: 'goods', offer: 'off_1' },
      ],
    });
    const outcome = await setup.paywall.handle(get('/gems/100?order=7'));
    assert.ok(outcome.kind === 'paymentRequired');
    const { methodDetails } = challengeOf(outcome.headers, setup.clock.nowSeconds()).request;
    assert.equal(methodDetails.offer, 'off_1');
    assert.equal(methodDetails.resource, '/gems/100?order=7');
    const base = {
      merchantId: 'mer_1',
      realm: 'shop',
      platformUrl: 'https://pay.example',
      challengeSecret: testSecret,
    };
    const route = { method: 'GET', path: '/a', price: '0.01' };
    assert.throws(
      () => createPaywall({ ...base, routes: [{ ...route, offer: 'not an id' }] }),
      RangeError,
    );
  });

  it('says in its problem who sells, where to pay, and the mite pay line that buys it', async (t) => {
    const setup = await setUp(t);
    const local = await setup.paywall.handle(get('/articles/42', { host: '127.0.0.1:4000' }));
    assert.ok(local.kind === 'paymentRequired');
    const problem = JSON.parse(local.body) as Record<string, unknown>;
    assert.deepEqual(problem, local.problem);
    assert.equal(problem.merchant, 'shop.test');
    assert.equal(problem.merchantId, 'mer_test');
    assert.equal(problem.platform, setup.platform.url);
    assert.equal(problem.payCommand, 'mite pay http://127.0.0.1:4000/articles/42');
    assert.equal(
      problem.detail,
      `/articles/42 costs 0.02 USD from shop.test. Pay through the Mite platform at ` +
        `${setup.platform.url}, for example with \`mite pay http://127.0.0.1:4000/articles/42\`.`,
    );
    // Anywhere but the loopback, the site must be on https for a Mite client to pay it.
    const remote = await setup.paywall.handle(get('/articles/42', { host: 'shop.example' }));
    assert.ok(remote.kind === 'paymentRequired');
    assert.equal(JSON.parse(remote.body).payCommand, 'mite pay https://shop.example/articles/42');
    // A Host that is not a host is not echoed back.
    const odd = await setup.paywall.handle(get('/articles/42', { host: 'a b<script>' }));
    assert.ok(odd.kind === 'paymentRequired');
    assert.equal(JSON.parse(odd.body).payCommand, undefined);
    assert.match(JSON.parse(odd.body).detail, /`mite pay` and its URL/);
    // With an origin, the resource is the URL, whatever Host says.
    const sited = await setUp(t, { origin: 'https://news.example' });
    const withOrigin = await sited.paywall.handle(get('/articles/1', { host: 'evil.example' }));
    assert.ok(withOrigin.kind === 'paymentRequired');
    assert.equal(
      JSON.parse(withOrigin.body).payCommand,
      'mite pay https://news.example/articles/1',
    );
  });

  it('prefixes the resource with the origin when one is configured', async (t) => {
    const setup = await setUp(t, { origin: 'https://shop.example' });
    const challenge = await challengeFor(setup, '/articles/42');
    assert.equal(challenge.request.methodDetails.resource, 'https://shop.example/articles/42');
    const paid = await present(
      setup,
      '/articles/42',
      await setup.platform.pay(challenge, {
        issuedAtSeconds: setup.clock.nowSeconds(),
      }),
    );
    assert.equal(paid.kind, 'paid');
  });

  it('treats another Authorization scheme as no payment, and a malformed one as a 402 with a fresh challenge', async (t) => {
    const setup = await setUp(t);
    assert.equal(verdictOf(await present(setup, '/api/quote', 'Bearer abc')), 'paymentRequired');
    const malformed = await present(setup, '/api/quote', 'Payment !!!');
    assertRefusal(malformed, 'malformedHeader');
    assert.equal(
      JSON.parse(malformed.kind === 'error' ? malformed.body : '{}').type,
      'https://paymentauth.org/problems/malformed-credential',
    );
    const notJson = await present(
      setup,
      '/api/quote',
      `Payment ${encodeBase64url(new Uint8Array([1, 2]))}`,
    );
    assertRefusal(notJson, 'badJson');
  });

  it('reads the Payment scheme name in any case, as RFC 9110 makes it case-insensitive', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/42');
    const token = authorization.slice('Payment '.length);
    for (const scheme of ['payment', 'PAYMENT', 'pAyMeNt']) {
      const outcome = await present(setup, '/articles/42', `${scheme} ${token}`);
      assert.equal(verdictOf(outcome), 'paid', scheme);
    }
  });

  it('ignores a credential in Payment-Authorization, which Mite challenges never select, and keeps every answer out of shared caches', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/42');
    // The draft: a credential in a field the challenge did not select MUST NOT satisfy it.
    const ignored = await setup.paywall.handle(
      get('/articles/42', { 'payment-authorization': authorization }),
    );
    assert.ok(ignored.kind === 'paymentRequired', `expected a 402, got ${verdictOf(ignored)}`);
    assert.ok(ignored.headers['WWW-Authenticate'] !== undefined);
    assert.equal(ignored.headers['Cache-Control'], 'no-store');
    const paid = await setup.paywall.handle(
      get('/articles/42', { authorization, 'Payment-Authorization': authorization }),
    );
    assert.ok(paid.kind === 'paid', `expected paid, got ${verdictOf(paid)}`);
    assert.equal(paid.responseHeaders['Cache-Control'], 'private');
    const refused = await setup.paywall.handle(
      get('/articles/42', { authorization: 'Payment !!!', 'payment-authorization': authorization }),
    );
    assertRefusal(refused, 'malformedHeader');
    assert.ok(refused.kind === 'error');
    assert.equal(refused.headers['Cache-Control'], 'no-store');
  });

  it('refuses a credential for another method as unsupported, a 400 without a challenge', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const tempo = {
      challenge: { ...challengeEcho(challenge), method: 'tempo' },
      payload: { signature: '0xabc' },
    };
    const outcome = await present(setup, '/api/quote', `Payment ${encodeBase64urlJson(tempo)}`);
    assertRefusal(outcome, 'unsupportedMethod');
    assert.equal(
      JSON.parse(outcome.kind === 'error' ? outcome.body : '{}').type,
      'https://paymentauth.org/problems/method-unsupported',
    );
  });

  it('gives identical requests within one second the same challenge id, and a new one after', async (t) => {
    const setup = await setUp(t);
    const idOf = async (authorization?: string): Promise<string | undefined> => {
      const outcome = await setup.paywall.handle(
        get('/articles/42', authorization === undefined ? {} : { authorization }),
      );
      const header =
        outcome.kind === 'paid' || outcome.kind === 'free' ? undefined : outcome.headers;
      return /id="([^"]+)"/.exec(header?.['WWW-Authenticate'] ?? '')?.[1];
    };
    // The challenge's times come from a one-second bucket, so its HMAC id repeats within it: a
    // client that retries, or a stock client that re-fetches, meets the challenge it may have paid.
    setup.clock.advanceSeconds(1 - (setup.clock.nowMs() % 1000) / 1000);
    const first = await idOf();
    assert.ok(first !== undefined);
    setup.clock.advanceSeconds(0.4);
    assert.equal(await idOf(), first);
    // A refusal's fresh challenge is the same one too.
    assert.equal(await idOf('Payment !!!'), first);
    setup.clock.advanceSeconds(0.599);
    assert.equal(await idOf(), first);
    setup.clock.advanceSeconds(0.001);
    const next = await idOf();
    assert.ok(next !== undefined && next !== first);
  });

  it('refuses to sell a request target that the wire cannot carry', async (t) => {
    const { paywall } = await setUp(t);
    assertNotSold(await paywall.handle(get(`/articles/${'x'.repeat(1100)}`)), 'valueTooLong');
    assertNotSold(await paywall.handle(get('/articles/caf\u00e9')), 'badUrl');
  });

  it('measures a request near the length limit exactly: quotes double, letters do not', async (t) => {
    const description = `Caf\u00e9 "quoted" \\ ${'d'.repeat(170)}`;
    const { paywall } = await setUp(t, {
      routes: [{ method: 'GET', path: '/long/*', price: '0.01', description, category: 'news' }],
    });
    // Within the limit, though a bound of two bytes a character would not say so.
    const letters = `/long/${'a'.repeat(1000)}`;
    assert.equal(verdictOf(await paywall.handle(get(letters))), 'paymentRequired');
    const someQuotes = `/long/${'"'.repeat(400)}${'a'.repeat(600)}`;
    assert.equal(verdictOf(await paywall.handle(get(someQuotes))), 'paymentRequired');
    assertNotSold(await paywall.handle(get(`/long/${'"'.repeat(1000)}`)), 'valueTooLong');
    const plain = chargeRequest({
      amountMicros: 10_000n,
      currency: 'USD',
      recipient: 'mer_test',
      resource: `/a"b\\c/${'x'.repeat(50)}`,
      platform: 'http://127.0.0.1:1',
      category: 'news',
      accessPeriodSeconds: 86_400,
    });
    for (const value of [plain, { ...plain, description }, { ...plain, amount: '1' }]) {
      assert.equal(encodedJsonLength(value), encodeBase64urlJson(value).length);
    }
  });
});

describe('a paid request', () => {
  it('is let through with the receipt and a Payment-Receipt header', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/articles/42');
    const authorization = await setup.platform.pay(challenge, {
      issuedAtSeconds: setup.clock.nowSeconds(),
    });
    const outcome = await present(setup, '/articles/42', authorization);
    assert.ok(outcome.kind === 'paid');
    assert.equal(outcome.receipt.resource, '/articles/42');
    assert.equal(outcome.receipt.challengeId, challenge.id);
    assert.equal(outcome.singleUse, false);
    assert.equal(outcome.responseHeaders['Cache-Control'], 'private');
    assert.equal(outcome.responseHeaders['PAYMENT-RESPONSE'], undefined);
    const header = outcome.responseHeaders['Payment-Receipt'] ?? '';
    assert.deepEqual(parsePaymentReceiptHeader(header), {
      ok: true,
      value: {
        status: 'success',
        method: 'mite',
        timestampSeconds: setup.clock.nowSeconds(),
        reference: outcome.receipt.paymentId,
        challengeId: challenge.id,
        accessUntilSeconds: setup.clock.nowSeconds() + 86_400,
      },
    });
  });

  it('accepts a challenge issued under the previous secret while secrets rotate', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const rotated = testPaywall(setup.platform, setup.clock, {
      challengeSecret: new Uint8Array(32).fill(42),
      previousChallengeSecrets: [testSecret],
    });
    assert.equal(verdictOf(await rotated.handle(get('/api/quote', { authorization }))), 'paid');
  });
});

describe('refusals', () => {
  it('refuses a receipt whose signature was tampered with', async (t) => {
    const setup = await setUp(t);
    const credential = parseCredentialHeader(await paidCredential(setup, '/api/quote'));
    assert.ok(credential.ok && 'receipt' in credential.value.payload);
    const [header, payload, signature] = credential.value.payload.receipt.split('.');
    const flipped = `${signature?.startsWith('A') === true ? 'B' : 'A'}${signature?.slice(1)}`;
    const tampered = formatCredentialHeader({
      ...credential.value,
      payload: { receipt: `${header}.${payload}.${flipped}` },
    });
    assertRefusal(await present(setup, '/api/quote', tampered), 'receiptInvalid');
  });

  it('refuses a receipt signed by a key the platform does not publish, and a wrong typ', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const claims = setup.platform.claimsFor(challenge, setup.clock.nowSeconds());
    const stranger = await createSigningKey();
    const forged = formatCredentialHeader({
      challenge,
      payload: {
        receipt: await signReceipt(claims, stranger, { kid: setup.platform.signingKey.kid }),
      },
    });
    assertRefusal(await present(setup, '/api/quote', forged), 'receiptInvalid');
    const untyped = formatCredentialHeader({
      challenge,
      payload: { receipt: await signReceipt(claims, setup.platform.signingKey, { typ: 'JWT' }) },
    });
    assertRefusal(await present(setup, '/api/quote', untyped), 'receiptInvalid');
    const extraClaim = formatCredentialHeader({
      challenge,
      payload: {
        receipt: await signReceipt({ ...claims, scope: 'all' }, setup.platform.signingKey),
      },
    });
    assertRefusal(await present(setup, '/api/quote', extraClaim), 'receiptInvalid');
  });

  it('refuses a challenge whose id or fields were altered', async (t) => {
    const setup = await setUp(t);
    const credential = parseCredentialHeader(await paidCredential(setup, '/api/quote'));
    assert.ok(credential.ok);
    const { challenge } = credential.value;
    const id = `${challenge.id.startsWith('A') ? 'B' : 'A'}${challenge.id.slice(1)}`;
    const alteredId = formatCredentialHeader({
      ...credential.value,
      challenge: { ...challenge, id },
    });
    assertRefusal(await present(setup, '/api/quote', alteredId), 'invalidChallenge');
    const later = { ...challenge, expiresAtSeconds: challenge.expiresAtSeconds + 3600 };
    const alteredExpiry = formatCredentialHeader({ ...credential.value, challenge: later });
    assertRefusal(await present(setup, '/api/quote', alteredExpiry), 'invalidChallenge');
  });

  it('refuses a single-use receipt the second time', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const first = await present(setup, '/api/quote', authorization);
    assert.ok(first.kind === 'paid' && first.singleUse);
    first.settle(200);
    assertRefusal(await present(setup, '/api/quote', authorization), 'receiptReplayed');
  });

  it('refuses a payment made after the challenge expired', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    setup.clock.advanceSeconds(300 + clockSkewSecondsMax);
    const late = await setup.platform.pay(challenge, { issuedAtSeconds: setup.clock.nowSeconds() });
    assertRefusal(await present(setup, '/api/quote', late), 'challengeExpired');
  });

  it('refuses a ticket once its access period is over', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/7');
    setup.clock.advanceSeconds(86_399);
    assert.equal(verdictOf(await present(setup, '/articles/7', authorization)), 'paid');
    setup.clock.advanceSeconds(1);
    assertRefusal(await present(setup, '/articles/7', authorization), 'accessExpired');
  });

  it('refuses a single-use receipt presented after its redemption deadline', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    setup.clock.advanceSeconds(300 + clockSkewSecondsMax + singleUseRedeemGraceSeconds);
    assertRefusal(await present(setup, '/api/quote', authorization), 'accessExpired');
  });

  it('refuses a receipt or a challenge for another merchant', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const otherPayee = await setup.platform.pay(challenge, {
      issuedAtSeconds,
      claims: { merchantId: 'mer_other' },
    });
    assertRefusal(await present(setup, '/api/quote', otherPayee), 'wrongMerchant');
    // Another merchant of the same operator, wrongly sharing the secret.
    const sibling = testPaywall(setup.platform, setup.clock, { merchantId: 'mer_sibling' });
    const siblingOutcome = await sibling.handle(get('/api/quote'));
    assert.ok(siblingOutcome.kind === 'paymentRequired');
    const siblingChallenge = challengeOf(siblingOutcome.headers, issuedAtSeconds);
    const paidSibling = await setup.platform.pay(siblingChallenge, { issuedAtSeconds });
    assertRefusal(await present(setup, '/api/quote', paidSibling), 'wrongMerchant');
  });

  it('refuses a receipt when the price has changed, or pays another amount', async (t) => {
    let price = '0.05';
    const setup = await setUp(t, {
      routes: [{ method: 'GET', path: '/metered', price: () => price }],
    });
    const challenge = await challengeFor(setup, '/metered');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const authorization = await setup.platform.pay(challenge, { issuedAtSeconds });
    const underpaid = await setup.platform.pay(challenge, {
      issuedAtSeconds,
      claims: { amount: '0.01' },
    });
    assertRefusal(await present(setup, '/metered', underpaid), 'wrongAmount');
    price = '0.06';
    assertRefusal(await present(setup, '/metered', authorization), 'wrongAmount');
    price = '0.050';
    assert.equal(verdictOf(await present(setup, '/metered', authorization)), 'paid');
  });

  it('refuses a credential for another resource, or a receipt for another resource', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/articles/42');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const authorization = await setup.platform.pay(challenge, { issuedAtSeconds });
    assertRefusal(await present(setup, '/articles/43', authorization), 'wrongResource');
    assertRefusal(await present(setup, '/articles/42?page=2', authorization), 'wrongResource');
    const elsewhere = await setup.platform.pay(challenge, {
      issuedAtSeconds,
      claims: { resource: '/articles/43' },
    });
    assertRefusal(await present(setup, '/articles/42', elsewhere), 'wrongResource');
  });

  it('refuses a single-use receipt shown with another challenge than the one it paid', async (t) => {
    const setup = await setUp(t);
    const paidChallenge = await challengeFor(setup, '/api/quote');
    setup.clock.advanceSeconds(1);
    const otherChallenge = await challengeFor(setup, '/api/quote');
    const claims = setup.platform.claimsFor(paidChallenge, setup.clock.nowSeconds());
    const receipt = await signReceipt(claims, setup.platform.signingKey);
    const swapped = formatCredentialHeader({ challenge: otherChallenge, payload: { receipt } });
    assertRefusal(await present(setup, '/api/quote', swapped), 'challengeMismatch');
  });

  it('lets a ticket in with a fresh challenge: it is bound to the resource until accessUntil', async (t) => {
    const setup = await setUp(t);
    const paidChallenge = await challengeFor(setup, '/articles/9');
    const claims = setup.platform.claimsFor(paidChallenge, setup.clock.nowSeconds());
    const receipt = await signReceipt(claims, setup.platform.signingKey);
    setup.clock.advanceSeconds(3600 * 20);
    const fresh = await challengeFor(setup, '/articles/9');
    const shown = formatCredentialHeader({ challenge: fresh, payload: { receipt } });
    const outcome = await present(setup, '/articles/9', shown);
    assert.ok(outcome.kind === 'paid' && !outcome.singleUse);
  });

  it('grants a receipt for a self-written challenge no more than the route sells', async (t) => {
    // The attack: pay the platform for a challenge the client wrote (any id, ten years of
    // access, the route's real price), then show that receipt with a genuine challenge.
    const setup = await setUp(t);
    const genuine = await challengeFor(setup, '/articles/9');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const tenYearsSeconds = 10 * 365 * 86_400;
    const receipt = await signReceipt(
      {
        ...setup.platform.claimsFor(genuine, issuedAtSeconds),
        challengeId: 'F'.repeat(genuine.id.length), // any id the client chose
        accessUntil: issuedAtSeconds + tenYearsSeconds,
      },
      setup.platform.signingKey,
    );
    const shown = formatCredentialHeader({ challenge: genuine, payload: { receipt } });
    const first = await present(setup, '/articles/9', shown);
    assert.ok(first.kind === 'paid' && !first.singleUse, `got ${verdictOf(first)}`);
    assert.equal(first.receipt.accessUntil, issuedAtSeconds + 86_400, 'capped at the route period');
    const header = parsePaymentReceiptHeader(first.responseHeaders['Payment-Receipt'] ?? '');
    assert.ok(header.ok && header.value.accessUntilSeconds === issuedAtSeconds + 86_400);
    setup.clock.advanceSeconds(86_400 + 1);
    const fresh = await challengeFor(setup, '/articles/9');
    const later = formatCredentialHeader({ challenge: fresh, payload: { receipt } });
    assertRefusal(await present(setup, '/articles/9', later), 'accessExpired');
    assertRefusal(await present(setup, '/articles/9', shown), 'accessExpired');
  });

  it('refuses a receipt dated in the future as a failed verification (402)', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const issuedAtSeconds = setup.clock.nowSeconds() + clockSkewSecondsMax + 1;
    assertRefusal(
      await present(setup, '/api/quote', await setup.platform.pay(challenge, { issuedAtSeconds })),
      'futureDated',
    );
  });
});

describe('the platform keys', () => {
  it('are fetched once for many requests', async (t) => {
    const setup = await setUp(t);
    for (let index = 0; index < 10; index += 1) {
      const authorization = await paidCredential(setup, '/api/quote');
      assert.equal(verdictOf(await present(setup, '/api/quote', authorization)), 'paid');
      setup.clock.advanceSeconds(3600);
    }
    const credentials = await Promise.all(
      Array.from({ length: 20 }, (_, index) => paidCredential(setup, `/articles/${index}`)),
    );
    const outcomes = await Promise.all(
      credentials.map((authorization, index) =>
        present(setup, `/articles/${index}`, authorization),
      ),
    );
    assert.deepEqual(new Set(outcomes.map(verdictOf)), new Set(['paid']));
    assert.equal(setup.platform.jwksRequests, 1);
  });

  it('are fetched again for an unknown key id, at most once per interval', async (t) => {
    const setup = await setUp(t, { jwksRefreshIntervalMinMs: 60_000 });
    const oldKey = setup.platform.signingKey;
    assert.equal(
      verdictOf(await present(setup, '/api/quote', await paidCredential(setup, '/api/quote'))),
      'paid',
    );
    const newKey = await createSigningKey();
    setup.platform.signWith(newKey);
    // Signed with a key the platform does not publish yet: one refresh, then refused.
    setup.clock.advanceSeconds(60);
    assertRefusal(
      await present(setup, '/api/quote', await paidCredential(setup, '/api/quote')),
      'unknownKey',
    );
    assert.equal(setup.platform.jwksRequests, 2);
    // The platform rotates; within the interval the merchant does not ask again.
    setup.platform.publish([oldKey, newKey]);
    const rotated = await paidCredential(setup, '/api/quote');
    assertRefusal(await present(setup, '/api/quote', rotated), 'unknownKey');
    assert.equal(setup.platform.jwksRequests, 2);
    // After the interval, the unknown key id triggers a refresh that finds it.
    setup.clock.advanceSeconds(60);
    const retried = await paidCredential(setup, '/api/quote');
    assert.equal(verdictOf(await present(setup, '/api/quote', retried)), 'paid');
    assert.equal(setup.platform.jwksRequests, 3);
  });

  it('being unreachable makes a 503, and the keys held survive a failed refresh', async (t) => {
    const setup = await setUp(t, { jwksRefreshIntervalMinMs: 1000 });
    setup.platform.setDown(true);
    const outcome = await present(setup, '/api/quote', await paidCredential(setup, '/api/quote'));
    assert.ok(outcome.kind === 'error' && outcome.code === 'keysUnavailable');
    assert.equal(outcome.status, 503);
    assert.equal(outcome.headers['Retry-After'], '1');
    setup.platform.setDown(false);
    setup.clock.advanceSeconds(1);
    assert.equal(
      verdictOf(await present(setup, '/api/quote', await paidCredential(setup, '/api/quote'))),
      'paid',
    );
    setup.platform.setDown(true);
    setup.clock.advanceSeconds(1);
    const published = setup.platform.signingKey;
    setup.platform.signWith(await createSigningKey());
    assertRefusal(
      await present(setup, '/api/quote', await paidCredential(setup, '/api/quote')),
      'unknownKey',
    );
    assert.equal(setup.platform.jwksRequests, 3);
    setup.platform.signWith(published);
    assert.equal(
      verdictOf(await present(setup, '/api/quote', await paidCredential(setup, '/api/quote'))),
      'paid',
    );
  });
});

describe('single use and failed delivery', () => {
  it('pays exactly once when one single-use credential arrives 20 times at once', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, () => present(setup, '/api/quote', authorization)),
    );
    const verdicts = outcomes.map(verdictOf);
    assert.equal(verdicts.filter((verdict) => verdict === 'paid').length, 1);
    assert.equal(verdicts.filter((verdict) => verdict === 'receiptReplayed').length, 19);
  });

  it('gives a single-use receipt back when the handler answers 5xx, and only then', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/api/quote');
    const failed = await present(setup, '/api/quote', authorization);
    assert.ok(failed.kind === 'paid');
    failed.settle(503);
    failed.settle(200); // settling twice changes nothing
    const retried = await present(setup, '/api/quote', authorization);
    assert.ok(retried.kind === 'paid');
    retried.settle(404);
    retried.settle(500); // too late: the first status counted
    assertRefusal(await present(setup, '/api/quote', authorization), 'receiptReplayed');
  });

  it('lets a ticket in again and again within its access period', async (t) => {
    const setup = await setUp(t);
    const authorization = await paidCredential(setup, '/articles/1');
    setup.clock.advanceSeconds(3600 * 23);
    for (let index = 0; index < 3; index += 1) {
      const outcome = await present(setup, '/articles/1', authorization);
      assert.ok(outcome.kind === 'paid' && !outcome.singleUse);
      outcome.settle(200);
    }
  });
});

describe('the x402 envelope', () => {
  it('adds PAYMENT-REQUIRED, which @x402/core decodes and validates', async (t) => {
    const setup = await setUp(t);
    const outcome = await setup.paywall.handle(get('/articles/42', { host: 'news.example' }));
    assert.ok(outcome.kind === 'paymentRequired');
    const challenge = challengeOf(outcome.headers, setup.clock.nowSeconds());
    const header = outcome.headers['PAYMENT-REQUIRED'] ?? '';
    assert.match(header, /^[A-Za-z0-9+/]*={0,2}$/, 'padded standard base64, as x402 v2 wants');
    const required = decodePaymentRequiredHeader(header);
    assert.ok(PaymentRequiredV2Schema.safeParse(required).success);
    assert.equal(required.x402Version, 2);
    // Absolute, as the `mite pay` line is: x402 clients resolve nothing.
    assert.deepEqual(required.resource, {
      url: 'https://news.example/articles/42',
      description: 'An article',
    });
    const [offer] = required.accepts;
    assert.equal(offer?.scheme, 'mite');
    assert.equal(offer?.amount, '20000');
    assert.equal(offer?.payTo, 'mer_test');
    assert.equal(offer?.network, x402NetworkOf(setup.platform.url));
    assert.match(offer?.network ?? '', caip2Pattern);
    assert.deepEqual(offer?.extra, {
      challenge: challengeEcho(challenge),
      platform: setup.platform.url,
    });
  });

  it('says why in the envelope\u2019s error when it refuses a credential', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    setup.clock.advanceSeconds(300 + clockSkewSecondsMax);
    const late = await setup.platform.payX402(challenge, {
      issuedAtSeconds: setup.clock.nowSeconds(),
    });
    const outcome = await setup.paywall.handle(get('/api/quote', { 'payment-signature': late }));
    assertRefusal(outcome, 'challengeExpired');
    assert.ok(outcome.kind === 'error');
    const required = decodePaymentRequiredHeader(outcome.headers['PAYMENT-REQUIRED'] ?? '');
    assert.ok(PaymentRequiredV2Schema.safeParse(required).success);
    assert.equal(required.error, outcome.problem.detail);
    assert.ok((required.error ?? '').length > 0);
  });

  it('adds it only when asked, or never, when configured so', async (t) => {
    const onRequest = await setUp(t, { x402: 'onRequest' });
    const unasked = await onRequest.paywall.handle(get('/api/quote'));
    assert.ok(
      unasked.kind === 'paymentRequired' && unasked.headers['PAYMENT-REQUIRED'] === undefined,
    );
    const asked = await onRequest.paywall.handle(
      get('/articles/42', { 'x-payment-protocol': 'x402' }),
    );
    assert.ok(asked.kind === 'paymentRequired' && asked.headers['PAYMENT-REQUIRED'] !== undefined);
    const always = await setUp(t, { x402: 'always' });
    const outcome = await always.paywall.handle(get('/api/quote'));
    assert.ok(
      outcome.kind === 'paymentRequired' && outcome.headers['PAYMENT-REQUIRED'] !== undefined,
    );
    const never = await setUp(t, { x402: 'never' });
    const challenge = await challengeFor(never, '/api/quote');
    const signature = await never.platform.payX402(challenge, {
      issuedAtSeconds: never.clock.nowSeconds(),
    });
    const ignored = await never.paywall.handle(
      get('/api/quote', { 'payment-signature': signature }),
    );
    assert.ok(
      ignored.kind === 'paymentRequired' && ignored.headers['PAYMENT-REQUIRED'] === undefined,
    );
  });

  it('accepts a PAYMENT-SIGNATURE credential and answers PAYMENT-RESPONSE', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const credential = parseCredentialHeader(
      await setup.platform.pay(challenge, { issuedAtSeconds: setup.clock.nowSeconds() }),
    );
    assert.ok(credential.ok);
    const signature = encodePaymentSignatureHeader(toX402PaymentPayload(credential.value));
    const outcome = await setup.paywall.handle(
      get('/api/quote', { 'payment-signature': signature }),
    );
    assert.ok(outcome.kind === 'paid');
    assert.ok(outcome.responseHeaders['Payment-Receipt'] !== undefined);
    const settled = decodePaymentResponseHeader(outcome.responseHeaders['PAYMENT-RESPONSE'] ?? '');
    assert.equal(settled.success, true);
    assert.equal(settled.transaction, outcome.receipt.paymentId);
    assert.equal(settled.payer, 'psn_test');
    // One receipt, two dialects: still single-use.
    const again = formatCredentialHeader(credential.value);
    assertRefusal(await present(setup, '/api/quote', again), 'receiptReplayed');
  });

  it('finds the payment headers whatever the case of their names', async (t) => {
    const setup = await setUp(t);
    const hinted = await setup.paywall.handle(get('/articles/9', { 'X-Payment-PROTOCOL': 'x402' }));
    assert.ok(
      hinted.kind === 'paymentRequired' && hinted.headers['PAYMENT-REQUIRED'] !== undefined,
    );
    const ticket = await paidCredential(setup, '/articles/9');
    const paid = await setup.paywall.handle(get('/articles/9', { Authorization: ticket }));
    assert.equal(verdictOf(paid), 'paid');
    const challenge = await challengeFor(setup, '/api/quote');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const both = {
      AUTHORIZATION: await setup.platform.pay(challenge, { issuedAtSeconds }),
      'Payment-Signature': await setup.platform.payX402(challenge, { issuedAtSeconds }),
    };
    assertRefusal(await setup.paywall.handle(get('/api/quote', both)), 'malformedHeader');
  });

  it('refuses a request carrying both credential headers', async (t) => {
    const setup = await setUp(t);
    const challenge = await challengeFor(setup, '/api/quote');
    const issuedAtSeconds = setup.clock.nowSeconds();
    const headers = {
      authorization: await setup.platform.pay(challenge, { issuedAtSeconds }),
      'payment-signature': await setup.platform.payX402(challenge, { issuedAtSeconds }),
    };
    assertRefusal(await setup.paywall.handle(get('/api/quote', headers)), 'malformedHeader');
  });
});

describe('price discovery', () => {
  it('serves the price list at /.well-known/payment', async (t) => {
    const setup = await setUp(t, {
      routes: [
        ...testRoutes,
        {
          method: 'POST',
          path: '/render',
          price: (request) => (request.headers['x-size'] === 'large' ? '0.10' : '0.01'),
        },
      ],
    });
    const outcome = await setup.paywall.handle(get('/.well-known/payment'));
    assert.ok(outcome.kind === 'priceList');
    assert.equal(outcome.headers['Content-Type'], 'application/json');
    const list = parsePriceList(outcome.body);
    assert.ok(list.ok);
    assert.deepEqual(list.value, {
      realm: 'shop.test',
      merchant: 'mer_test',
      platform: setup.platform.url,
      currency: 'USD',
      routes: [
        {
          method: 'GET',
          path: '/articles/:id',
          price: '0.02',
          description: 'An article',
          category: 'news',
          accessPeriodSeconds: 86_400,
        },
        {
          method: 'GET',
          path: '/api/quote',
          price: '0.001',
          description: 'One quote',
          accessPeriodSeconds: 0,
        },
        { method: 'POST', path: '/render', price: '0.01', accessPeriodSeconds: 0 },
      ],
    });
    assert.equal(
      verdictOf(
        await setup.paywall.handle({ method: 'POST', url: '/.well-known/payment', headers: {} }),
      ),
      'free',
    );
  });
});

describe('configuration', () => {
  it('throws on options the wire cannot carry', () => {
    const base = {
      merchantId: 'mer_1',
      realm: 'shop',
      platformUrl: 'https://pay.example',
      challengeSecret: testSecret,
    };
    assert.throws(
      () => createPaywall({ ...base, challengeSecret: new Uint8Array(31) }),
      RangeError,
    );
    assert.throws(() => createPaywall({ ...base, challengeTtlSeconds: 0 }), RangeError);
    assert.throws(() => createPaywall({ ...base, merchantId: 'bad id' }), RangeError);
    assert.throws(() => createPaywall({ ...base, platformUrl: 'ftp://pay.example' }), RangeError);
    assert.throws(() => createPaywall({ ...base, origin: 'https://shop.example/' }), RangeError);
    const route = { method: 'GET', path: '/a', price: '0.01' };
    assert.throws(
      () => createPaywall({ ...base, routes: [{ ...route, price: '-1' }] }),
      RangeError,
    );
    assert.throws(() => createPaywall({ ...base, routes: [{ ...route, price: '0' }] }), RangeError);
    assert.throws(() => createPaywall({ ...base, routes: [route, route] }), RangeError);
    assert.throws(
      () => createPaywall({ ...base, routes: [{ ...route, method: 'get' }] }),
      RangeError,
    );
    assert.throws(
      () => createPaywall({ ...base, routes: [{ ...route, category: 'Not A Slug' }] }),
      RangeError,
    );
    assert.doesNotThrow(() => createPaywall({ ...base, routes: [route] }));
  });
});
