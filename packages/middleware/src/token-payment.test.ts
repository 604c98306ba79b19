/**
 * Paying with tokens end to end, everything real on loopback: the platform issues tokens to a
 * wallet (blinded, so it never sees them), a shop's 402 offers method "mite-token" beside "mite",
 * the client answers with tokens, the shop verifies them offline, deposits them and serves. A
 * token is taken once: at the same shop, at another shop, in another set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  blind,
  type Challenge,
  finalize,
  formatCredentialHeader,
  miteTokenMethod,
  parseChallengeHeader,
  parsePaymentReceiptHeader,
  type TokenPaymentWire,
} from '@mite/protocol';
import { rsaPublicKeyOfSpki } from '@mite/client';
import {
  type LiveMerchant,
  type LivePlatform,
  type LiveShop,
  startLivePlatform,
  startShop,
} from './testing-end-to-end.ts';

/** Powers of two up to 2^15: enough for an article (0.02) without making 27 keys. */
const denominationsMicros = Array.from({ length: 16 }, (_, exponent) => 1n << BigInt(exponent));
const random = (length: number) => new Uint8Array(randomBytes(length));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

let live: LivePlatform;
let wallet: string;
let tokenShop: LiveShop;
let otherShop: LiveShop;
let receiptOnlyShop: LiveShop;
let withdrawals = 0;

