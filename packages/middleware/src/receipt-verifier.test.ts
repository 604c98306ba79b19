import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { createServer } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { decodeReceiptClaims, type ReceiptClaims, receiptMediaType } from '@mite/protocol';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
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
    clock: clock.nowMs,
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
    assert.deepEqual(verdicts[0], { ok: true, value: claims });
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

/** A compact JWS signed with node:crypto over whatever header and payload text the test gives. */
function rawJws(
  key: SigningKey,
  header: Record<string, unknown>,
  payload: string,
  options: { readonly encodePayload?: boolean } = {},
): string {
  const encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  const encodedPayload =
    options.encodePayload === false ? payload : Buffer.from(payload).toString('base64url');
  const signingInput = `${encodedHeader}.${encodedPayload}`;
  const signature = sign(null, Buffer.from(signingInput), key.privateKey).toString('base64url');
  return `${signingInput}.${signature}`;
}

describe('the receipt verifier against jose', () => {
  it('accepts and refuses exactly what jose compactVerify (EdDSA, Ed25519) did', async (t) => {
    const key = await createSigningKey();
    const other = await createSigningKey();
    const { verifier } = await jwksServer(t, () => jwks(key));
    const joseKey = await importJWK(
      { kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x ?? '' },
      'EdDSA',
    );
    const base = { alg: 'EdDSA', kid: key.kid, typ: receiptMediaType };
    const payload = JSON.stringify(claims);
    const good = rawJws(key, base, payload);
    const [goodHeader, goodPayload, goodSignature] = good.split('.');
    const cases: Record<string, string> = {
      'as the platform signs': await signReceipt(claims, key),
      'hand-signed': good,
      'alg Ed25519': rawJws(key, { ...base, alg: 'Ed25519' }, payload),
      'alg none': rawJws(key, { ...base, alg: 'none' }, payload),
      'alg ES256': rawJws(key, { ...base, alg: 'ES256' }, payload),
      'no typ': rawJws(key, { alg: 'EdDSA', kid: key.kid }, payload),
      'an extra header field': rawJws(key, { ...base, x5u: 'https://x.example' }, payload),
      'crit b64 true': rawJws(key, { ...base, crit: ['b64'], b64: true }, payload),
      'crit b64 without b64': rawJws(key, { ...base, crit: ['b64'] }, payload),
      'crit b64 not boolean': rawJws(key, { ...base, crit: ['b64'], b64: 'yes' }, payload),
      'crit unknown': rawJws(key, { ...base, crit: ['exp'], exp: 1 }, payload),
      'crit empty': rawJws(key, { ...base, crit: [] }, payload),
      'crit not an array': rawJws(key, { ...base, crit: 'b64', b64: true }, payload),
      'unencoded payload': rawJws(key, { ...base, crit: ['b64'], b64: false }, 'e30', {
        encodePayload: false,
      }),
      'signed by another key': rawJws(other, base, payload),
      'signature truncated': `${goodHeader}.${goodPayload}.${goodSignature?.slice(0, 40)}`,
      'signature empty': `${goodHeader}.${goodPayload}.`,
      'payload swapped': `${goodHeader}.${Buffer.from('{}').toString('base64url')}.${goodSignature}`,
      'five segments': `${good}.e30.e30`,
      'header an array': rawJws(key, [base] as unknown as Record<string, unknown>, payload),
      'header not JSON': `bm90IGpzb24.${goodPayload}.${goodSignature}`,
      'payload not JSON': rawJws(key, base, 'not json'),
      'claims with defects': rawJws(key, base, JSON.stringify({ ...claims, scope: 'all' })),
    };
    const accepted: string[] = [];
    for (const [name, jws] of Object.entries(cases)) {
      let joseOk: boolean;
      try {
        const { payload: verified } = await compactVerify(jws, joseKey, {
          algorithms: ['EdDSA', 'Ed25519'],
        });
        const header = decodeProtectedHeader(jws);
        joseOk =
          header.typ === receiptMediaType &&
          typeof header.kid === 'string' &&
          decodeReceiptClaims(JSON.parse(new TextDecoder().decode(verified))).ok;
      } catch {
        joseOk = false;
      }
      const ours = await verifier.verify(jws);
      assert.equal(ours.ok, joseOk, `${name}: ours ${codeOf(ours)}, jose ${joseOk ? 'ok' : 'no'}`);
      if (ours.ok) accepted.push(name);
    }
    assert.deepEqual(accepted, [
      'as the platform signs',
      'hand-signed',
      'alg Ed25519',
      'an extra header field',
      'crit b64 true',
    ]);
  });

  it('makes a key object once per key and keeps it while the JWKS publishes the same key', async (t) => {
    const key = await createSigningKey();
    const impostor = await createSigningKey();
    let published = jwks(key);
    let replaced = 0;
    const app = await listen(
      createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(published);
      }),
    );
    t.after(() => app.close());
    const clock = createTestClock();
    const verifier = createReceiptVerifier({
      jwksUrl: `${app.url}/v1/keys`,
      fetch,
      clock: clock.nowMs,
      refreshIntervalMinMs: 1000,
      onKeySetReplaced: () => void (replaced += 1),
    });
    const first = await verifier.verifyKeyed(await signReceipt(claims, key));
    assert.ok(first.ok && first.value.kid === key.kid);
    assert.ok(verifier.holdsKey(key.kid, first.value.key));
    // A refresh (for an unknown kid) that publishes the same key keeps the same key object.
    clock.advanceSeconds(1);
    const unknown = await verifier.verify(await signReceipt(claims, impostor));
    assert.equal(codeOf(unknown), 'unknownKey');
    assert.equal(replaced, 2);
    assert.ok(verifier.holdsKey(key.kid, first.value.key));
    // Another key under the same kid: the old key object is no longer held.
    published = JSON.stringify({ keys: [{ ...impostor.publicJwk, kid: key.kid }] });
    clock.advanceSeconds(1);
    assert.equal(codeOf(await verifier.verify(await signReceipt(claims, impostor))), 'unknownKey');
    assert.equal(replaced, 3);
    assert.equal(verifier.holdsKey(key.kid, first.value.key), false);
    assert.equal(codeOf(await verifier.verify(await signReceipt(claims, key))), 'receiptInvalid');
    const signedByImpostor = await signReceipt(claims, impostor, { kid: key.kid });
    assert.equal(codeOf(await verifier.verify(signedByImpostor)), 'ok');
  });
});
