/**
 * Property tests: (a) what Mite writes, Mite reads back unchanged; (b) no decoder throws, whatever
 * it is given; (c) no edit of a challenge header yields a different challenge that the merchant's
 * secret still vouches for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseAmount, parsePositiveAmount } from './amounts.ts';
import { parseAuthChallenges, parseAuthCredentials } from './auth-params.ts';
import {
  decodeBase64,
  decodeBase64Json,
  decodeBase64url,
  decodeBase64urlJson,
  encodeBase64Json,
  encodeBase64urlJson,
} from './base64url.ts';
import {
  type Challenge,
  challengeIdMatches,
  decodeChallengeEcho,
  decodePaymentRequest,
  formatChallengeHeader,
  parseChallengeHeader,
} from './challenge.ts';
import {
  checkCompactJws,
  decodeCredentialJson,
  formatCredentialHeader,
  parseCredentialHeader,
} from './credential.ts';
import {
  formatPaymentReceiptHeader,
  parsePaymentReceiptHeader,
  type PaymentReceipt,
} from './payment-receipt.ts';
import { type Decoded, problemTable } from './problems.ts';
import { decodeReceiptClaims } from './receipt-claims.ts';
import {
  formatSessionChallengeHeader,
  parseSessionChallengeHeader,
  sessionChallengeIdMatches,
} from './session-challenge.ts';
import {
  decodeSessionCredentialJson,
  formatSessionCredentialHeader,
  parseSessionCredentialHeader,
} from './session-credential.ts';
import { decodeSessionGrantClaims } from './session-grant.ts';
import {
  decodeSessionReceipt,
  parseNeedVoucher,
  parseSessionReceiptHeader,
} from './session-receipt.ts';
import { decodeSessionVoucher, signVoucher, voucherKeyPair } from './session-voucher.ts';
import {
  challengeArbitrary,
  credentialArbitrary,
  mutationArbitrary,
  testChallenge,
  testCredential,
  testNowSeconds,
  testSecret,
  testSessionChallenge,
  testSessionId,
} from './testing.ts';
import { parseTimestamp, timestampSecondsMax } from './timestamps.ts';
import { decodePriceList, parsePriceList } from './well-known.ts';
import {
  encodeX402Header,
  parseX402PaymentRequired,
  parseX402PaymentSignature,
  toX402PaymentPayload,
  toX402PaymentRequired,
} from './x402.ts';

const runs = { numRuns: 150 };
const now = { nowSeconds: testNowSeconds };

/** Asserts the Decoded shape: a value, or a known code with a detail. */
function assertDecoded(result: Decoded<unknown>): void {
  if (result.ok) {
    assert.ok('value' in result);
    return;
  }
  assert.ok(result.code in problemTable, `unknown code ${String(result.code)}`);
  assert.equal(typeof result.detail, 'string');
}

/** Current at its own expiry minus one second: neither expired nor future-dated. */
function currentFor(challenge: Challenge): { nowSeconds: number } {
  return { nowSeconds: challenge.expiresAtSeconds - 1 };
}

const textDecoders: [string, (text: string) => Decoded<unknown>][] = [
  ['parseAmount', parseAmount],
  ['parsePositiveAmount', parsePositiveAmount],
  ['parseTimestamp', parseTimestamp],
  ['decodeBase64url', (text) => decodeBase64url(text, 4096)],
  ['decodeBase64', (text) => decodeBase64(text, 4096)],
  ['decodeBase64urlJson', (text) => decodeBase64urlJson(text, 4096)],
  ['decodeBase64Json', (text) => decodeBase64Json(text, 4096)],
  ['parseAuthChallenges', parseAuthChallenges],
  ['parseAuthCredentials', (text) => parseAuthCredentials(text)],
  ['parseChallengeHeader', (text) => parseChallengeHeader(text, now)],
  ['parseCredentialHeader', parseCredentialHeader],
  ['parsePaymentReceiptHeader', parsePaymentReceiptHeader],
  ['parseX402PaymentRequired', (text) => parseX402PaymentRequired(text, now)],
  ['parseX402PaymentSignature', parseX402PaymentSignature],
  ['parsePriceList', parsePriceList],
  ['checkCompactJws', checkCompactJws],
  ['parseSessionChallengeHeader', (text) => parseSessionChallengeHeader(text, now)],
  ['parseSessionCredentialHeader', parseSessionCredentialHeader],
  ['parseSessionReceiptHeader', parseSessionReceiptHeader],
  ['parseNeedVoucher', parseNeedVoucher],
];

const jsonDecoders: [string, (json: unknown) => Decoded<unknown>][] = [
  ['decodePaymentRequest', decodePaymentRequest],
  ['decodeChallengeEcho', (json) => decodeChallengeEcho(json, 'challenge')],
  ['decodeCredentialJson', decodeCredentialJson],
  ['decodeReceiptClaims', decodeReceiptClaims],
  ['decodePriceList', decodePriceList],
  ['decodeSessionVoucher', decodeSessionVoucher],
  ['decodeSessionGrantClaims', decodeSessionGrantClaims],
  ['decodeSessionCredentialJson', decodeSessionCredentialJson],
  ['decodeSessionReceipt', decodeSessionReceipt],
];