async function merchantWithKey(name: string): Promise<{ merchant: LiveMerchant; apiKey: string }> {
  const merchant = await live.createMerchant(name, 1_000);
  const key = await live.api('POST', `/v1/merchants/${merchant.merchantId}/api-keys`, {
    bearer: live.adminKey,
    body: { scopes: ['tokens:deposit'] },
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return { merchant, apiKey: String(key.body['secret']) };
}

/** Withdraws tokens of the binary digits of `amountMicros`, as a client's SDK would. */
async function withdraw(amountMicros: bigint): Promise<TokenPaymentWire[]> {
  const listed = await live.api('GET', '/v1/token-keys');
  const keys = listed.body['keys'] as { keyId: string; denomination: string; spki: string }[];
  const wanted = denominationsMicros.filter((micros) => (amountMicros & micros) !== 0n);
  const outputs = wanted.map((micros) => {
    const text = `0.${micros.toString().padStart(6, '0')}`;
    const key = keys.find((listedKey) => listedKey.denomination === text) ?? assert.fail(text);
    const publicKey = rsaPublicKeyOfSpki(Buffer.from(key.spki, 'base64url'));
    const message = random(32);
    const blinded = blind(publicKey, message, random);
    assert.ok(blinded.ok);
    return { keyId: key.keyId, publicKey, message, ...blinded.value };
  });
  const answer = await fetch(`${live.url}/v1/tokens/withdrawals`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${wallet}`,
      'content-type': 'application/json',
      'idempotency-key': `withdrawal-${++withdrawals}`,
    },
    body: JSON.stringify({
      outputs: outputs.map((o) => ({ keyId: o.keyId, blindedMessage: b64(o.blindedMessage) })),
    }),
  });
  assert.equal(answer.status, 201);
  const { blindSignatures } = (await answer.json()) as {
    blindSignatures: { blindSignature: string }[];
  };
  return outputs.map((output, index) => {
    const signed = Buffer.from(blindSignatures[index]?.blindSignature ?? '', 'base64url');
    const token = finalize(output.publicKey, output.message, signed, output.inverse);
    assert.ok(token.ok);
    return { keyId: output.keyId, message: b64(output.message), signature: b64(token.value) };
  });
}

/** The shop's mite-token challenge for a path. */
async function tokenChallenge(shop: LiveShop, path: string): Promise<Challenge> {
  const response = await fetch(`${shop.url}${path}`);
  assert.equal(response.status, 402);
  const header = response.headers.get('www-authenticate') ?? '';
  const challenge = parseChallengeHeader(header, {
    nowSeconds: shop.nowSeconds(),
    method: miteTokenMethod,
  });
  assert.ok(challenge.ok, challenge.ok ? '' : challenge.detail);
  return challenge.value;
}

function payWith(shop: LiveShop, path: string, challenge: Challenge, tokens: TokenPaymentWire[]) {
  const authorization = formatCredentialHeader({ challenge, payload: { tokens } });
  return fetch(`${shop.url}${path}`, { headers: { authorization } });
}

async function miteCode(response: Response): Promise<unknown> {
  return ((await response.json()) as { miteCode?: unknown }).miteCode;
}

before(async () => {
  live = await startLivePlatform({ tokenDenominationsMicros: denominationsMicros });
  wallet = await live.signUp('tess@example.com');
  await live.topUp(wallet, '5.00');
  const first = await merchantWithKey('Token News');
  const second = await merchantWithKey('Other News');
  tokenShop = await startShop('node:http', live.url, first.merchant, {
    tokens: { apiKey: first.apiKey },
  });
  otherShop = await startShop('Express', live.url, second.merchant, {
    tokens: { apiKey: second.apiKey },
  });
  receiptOnlyShop = await startShop('node:http', live.url, second.merchant);
});

after(async () => {
  await Promise.all([tokenShop, otherShop, receiptOnlyShop].map((shop) => shop.close()));
  await live.close();
});

describe('paying a 402 with tokens', () => {
  it('serves an article for tokens worth its price, credits the merchant once and names no payer', async () => {
    const tokens = await withdraw(20_000n);
    const before = await live.merchantMicros(tokenShop.merchant);
    const challenge = await tokenChallenge(tokenShop, '/articles/7');
    const paid = await payWith(tokenShop, '/articles/7', challenge, tokens);
    assert.equal(paid.status, 200, await paid.clone().text());
    assert.equal(await paid.text(), 'article 7 for tokens');
    const receipt = parsePaymentReceiptHeader(paid.headers.get('payment-receipt') ?? '');
    assert.ok(receipt.ok);
    assert.equal(receipt.value.method, 'mite-token');
    assert.ok(receipt.value.accessUntilSeconds > receipt.value.timestampSeconds);
    // 10 % fee: the merchant keeps 18,000 of 20,000.
    assert.equal((await live.merchantMicros(tokenShop.merchant)) - before, 18_000n);

    // The same credential again, within the article's day: served, nothing charged again.
    const again = await payWith(tokenShop, '/articles/7', challenge, tokens);
    assert.equal(again.status, 200);
    assert.equal((await live.merchantMicros(tokenShop.merchant)) - before, 18_000n);

    // The same tokens at another shop: spent.
    const elsewhere = await tokenChallenge(otherShop, '/articles/7');
    const refused = await payWith(otherShop, '/articles/7', elsewhere, tokens);
    assert.equal(refused.status, 402);
    assert.equal(await miteCode(refused), 'tokenSpent');
  });

  it('spends a single-use answer once', async () => {
    const tokens = await withdraw(1_000n);
    const challenge = await tokenChallenge(tokenShop, '/api/answer');
    const paid = await payWith(tokenShop, '/api/answer', challenge, tokens);
    assert.equal(paid.status, 200);
    assert.equal(await paid.text(), '42 for tokens');
    const replayed = await payWith(tokenShop, '/api/answer', challenge, tokens);
    assert.equal(replayed.status, 402);
    assert.equal(await miteCode(replayed), 'receiptReplayed');
  });

  it('refuses forged tokens and a short payment offline, depositing nothing', async () => {
    const tokens = await withdraw(1_000n);
    const deposits = () =>
      live.platform.platformDb.db.selectFrom('token_deposits').selectAll().execute();
    const before = (await deposits()).length;
    const challenge = await tokenChallenge(tokenShop, '/api/answer');
    const [first, ...rest] = tokens;
    assert.ok(first);
    const forged = [{ ...first, signature: b64(random(256)) }, ...rest];
    const refusedForged = await payWith(tokenShop, '/api/answer', challenge, forged);
    assert.equal(refusedForged.status, 402);
    assert.equal(await miteCode(refusedForged), 'tokenInvalid');
    const short = await payWith(tokenShop, '/api/answer', challenge, rest);
    assert.equal(short.status, 402);
    assert.equal(await miteCode(short), 'tokenAmountMismatch');
    assert.equal((await deposits()).length, before, 'nothing reached the platform');
    // The genuine tokens still pay.
    assert.equal((await payWith(tokenShop, '/api/answer', challenge, tokens)).status, 200);
  });

  it('offers tokens only where the merchant takes them', async () => {
    const response = await fetch(`${receiptOnlyShop.url}/articles/1`);
    assert.equal(response.status, 402);
    const header = response.headers.get('www-authenticate') ?? '';
    assert.match(header, /method="mite"/);
    assert.doesNotMatch(header, /mite-token/);
    const both = await fetch(`${tokenShop.url}/articles/1`);
    assert.match(both.headers.get('www-authenticate') ?? '', /method="mite-token"/);
  });
});
