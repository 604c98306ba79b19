import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import type { ReceiptClaims } from '@mite/protocol';
import { listen } from './adapter-contract.ts';
import {
  createReceiptVerifier,
  jwksResponseLengthMax,
  type ReceiptVerification,
} from './receipt-verifier.ts';
import {
  createSigningKey,
  createTestClock,
  signReceipt,
  type SigningKey,
} from './test-platform.ts';

const claims: ReceiptClaims = {
  paymentId: 'pay_1',
  merchantId: 'mer_1',
  resource: '/a',
  amount: '0.01',
  currency: 'USD',
  payer: 'psn_1',
  issuedAt: 1_800_000_000,
  accessUntil: 1_800_000_000,
};

/** A JWKS endpoint on loopback answering whatever body the test sets, counting requests. */
async function jwksServer(t: TestContext, body: () => string) {
  let requests = 0;
  const app = await listen(
    createServer((_request, response) => {
      requests += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end(body());
    }),
  );
  t.after(() => app.close());
  const clock = createTestClock();
  const verifier = createReceiptVerifier({
    jwksUrl: `${app.url}/v1/keys`,
    fetch,
    clock: clock.now,
    refreshIntervalMinMs: 1000,
  });
  return { verifier, clock, requests: () => requests };
}

function codeOf(verification: ReceiptVerification): string {
  return verification.ok ? 'ok' : verification.code;
}

function jwks(...keys: SigningKey[]): string {
  return JSON.stringify({ keys: keys.map((key) => key.publicJwk) });
}

describe('the receipt verifier', () => {
  it('shares one JWKS fetch among concurrent first requests', async (t) => {
    const key = await createSigningKey();
    const { verifier, requests } = await jwksServer(t, () => jwks(key));
    const receipt = await signReceipt(claims, key);
    const verdicts = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(receipt)));
    assert.deepEqual(new Set(verdicts.map(codeOf)), new Set(['ok']));
    assert.equal(requests(), 1);
    assert.deepEqual(verdicts[0], { ok: true, claims });
  });

  it('skips keys that are not Ed25519 public signing keys', async (t) => {
    const key = await createSigningKey();
    const { verifier } = await jwksServer(t, () =>
      JSON.stringify({
        keys: [
          { ...key.publicJwk, use: 'enc' },
          { kty: 'RSA', kid: 'rsa', n: 'AQAB', e: 'AQAB' },
        ],
      }),
    );
    assert.equal(codeOf(await verifier.verify(await signReceipt(claims, key))), 'unknownKey');
  });

  it('treats an oversized or unreadable JWKS as unavailable', async (t) => {
    const key = await createSigningKey();
    let body = JSON.stringify({ keys: [key.publicJwk], pad: 'x'.repeat(jwksResponseLengthMax) });
    const { verifier, clock } = await jwksServer(t, () => body);
    const receipt = await signReceipt(claims, key);
    assert.equal(codeOf(await verifier.verify(receipt)), 'keysUnavailable');
    body = '{"keys": [';
    clock.advanceSeconds(1);
    assert.equal(codeOf(await verifier.verify(receipt)), 'keysUnavailable');
    body = jwks(key);
    clock.advanceSeconds(1);
    assert.equal(codeOf(await verifier.verify(receipt)), 'ok');
  });

  it('refuses a receipt that is not a signed Mite receipt without asking for keys', async (t) => {
    const key = await createSigningKey();
    const { verifier, requests } = await jwksServer(t, () => jwks(key));
    const noKid = await signReceipt(claims, key, { kid: '' });
    assert.equal(codeOf(await verifier.verify('e30.e30.AAAA')), 'receiptInvalid');
    assert.equal(codeOf(await verifier.verify('bm90IGpzb24.e30.AAAA')), 'receiptInvalid');
    assert.equal(requests(), 0);
    assert.equal(codeOf(await verifier.verify(noKid)), 'unknownKey');
    assert.equal(requests(), 1);
  });
});
