/**
 * HTTP 402 payments end to end, everything real on loopback: the Mite platform (`@mite/server`,
 * embedded SQLite) set up through its API, a wallet topped up by card, two merchant sites behind
 * this package (node:http and Express), and `@mite/client` paying from the wallet. Hostile
 * credentials are sent by hand; every refusal is checked to move no money.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createMiteFetch,
  isMitePaymentError,
  type MiteFetch,
  type PaymentEvent,
} from '@mite/client';
import {
  type Challenge,
  challengeEcho,
  encodeBase64urlJson,
  formatCredentialHeader,
  parsePaymentReceiptHeader,
  parsePriceList,
  problemTable,
  problemTypeBase,
  type ProtocolErrorCode,
} from '@mite/protocol';
import {
  type LivePlatform,
  type LiveShop,
  type ShopKind,
  challengeOf,
  startLivePlatform,
  startShop,
} from './testing-end-to-end.ts';

/** The platform's fee on every merchant here: 10 %. */
const feeBasisPoints = 1_000;
const articleMicros = 20_000n;
const answerMicros = 1_000n;
/** What the merchant keeps of a payment: the price less the fee, rounded half up. */
const netOf = (price: bigint) => price - (price * BigInt(feeBasisPoints) + 5_000n) / 10_000n;

const shopKinds: readonly ShopKind[] = ['node:http', 'Express'];

let live: LivePlatform;
let token: string;
const shops = new Map<ShopKind, LiveShop>();

before(async () => {
  live = await startLivePlatform();
  for (const kind of shopKinds) {
    const merchant = await live.createMerchant(`${kind} News`, feeBasisPoints);
    shops.set(kind, await startShop(kind, live.url, merchant));
  }
  token = await live.signUp('reader@example.com');
  await live.topUp(token, '10.00');
});

after(async () => {
  for (const shop of shops.values()) await shop.close();
  await live?.close();
});

function shopOf(kind: ShopKind): LiveShop {
  const shop = shops.get(kind);
  assert.ok(shop, `the ${kind} shop runs`);
  return shop;
}

/** Every request a client makes, as "METHOD /path [+credential] STATUS". */
function recordingFetch(log: string[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request?.url ?? String(input));
    const method = init?.method ?? request?.method ?? 'GET';
    const authorization = new Headers(init?.headers ?? request?.headers).get('authorization');
    const credential = authorization?.startsWith('Payment ') === true ? ' +credential' : '';
    log.push(`${method} ${url.pathname}${credential} ${response.status}`);
    return response;
  };
}

interface Client {
  readonly fetch: MiteFetch;
  readonly payments: PaymentEvent[];
  readonly log: string[];
}

/** A client of the reader's wallet; its per-payment limit as given, a dollar a day per site. */
function client(maxPerPayment: string): Client {
  const payments: PaymentEvent[] = [];
  const log: string[] = [];
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: live.url, token },
    budget: { maxPerPayment, maxPerOriginPerDay: '1.00', maxTotal: '2.00' },
    fetch: recordingFetch(log),
    onPayment: (event) => void payments.push(event),
  });
  return { fetch: miteFetch, payments, log };
}

/** Balances of the wallet and of both merchants, in micro-units. */
async function balances(): Promise<Record<string, bigint>> {
  const merchants = await Promise.all(
    [...shops.values()].map(async (shop) => [
      shop.merchant.merchantId,
      await live.merchantMicros(shop.merchant),
    ]),
  );
  return { wallet: await live.walletMicros(token), ...Object.fromEntries(merchants) };
}

async function expectNoMoneyMoves<T>(action: () => Promise<T>): Promise<T> {
  const before = await balances();
  const result = await action();
  assert.deepEqual(await balances(), before, 'no money moved');
  return result;
}