const hostileText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.stringMatching(/^(Payment|Bearer|Basic) [\w="\\, -]{0,120}$/),
  fc.stringMatching(/^[A-Za-z0-9_=+/-]{0,200}$/),
  fc.jsonValue().map((value) => encodeBase64urlJson(value)),
  fc.jsonValue().map((value) => `Payment ${encodeBase64urlJson(value)}`),
  fc.jsonValue().map((value) => encodeBase64Json(value)),
);

describe('properties', () => {
  it('(a) challenges round-trip through the header, ids intact', () => {
    fc.assert(
      fc.property(challengeArbitrary, (challenge) => {
        const parsed = parseChallengeHeader(
          formatChallengeHeader(challenge),
          currentFor(challenge),
        );
        assert.deepEqual(parsed, { ok: true, value: challenge });
      }),
      runs,
    );
  });

  it('(a) credentials round-trip through the header', () => {
    fc.assert(
      fc.property(credentialArbitrary, (credential) => {
        assert.deepEqual(parseCredentialHeader(formatCredentialHeader(credential)), {
          ok: true,
          value: credential,
        });
      }),
      runs,
    );
  });

  it('(a) challenges and credentials round-trip through the x402 envelope', () => {
    fc.assert(
      fc.property(credentialArbitrary, (credential) => {
        const { challenge } = credential;
        const required = encodeX402Header(
          toX402PaymentRequired(challenge, { url: 'https://s.example/' }),
        );
        assert.deepEqual(parseX402PaymentRequired(required, currentFor(challenge)), {
          ok: true,
          value: challenge,
        });
        const signature = encodeX402Header(toX402PaymentPayload(credential));
        assert.deepEqual(parseX402PaymentSignature(signature), { ok: true, value: credential });
      }),
      runs,
    );
  });

  it('(a) Payment-Receipt headers round-trip', () => {
    // fast-check builds records without a prototype; spreading gives them Object's, as parsing does.
    const receiptArbitrary: fc.Arbitrary<PaymentReceipt> = fc
      .record({
        status: fc.constant('success'),
        method: fc.constant('mite'),
        timestampSeconds: fc.integer({ min: 0, max: timestampSecondsMax }),
        reference: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:~-]{0,60}$/),
        challengeId: fc.constant(testChallenge().id),
        accessUntilSeconds: fc.integer({ min: 0, max: timestampSecondsMax }),
      })
      .map((receipt) => ({ ...receipt }));
    fc.assert(
      fc.property(receiptArbitrary, (receipt) => {
        assert.deepEqual(parsePaymentReceiptHeader(formatPaymentReceiptHeader(receipt)), {
          ok: true,
          value: receipt,
        });
      }),
      runs,
    );
  });

  it('(b) no text decoder throws on arbitrary text', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        for (const [, decode] of textDecoders) assertDecoded(decode(text));
      }),
      { numRuns: 400 },
    );
  });

  it('(b) no JSON decoder throws on arbitrary values', () => {
    const values = fc.oneof(fc.jsonValue(), fc.anything(), fc.object());
    fc.assert(
      fc.property(values, (value) => {
        for (const [, decode] of jsonDecoders) assertDecoded(decode(value));
      }),
      { numRuns: 300 },
    );
  });

  it('(b, c) edited challenge headers decode or refuse; none forges a vouched-for challenge', () => {
    const original = testChallenge();
    fc.assert(
      fc.property(mutationArbitrary(formatChallengeHeader(original)), (header) => {
        const parsed = parseChallengeHeader(header, now);
        assertDecoded(parsed);
        if (parsed.ok && challengeIdMatches(parsed.value, testSecret)) {
          assert.deepEqual(parsed.value, original);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('(b) edited credential, receipt and x402 headers decode or refuse', () => {
    const credential = testCredential();
    const headers = [
      formatCredentialHeader(credential),
      encodeX402Header(toX402PaymentPayload(credential)),
      encodeX402Header(toX402PaymentRequired(credential.challenge, { url: 'https://s.example/' })),
      formatPaymentReceiptHeader({
        status: 'success',
        method: 'mite',
        timestampSeconds: testNowSeconds,
        reference: 'pay_1',
        challengeId: credential.challenge.id,
        accessUntilSeconds: testNowSeconds,
      }),
    ];
    fc.assert(
      fc.property(fc.oneof(...headers.map(mutationArbitrary)), (header) => {
        for (const [, decode] of textDecoders) assertDecoded(decode(header));
      }),
      { numRuns: 300 },
    );
  });

  it('(b, c) edited session challenges and credentials decode or refuse; none forges', () => {
    const original = testSessionChallenge();
    const credential = formatSessionCredentialHeader({
      challenge: original,
      payload: {
        action: 'voucher',
        voucher: signVoucher(voucherKeyPair().secretKey, testSessionId, 1_000n),
      },
    });
    fc.assert(
      fc.property(mutationArbitrary(formatSessionChallengeHeader(original)), (header) => {
        const parsed = parseSessionChallengeHeader(header, now);
        assertDecoded(parsed);
        if (parsed.ok && sessionChallengeIdMatches(parsed.value, testSecret)) {
          assert.deepEqual(parsed.value, original);
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(mutationArbitrary(credential), (header) => {
        for (const [, decode] of textDecoders) assertDecoded(decode(header));
      }),
      { numRuns: 200 },
    );
  });
});
