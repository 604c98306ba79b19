import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  decodePaymentRequiredHeader,
  decodePaymentResponseHeader,
  decodePaymentSignatureHeader,
  encodePaymentSignatureHeader,
} from '@x402/core/http';
import { PaymentPayloadV2Schema, PaymentRequiredV2Schema } from '@x402/core/schemas';
import type {
  PaymentPayload,
  PaymentRequired,
  PaymentRequirements,
  SettleResponse,
} from '@x402/core/types';
import { encodeBase64Json } from './base64url.ts';
import { challengeEcho, challengeIdMatches } from './challenge.ts';
import { credentialJson } from './credential.ts';
import {
  codeOf,
  testChallenge,
  testCredential,
  testNowSeconds,
  testReceiptJws,
  testSecret,
} from './testing.ts';
import {
  caip2Pattern,
  encodeX402Header,
  encodeX402PaymentResponse,
  parseX402PaymentRequired,
  parseX402PaymentSignature,
  parseX402Requirements,
  toX402PaymentPayload,
  toX402PaymentRequired,
  toX402SettleResponse,
  x402HeaderLengthMax,
  x402NetworkOf,
  x402RequirementsOf,
} from './x402.ts';

const url = 'https://news.example/articles/42';
/** `x402NetworkOf('https://pay.example')`, worked out independently of the code under test. */
const payExampleNetwork = `mite:${createHash('sha256')
  .update('https://pay.example')
  .digest('hex')
  .slice(0, 32)}`;