function tamperSignature(jws: string): string {
  const [header, payload, signature] = jws.split('.');
  assert.ok(header !== undefined && payload !== undefined && signature !== undefined);
  // A middle character carries six whole bits: the result stays canonical base64url.
  const at = Math.floor(signature.length / 2);
  const flipped = signature[at] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${signature.slice(0, at)}${flipped}${signature.slice(at + 1)}`;
}

function credential(challenge: Challenge, receipt: string): string {
  return formatCredentialHeader({ challenge, payload: { receipt } });
}

for (const kind of shopKinds) {
  describe(`HTTP 402 end to end through the ${kind} adapter`, () => {
    let shop: LiveShop;
    let other: LiveShop;
    let reader: Client;

    before(() => {
      shop = shopOf(kind);
      other = shopOf(shopKinds.find((candidate) => candidate !== kind) ?? kind);
      reader = client('0.10');
    });

    /** A fresh challenge from the shop, asked for by hand as any client would. */
    async function challengeFor(path: string, headers: Record<string, string> = {}) {
      const response = await fetch(`${shop.url}${path}`, { headers });
      assert.equal(response.status, 402);
      await response.body?.cancel();
      return challengeOf(response);
    }

    /** Buys `path` at the platform by hand: the challenge and the platform's receipt. */
    async function buy(path: string, headers: Record<string, string> = {}) {
      const challenge = await challengeFor(path, headers);
      const payment = await live.payChallenge(token, challenge);
      return { challenge, ...payment };
    }

    async function present(path: string, authorization: string, headers = {}) {
      const response = await fetch(`${shop.url}${path}`, {
        headers: { ...headers, authorization },
      });
      return { response, text: await response.text() };
    }

    /** Sends a hostile credential: refused with this problem type, and not a cent moves. */
    async function expectRefused(
      path: string,
      authorization: string,
      expected: { status: 400 | 402; code: ProtocolErrorCode },
      headers: Record<string, string> = {},
    ) {
      await expectNoMoneyMoves(async () => {
        const { response, text } = await present(path, authorization, headers);
        assert.equal(response.status, expected.status, text);
        assert.match(String(response.headers.get('content-type')), /^application\/problem\+json/);
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.equal(response.headers.get('payment-receipt'), null);
        const problem = JSON.parse(text) as Record<string, unknown>;
        // The draft's problem type, Mite's finer code beside it.
        assert.equal(problem['type'], problemTable[expected.code].type);
        assert.ok(String(problem['type']).startsWith(problemTypeBase));
        assert.equal(problem['miteCode'], expected.code);
        assert.equal(problem['status'], expected.status);
        if (expected.status === 402) {
          // A 402 refusal offers a fresh challenge for what this request costs now, and names it.
          const fresh = challengeOf(response, shop.nowSeconds());
          assert.equal(fresh.request.recipient, shop.merchant.merchantId);
          assert.equal(problem['challengeId'], fresh.id);
        } else {
          assert.equal(response.headers.get('www-authenticate'), null);
        }
      });
    }

    it('answers an unpaid request 402 with a challenge, no-store and a problem body', async () => {
      const response = await fetch(`${shop.url}/articles/1`);
      assert.equal(response.status, 402);
      assert.match(String(response.headers.get('www-authenticate')), /^Payment /);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.match(String(response.headers.get('content-type')), /^application\/problem\+json/);
      const problem = (await response.json()) as Record<string, unknown>;
      assert.equal(problem['type'], `${problemTypeBase}payment-required`);
      assert.equal(problem['status'], 402);
      const challenge = challengeOf(response);
      assert.deepEqual(challenge.request, {
        amount: '20000',
        currency: 'usd',
        description: 'An article',
        recipient: shop.merchant.merchantId,
        methodDetails: {
          accessPeriodSeconds: 86_400,
          category: 'news',
          decimals: 6,
          platform: live.url,
          resource: '/articles/1',
        },
      });

      const free = await fetch(`${shop.url}/free`);
      assert.equal(free.status, 200);
      assert.equal(await free.text(), 'free for all');
      const x402 = await fetch(`${shop.url}/api/answer`, {
        headers: { 'x-payment-protocol': 'x402' },
      });
      assert.equal(x402.status, 402);
      assert.ok(x402.headers.get('payment-required'), 'x402 clients are offered the same deal');
      await x402.body?.cancel();
      const prices = await fetch(`${shop.url}/.well-known/payment`);
      const list = parsePriceList(await prices.text());
      assert.ok(list.ok);
      assert.equal(list.value.merchant, shop.merchant.merchantId);
      assert.deepEqual(
        list.value.routes.map((route) => `${route.path} ${route.price}`),
        ['/articles/:id 0.02', '/api/answer 0.001', '/reports/:id 0.01'],
      );
    });

    it('pays once through the client: 402, payment, 200 with Payment-Receipt, exact money', async () => {
      const before = await balances();
      const response = await reader.fetch(`${shop.url}/articles/1`);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /^article 1 for \S+$/);
      assert.notEqual(text, 'article 1 for nobody');
      assert.deepEqual(reader.log, [
        'GET /articles/1 402',
        'POST /v1/payments 201',
        'GET /articles/1 +credential 200',
      ]);
      assert.equal(reader.payments.length, 1);
      const [payment] = reader.payments;
      assert.ok(payment);
      assert.deepEqual(
        [payment.amount, payment.merchant, payment.resource],
        ['0.02', shop.merchant.merchantId, '/articles/1'],
      );
      const header = response.headers.get('payment-receipt');
      assert.ok(header, 'Payment-Receipt is sent with the resource');
      const receipt = parsePaymentReceiptHeader(header);
      assert.ok(receipt.ok);
      assert.equal(receipt.value.reference, payment.paymentId);
      assert.equal(receipt.value.accessUntilSeconds - receipt.value.timestampSeconds, 86_400);
      assert.equal(response.headers.get('cache-control'), 'private');

      const afterwards = await balances();
      const merchantId = shop.merchant.merchantId;
      assert.equal(afterwards['wallet'], (before['wallet'] ?? 0n) - articleMicros);
      assert.equal(afterwards[merchantId], (before[merchantId] ?? 0n) + netOf(articleMicros));
      assert.equal(netOf(articleMicros), 18_000n);
      const otherId = other.merchant.merchantId;
      assert.equal(afterwards[otherId], before[otherId]);
      assert.equal(reader.fetch.spent().totalMicros, articleMicros);
    });

    it('opens the article again with the stored receipt and pays nothing more', async () => {
      reader.log.length = 0;
      const spent = reader.fetch.spent();
      const response = await expectNoMoneyMoves(() => reader.fetch(`${shop.url}/articles/1`));
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^article 1 for /);
      assert.ok(response.headers.get('payment-receipt'));
      assert.deepEqual(reader.log, ['GET /articles/1 +credential 200'], 'sent up front, no 402');
      assert.equal(reader.payments.length, 1);
      assert.deepEqual(reader.fetch.spent(), spent);
    });

    it('refuses a payment above the budget before paying anything', async () => {
      const frugal = client('0.01');
      const error = await expectNoMoneyMoves(() =>
        frugal.fetch(`${shop.url}/articles/2`).then(
          () => assert.fail('an article above the per-payment budget was bought'),
          (caught: unknown) => caught,
        ),
      );
      assert.ok(isMitePaymentError(error), String(error));
      assert.deepEqual([error.code, error.limit, error.paid], ['overBudget', 'perPayment', false]);
      assert.deepEqual(frugal.log, ['GET /articles/2 402']);
      assert.equal(frugal.payments.length, 0);
      assert.equal(frugal.fetch.spent().totalMicros, 0n);
    });

    describe('hostile credentials, each refused with no money moving', () => {
      it("a malformed credential is a 402 with a fresh challenge (the draft's table)", async () => {
        // base64url of "not json"
        await expectRefused('/articles/3', 'Payment bm90IGpzb24', {
          status: 402,
          code: 'badJson',
        });
        const stranger = `Payment ${encodeBase64urlJson({ receipt: 'a.b.c' })}`;
        await expectRefused('/articles/3', stranger, { status: 402, code: 'missingField' });
      });

      it('a receipt whose signature was tampered with', async () => {
        const bought = await buy('/articles/3');
        await expectRefused(
          '/articles/3',
          credential(bought.challenge, tamperSignature(bought.receipt)),
          { status: 402, code: 'receiptInvalid' },
        );
        // The genuine credential opens it: the flipped character was the only defect.
        const genuine = await present('/articles/3', credential(bought.challenge, bought.receipt));
        assert.equal(genuine.response.status, 200, genuine.text);
      });

      it('a single-use receipt presented twice', async () => {
        const before = await balances();
        const bought = await buy('/api/answer');
        assert.equal(bought.claims.accessUntil, bought.claims.issuedAt, 'single-use');
        const merchantId = shop.merchant.merchantId;
        const paid = await balances();
        assert.equal(paid['wallet'], (before['wallet'] ?? 0n) - answerMicros);
        assert.equal(paid[merchantId], (before[merchantId] ?? 0n) + netOf(answerMicros));
        const spend = credential(bought.challenge, bought.receipt);
        const first = await present('/api/answer', spend);
        assert.equal(first.response.status, 200, first.text);
        assert.match(first.text, /^42 for /);
        await expectRefused('/api/answer', spend, { status: 402, code: 'receiptReplayed' });
      });

      it('an expired challenge: refused by the client, by the platform and by the shop', async () => {
        try {
          // The shop's clock runs ten minutes late: its challenges are expired on arrival.
          shop.setClockOffsetSeconds(-600);
          const late = client('1.00');
          const error = await expectNoMoneyMoves(() =>
            late.fetch(`${shop.url}/articles/4`).then(
              () => assert.fail('an expired challenge was paid'),
              (caught: unknown) => caught,
            ),
          );
          assert.ok(isMitePaymentError(error), String(error));
          assert.deepEqual(
            [error.code, error.protocolCode, error.paid],
            ['badChallenge', 'challengeExpired', false],
          );
          assert.deepEqual(late.log, ['GET /articles/4 402']);
          const stale = await fetch(`${shop.url}/articles/4`);
          await stale.body?.cancel();
          const expired = challengeOf(stale, shop.nowSeconds());
          shop.setClockOffsetSeconds(0);

          const paidLate = await expectNoMoneyMoves(() =>
            live.api('POST', '/v1/payments', {
              bearer: token,
              body: { challenge: challengeEcho(expired) },
            }),
          );
          assert.equal(paidLate.status, 422, JSON.stringify(paidLate.body));
          assert.equal(paidLate.body['type'], '/v1/problems/challenge-expired');

          // A receipt paid now, presented with the challenge that had expired before it was paid.
          const bought = await buy('/articles/4');
          await expectRefused('/articles/4', credential(expired, bought.receipt), {
            status: 402,
            code: 'challengeExpired',
          });
        } finally {
          shop.setClockOffsetSeconds(0);
        }
      });

      it('a ticket after its access period', async () => {
        const bought = await buy('/articles/5');
        const ticket = credential(bought.challenge, bought.receipt);
        try {
          shop.setClockOffsetSeconds(86_400 + 60);
          await expectRefused('/articles/5', ticket, { status: 402, code: 'accessExpired' });
        } finally {
          shop.setClockOffsetSeconds(0);
        }
        const inTime = await present('/articles/5', ticket);
        assert.equal(inTime.response.status, 200, inTime.text);
      });

      it('a receipt paid to another merchant', async () => {
        const response = await fetch(`${other.url}/articles/6`);
        await response.body?.cancel();
        const elsewhere = challengeOf(response);
        const paid = await live.payChallenge(token, elsewhere);
        assert.equal(paid.claims.merchantId, other.merchant.merchantId);
        // With this shop's own fresh challenge for the same article and price.
        const mine = await challengeFor('/articles/6');
        await expectRefused('/articles/6', credential(mine, paid.receipt), {
          status: 402,
          code: 'wrongMerchant',
        });
        // With the other shop's challenge as paid: not issued here.
        await expectRefused('/articles/6', credential(elsewhere, paid.receipt), {
          status: 402,
          code: 'invalidChallenge',
        });
      });

      it('a receipt for a cheaper edition of the same resource', async () => {
        const summary = await buy('/reports/1');
        assert.equal(summary.claims.amount, '0.01');
        const full = { 'x-edition': 'full' };
        const fullChallenge = await challengeFor('/reports/1', full);
        assert.equal(fullChallenge.request.amount, '50000');
        await expectRefused(
          '/reports/1',
          credential(fullChallenge, summary.receipt),
          { status: 402, code: 'wrongAmount' },
          full,
        );
        await expectRefused(
          '/reports/1',
          credential(summary.challenge, summary.receipt),
          { status: 402, code: 'wrongAmount' },
          full,
        );
        const paidFor = await present('/reports/1', credential(summary.challenge, summary.receipt));
        assert.equal(paidFor.response.status, 200, paidFor.text);
        assert.match(paidFor.text, /^summary report 1 for /);
      });

      it('a challenge rewritten to a lower price and paid at that price', async () => {
        const genuine = await challengeFor('/articles/7');
        // Same id, same everything, but the price in the request (which the id's HMAC covers).
        const request = { ...genuine.request, amount: '1' };
        const cheap = { ...genuine, request, requestEncoded: encodeBase64urlJson(request) };
        // The platform cannot know the merchant's secret: it takes the micro-payment.
        const paid = await live.payChallenge(token, cheap);
        assert.equal(paid.claims.amount, '0.000001');
        await expectRefused('/articles/7', credential(cheap, paid.receipt), {
          status: 402,
          code: 'invalidChallenge',
        });
        await expectRefused('/articles/7', credential(genuine, paid.receipt), {
          status: 402,
          code: 'wrongAmount',
        });
      });

      it('a receipt for another article', async () => {
        const bought = await buy('/articles/8');
        const next = await challengeFor('/articles/9');
        await expectRefused('/articles/9', credential(next, bought.receipt), {
          status: 402,
          code: 'wrongResource',
        });
        await expectRefused('/articles/9', credential(bought.challenge, bought.receipt), {
          status: 402,
          code: 'wrongResource',
        });
      });
    });

    it('makes one payment for ten concurrent fetches of a fresh article', async () => {
      const crowd = client('0.10');
      const before = await balances();
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => crowd.fetch(`${shop.url}/articles/100`)),
      );
      const texts = await Promise.all(responses.map((response) => response.text()));
      assert.deepEqual(
        responses.map((response) => response.status),
        Array.from({ length: 10 }, () => 200),
      );
      for (const text of texts) assert.match(text, /^article 100 for /);
      assert.equal(crowd.payments.length, 1);
      assert.equal(crowd.log.filter((line) => line.startsWith('POST /v1/payments')).length, 1);
      assert.equal(crowd.fetch.spent().totalMicros, articleMicros);
      const afterwards = await balances();
      const merchantId = shop.merchant.merchantId;
      assert.equal(afterwards['wallet'], (before['wallet'] ?? 0n) - articleMicros);
      assert.equal(afterwards[merchantId], (before[merchantId] ?? 0n) + netOf(articleMicros));
    });
  });
}

describe('the books after all of it', () => {
  it('balance: the ledger verifies', async () => {
    assert.deepEqual(await live.platform.ledger.verify(), { ok: true, problems: [] });
  });
});