describe('x402 envelope', () => {
  it('writes a PAYMENT-REQUIRED that @x402/core itself decodes and validates', () => {
    const challenge = testChallenge();
    const required = toX402PaymentRequired(challenge, { url, mimeType: 'text/html' });
    const typed: PaymentRequired = required; // the shapes agree at compile time too
    const decoded = decodePaymentRequiredHeader(encodeX402Header(typed));
    assert.deepEqual(decoded, required);
    assert.ok(PaymentRequiredV2Schema.safeParse(decoded).success);
    assert.equal(decoded.x402Version, 2);
    assert.deepEqual(decoded.resource, {
      url,
      description: 'Café au lait — an article',
      mimeType: 'text/html',
    });
    const [offer] = decoded.accepts;
    assert.deepEqual(offer, {
      scheme: 'mite',
      network: payExampleNetwork,
      asset: 'usd',
      amount: '20000',
      payTo: 'mer_1',
      maxTimeoutSeconds: 60,
      extra: { challenge: challengeEcho(challenge), platform: 'https://pay.example' },
    });
    // Padded standard base64, which x402 v2 requires, never base64url.
    assert.match(encodeX402Header(required), /^[A-Za-z0-9+/]*={0,2}$/);
  });

  it('names the network by a CAIP-2 id derived from the platform origin', () => {
    assert.match(payExampleNetwork, caip2Pattern);
    assert.equal(x402NetworkOf('https://pay.example'), payExampleNetwork);
    // Only the origin counts: a path or a trailing slash names the same platform.
    assert.equal(x402NetworkOf('https://pay.example/'), payExampleNetwork);
    assert.equal(x402NetworkOf('https://PAY.example/api'), payExampleNetwork);
    for (const platform of [
      'http://localhost:8080',
      'https://a-very-long-platform-host-name.payments.example.org:8443',
      'http://[::1]:3000',
    ]) {
      const network = x402NetworkOf(platform);
      assert.match(network, caip2Pattern, platform);
      assert.notEqual(network, payExampleNetwork);
    }
  });

  it('carries an error member on request, as a refusal\u2019s 402 does', () => {
    const required = toX402PaymentRequired(testChallenge(), { url, error: 'challenge_expired' });
    const decoded = decodePaymentRequiredHeader(encodeX402Header(required));
    assert.equal(decoded.error, 'challenge_expired');
    assert.ok(PaymentRequiredV2Schema.safeParse(decoded).success);
    assert.equal(toX402PaymentRequired(testChallenge(), { url }).error, undefined);
  });

  it('reads base64url envelopes too, padded or not', () => {
    const challenge = testChallenge();
    const standard = encodeX402Header(toX402PaymentRequired(challenge, { url }));
    const urlSafe = standard.replaceAll('+', '-').replaceAll('/', '_');
    for (const header of [urlSafe, urlSafe.replace(/=+$/, '')]) {
      const parsed = parseX402PaymentRequired(header, { nowSeconds: testNowSeconds });
      assert.deepEqual(parsed, { ok: true, value: challenge });
    }
    const credential = testCredential();
    const signature = encodeX402Header(toX402PaymentPayload(credential));
    const unpadded = signature.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
    assert.deepEqual(parseX402PaymentSignature(unpadded), { ok: true, value: credential });
  });

  it('reads its own PAYMENT-REQUIRED back to the challenge, the HMAC intact', () => {
    const challenge = testChallenge();
    const header = encodeX402Header(toX402PaymentRequired(challenge, { url }));
    const parsed = parseX402PaymentRequired(header, { nowSeconds: testNowSeconds });
    assert.deepEqual(parsed, { ok: true, value: challenge });
    assert.ok(parsed.ok && challengeIdMatches(parsed.value, testSecret));
    assert.equal(
      codeOf(parseX402PaymentRequired(header, { nowSeconds: testNowSeconds + 86_400 })),
      'challengeExpired',
    );
  });

  it('reads one requirements object, as an x402 client hands it to a scheme client', () => {
    const challenge = testChallenge();
    const requirements: PaymentRequirements = x402RequirementsOf(challenge);
    const now = { nowSeconds: testNowSeconds };
    assert.deepEqual(parseX402Requirements(requirements, now), { ok: true, value: challenge });
    const cases: [unknown, string][] = [
      [{ ...requirements, scheme: 'exact' }, 'unsupportedMethod'],
      [7, 'unsupportedMethod'],
      [{ scheme: 'mite' }, 'missingField'],
      [{ ...requirements, extra: {} }, 'missingField'],
      [{ ...requirements, amount: '1' }, 'challengeMismatch'],
      [{ ...requirements, network: x402NetworkOf('https://other.example') }, 'challengeMismatch'],
    ];
    for (const [value, code] of cases) {
      assert.equal(codeOf(parseX402Requirements(value, now)), code, JSON.stringify(value));
    }
    const later = { nowSeconds: testNowSeconds + 86_400 };
    assert.equal(codeOf(parseX402Requirements(requirements, later)), 'challengeExpired');
  });

  it('reads a PAYMENT-SIGNATURE that an x402 client encoded', () => {
    const credential = testCredential();
    const payload: PaymentPayload = toX402PaymentPayload(credential, { resource: { url } });
    assert.ok(PaymentPayloadV2Schema.safeParse(payload).success);
    const header = encodePaymentSignatureHeader(payload);
    assert.deepEqual(decodePaymentSignatureHeader(header), payload);
    assert.deepEqual(parseX402PaymentSignature(header), { ok: true, value: credential });
    assert.deepEqual(parseX402PaymentSignature(encodeX402Header(payload)), {
      ok: true,
      value: credential,
    });
  });

  it('writes a PAYMENT-RESPONSE that @x402/core decodes', () => {
    const receipt = {
      status: 'success',
      method: 'mite',
      timestampSeconds: testNowSeconds,
      reference: 'pay_1',
      challengeId: testChallenge().id,
      accessUntilSeconds: testNowSeconds + 3600,
    } as const;
    const settle: SettleResponse = toX402SettleResponse(receipt, {
      platform: 'https://pay.example',
      payer: 'psn_abc',
    });
    const header = encodeX402PaymentResponse(receipt, {
      platform: 'https://pay.example',
      payer: 'psn_abc',
    });
    assert.deepEqual(decodePaymentResponseHeader(header), settle);
    assert.deepEqual(settle, {
      success: true,
      transaction: 'pay_1',
      network: payExampleNetwork,
      payer: 'psn_abc',
      extra: { challengeId: receipt.challengeId, accessUntil: '2027-01-15T09:00:00Z' },
    });
  });

  it('refuses envelopes that are not Mite\u2019s or disagree with the challenge inside', () => {
    const challenge = testChallenge();
    const credential = testCredential(challenge);
    const requirements: PaymentRequirements = x402RequirementsOf(challenge);
    const signature = (value: unknown): string => encodeBase64Json(value);
    const payload = { x402Version: 2, accepted: requirements, payload: credentialJson(credential) };
    const other = testChallenge({ realm: 'other' });
    const cases: [string, string][] = [
      ['A'.repeat(x402HeaderLengthMax + 4), 'headerTooLong'],
      ['e3=0', 'badBase64'],
      ['e30*', 'badBase64'],
      // Unpadded "{}", read as base64url: well-formed text, but not a PaymentPayload.
      ['e30', 'missingField'],
      [signature('x'), 'wrongType'],
      [signature({ ...payload, x402Version: 1 }), 'unsupportedVersion'],
      [
        signature({ ...payload, accepted: { ...requirements, scheme: 'exact' } }),
        'unsupportedMethod',
      ],
      [
        signature({ ...payload, accepted: { ...requirements, amount: '10000' } }),
        'challengeMismatch',
      ],
      [
        signature({ ...payload, accepted: { ...requirements, payTo: 'mer_2' } }),
        'challengeMismatch',
      ],
      [
        signature({
          ...payload,
          accepted: x402RequirementsOf(other),
          payload: credentialJson(testCredential(other)),
        }),
        'ok',
      ],
      // A ticket bought for an earlier challenge, echoed with the current 402's requirements.
      [
        signature({
          ...payload,
          accepted: { ...requirements, extra: { challenge: challengeEcho(other) } },
        }),
        'ok',
      ],
      [signature({ ...payload, payload: { receipt: 'x' } }), 'missingField'],
      // The credential's top level ignores unknown members (the draft's rule); its payload does not.
      [signature({ ...payload, payload: { ...credentialJson(credential), tx: '0x1' } }), 'ok'],
      [
        signature({
          ...payload,
          payload: {
            ...credentialJson(credential),
            payload: { receipt: testReceiptJws, tx: '0x1' },
          },
        }),
        'unknownField',
      ],
      [
        signature({ ...payload, accepted: { ...requirements, maxTimeoutSeconds: '60' } }),
        'wrongType',
      ],
    ];
    for (const [header, code] of cases)
      assert.equal(codeOf(parseX402PaymentSignature(header)), code, header.slice(0, 40));
    const required = toX402PaymentRequired(challenge, { url });
    const now = { nowSeconds: testNowSeconds };
    const offers = (accepts: unknown[]): string => signature({ ...required, accepts });
    assert.equal(codeOf(parseX402PaymentRequired(offers([]), now)), 'unsupportedMethod');
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([{ ...requirements, scheme: 'exact' }]), now)),
      'unsupportedMethod',
    );
    assert.equal(
      codeOf(
        parseX402PaymentRequired(offers([{ ...requirements, scheme: 'exact' }, requirements]), now),
      ),
      'ok',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([{ scheme: 'mite' }]), now)),
      'missingField',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([{ scheme: 'exact' }, requirements]), now)),
      'ok',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([7, { scheme: 'exact' }]), now)),
      'unsupportedMethod',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([{ ...requirements, extra: {} }]), now)),
      'missingField',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(offers([{ ...requirements, asset: 'EUR' }]), now)),
      'challengeMismatch',
    );
    assert.equal(
      codeOf(parseX402PaymentRequired(signature({ ...required, x402Version: 3 }), now)),
      'unsupportedVersion',
    );
  });
});
