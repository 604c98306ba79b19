/**
 * A table of hostile inputs, one row per attack or accident, each with the precise code it must
 * produce; and a check that the table, with the other tests' inputs, reaches every decoder code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAmount } from './amounts.ts';
import { headerLengthMax } from './auth-params.ts';
import {
  decodeBase64url,
  encodeBase64Json,
  encodeBase64url,
  encodeBase64urlJson,
} from './base64url.ts';
import { challengeEcho, formatChallengeHeader, parseChallengeHeader } from './challenge.ts';
import { credentialHeaderLengthMax, credentialJson, parseCredentialHeader } from './credential.ts';
import { parsePaymentReceiptHeader } from './payment-receipt.ts';
import { type Decoded, type DecodeErrorCode, type ProtocolErrorCode } from './problems.ts';
import { checkReceiptBinding } from './receipt-binding.ts';
import { decodeReceiptClaims } from './receipt-claims.ts';
import {
  base64urlOfText,
  testChallenge,
  testClaims,
  testCredential,
  testNowSeconds,
  testRequest,
} from './testing.ts';
import { decodePriceList, parsePriceList, priceListLengthMax } from './well-known.ts';
import {
  parseX402PaymentRequired,
  parseX402PaymentSignature,
  x402HeaderLengthMax,
} from './x402.ts';

const now = { nowSeconds: testNowSeconds };
const challenge = testChallenge();
const valid = formatChallengeHeader(challenge);
const echo = challengeEcho(challenge);
const wire = credentialJson(testCredential(challenge));
const readChallenge = (header: string): Decoded<unknown> => parseChallengeHeader(header, now);
const withRequest = (request: unknown): string =>
  valid.replace(challenge.requestEncoded, encodeBase64urlJson(request));
const credentialOf = (json: unknown): string => `Payment ${encodeBase64urlJson(json)}`;
const withDetails = (details: Record<string, unknown>): Record<string, unknown> => ({
  ...testRequest,
  methodDetails: { ...testRequest.methodDetails, ...details },
});
const priceList = {
  realm: 'r',
  merchant: 'mer_1',
  platform: 'https://pay.example',
  currency: 'USD',
  routes: [{ method: 'GET', path: '/a', price: '0.01', accessPeriodSeconds: 0 }],
};
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

const table: [name: string, run: () => Decoded<unknown>, code: ProtocolErrorCode][] = [
  // Oversize, everywhere a length can be chosen by the sender.
  [
    'challenge header of 8 KB + 1',
    () => readChallenge(`${valid}${' '.repeat(headerLengthMax)}`),
    'headerTooLong',
  ],
  [
    'credential of 12 KB + 1',
    () => parseCredentialHeader(`Payment ${'A'.repeat(credentialHeaderLengthMax)}`),
    'headerTooLong',
  ],
  [
    'Payment-Receipt of 8 KB + 1',
    () => parsePaymentReceiptHeader('A'.repeat(headerLengthMax + 1)),
    'headerTooLong',
  ],
  [
    'x402 header of 24 KB + 4',
    () => parseX402PaymentSignature('QUFB'.repeat(x402HeaderLengthMax / 4 + 1)),
    'headerTooLong',
  ],
  [
    'price list of 1 MB + 1',
    () => parsePriceList(' '.repeat(priceListLengthMax + 1)),
    'valueTooLong',
  ],
  [
    'request of 3 KB + 1',
    () => readChallenge(valid.replace(challenge.requestEncoded, 'A'.repeat(3073))),
    'valueTooLong',
  ],
  [
    'realm of 129 characters',
    () => readChallenge(valid.replace('realm="news.example"', `realm="${'r'.repeat(129)}"`)),
    'valueTooLong',
  ],
  [
    '33 parameters',
    () => readChallenge(`${valid}, ${Array.from({ length: 27 }, (_, i) => `x${i}=1`).join(', ')}`),
    'tooManyParameters',
  ],
  [
    '17 challenges',
    () => readChallenge(Array.from({ length: 17 }, () => 'Basic').join(', ')),
    'tooManyEntries',
  ],
  [
    '1001 routes',
    () =>
      decodePriceList({
        ...priceList,
        routes: Array.from({ length: 1001 }, (_, i) => ({ ...priceList.routes[0], path: `/${i}` })),
      }),
    'tooManyEntries',
  ],
  // Characters that have no business in a header.
  [
    'NUL in a quoted string',
    () => readChallenge(valid.replace('Article 42', 'Article\u000042')),
    'badCharacter',
  ],
  ['CR LF header injection', () => readChallenge(`${valid}\r\nSet-Cookie: a=b`), 'badCharacter'],
  [
    'U+2028 in a header',
    () => readChallenge(valid.replace('Article 42', 'Article\u202842')),
    'badCharacter',
  ],
  ['DEL in a credential', () => parseCredentialHeader('Payment abc\u007f'), 'badCharacter'],
  // Syntax.
  ['unterminated quote', () => readChallenge(valid.slice(0, -1)), 'unterminatedQuote'],
  ['missing comma', () => readChallenge(valid.replace(', realm', ' realm')), 'malformedHeader'],
  [
    'tab after the scheme',
    () => readChallenge(valid.replace('Payment ', 'Payment\t')),
    'malformedHeader',
  ],
  ['credential with parameters', () => parseCredentialHeader('Payment id="x"'), 'malformedHeader'],
  ['duplicate id', () => readChallenge(`${valid}, id="again"`), 'duplicateParameter'],
  ['duplicate id in other case', () => readChallenge(`${valid}, ID="again"`), 'duplicateParameter'],
  [
    'duplicate route',
    () => decodePriceList({ ...priceList, routes: [...priceList.routes, ...priceList.routes] }),
    'duplicateEntry',
  ],
  // Schemes, methods, intents and parameters that are not Mite's.
  ['Bearer only', () => readChallenge('Bearer realm="x"'), 'unknownScheme'],
  [
    'Basic credential',
    () => parseCredentialHeader('Basic YWxhZGRpbjpvcGVuc2VzYW1l'),
    'unknownScheme',
  ],
  [
    'another method',
    () => readChallenge(valid.replace('method="mite"', 'method="tempo"')),
    'unsupportedMethod',
  ],
  [
    'another intent',
    () => readChallenge(valid.replace('intent="charge"', 'intent="session"')),
    'unsupportedIntent',
  ],
  ['opaque parameter', () => readChallenge(`${valid}, opaque="e30"`), 'unsupportedParameter'],
  [
    'x402 version 1',
    () => parseX402PaymentRequired(encodeBase64Json({ x402Version: 1, accepts: [] }), now),
    'unsupportedVersion',
  ],
  ['no expires', () => readChallenge(valid.replace(/, expires="[^"]*"/, '')), 'missingParameter'],
  [
    'a 22-character id',
    () => readChallenge(valid.replace(challenge.id, 'x7Tg2pLqR9mKvNwY3hBcZa')),
    'badParameter',
  ],
  // Encodings.
  [
    'padded request',
    () => readChallenge(valid.replace(challenge.requestEncoded, `${challenge.requestEncoded}==`)),
    'badBase64',
  ],
  ['standard-alphabet credential', () => parseCredentialHeader('Payment ab+/'), 'badBase64'],
  ['stray bits in base64url', () => decodeBase64url('Zh', 10), 'badBase64'],
  ['base64url in an x402 header', () => parseX402PaymentSignature('eyJh-_'), 'badBase64'],
  [
    'request not JSON',
    () => readChallenge(valid.replace(challenge.requestEncoded, base64urlOfText('amount=1'))),
    'badJson',
  ],
  [
    'request in Latin-1, not UTF-8',
    () =>
      readChallenge(
        valid.replace(
          challenge.requestEncoded,
          encodeBase64url(new Uint8Array([0x22, 0xe9, 0x22])),
        ),
      ),
    'badJson',
  ],
  [
    'credential with a trailing comma',
    () => parseCredentialHeader(`Payment ${base64urlOfText('{"a":1,}')}`),
    'badJson',
  ],
  // Types and fields.
  ['request as an array', () => readChallenge(withRequest([testRequest])), 'wrongType'],
  [
    'deeply nested JSON',
    () => parseCredentialHeader(`Payment ${base64urlOfText(nested(3000))}`),
    'wrongType',
  ],
  [
    'amount as a number',
    () => readChallenge(withRequest({ ...testRequest, amount: 20_000 })),
    'wrongType',
  ],
  [
    'access period as text',
    () => readChallenge(withRequest(withDetails({ accessPeriodSeconds: '86400' }))),
    'wrongType',
  ],
  [
    'receipt claims times as text',
    () => decodeReceiptClaims({ ...testClaims(), accessUntil: '2027-01-01' }),
    'wrongType',
  ],
  [
    'unknown payload field',
    () =>
      parseCredentialHeader(credentialOf({ ...wire, payload: { ...wire.payload, admin: true } })),
    'unknownField',
  ],
  [
    'unknown receipt claim',
    () => decodeReceiptClaims({ ...testClaims(), admin: true }),
    'unknownField',
  ],
  [
    'missing amount',
    () => readChallenge(withRequest({ ...testRequest, amount: undefined })),
    'missingField',
  ],
  [
    'missing payload',
    () => parseCredentialHeader(credentialOf({ challenge: echo })),
    'missingField',
  ],
  [
    'empty recipient',
    () => readChallenge(withRequest({ ...testRequest, recipient: '' })),
    'badValue',
  ],
  [
    'bidi override in a description',
    () => readChallenge(withRequest({ ...testRequest, description: 'pay \u202e01.0' })),
    'badValue',
  ],
  // Money, currency, URLs and time.
  [
    'negative amount',
    () => readChallenge(withRequest({ ...testRequest, amount: '-20000' })),
    'badAmount',
  ],
  ['exponent amount', () => parseAmount('2e-2'), 'badAmount'],
  ['seven decimals', () => parseAmount('0.0000001'), 'badAmount'],
  ['amount above 10^12', () => parseAmount('1000000000001'), 'badAmount'],
  ['zero price', () => readChallenge(withRequest({ ...testRequest, amount: '0' })), 'badAmount'],
  [
    'decimal request amount',
    () => readChallenge(withRequest({ ...testRequest, amount: '0.02' })),
    'badAmount',
  ],
  [
    'request amount above 10^18 micro-units',
    () => readChallenge(withRequest({ ...testRequest, amount: '1000000000000000001' })),
    'badAmount',
  ],
  [
    'mixed-case currency',
    () => readChallenge(withRequest({ ...testRequest, currency: 'uSD' })),
    'badCurrency',
  ],
  [
    'javascript: platform',
    () => readChallenge(withRequest(withDetails({ platform: 'javascript:alert(1)' }))),
    'badUrl',
  ],
  [
    'platform with a fragment',
    () => readChallenge(withRequest(withDetails({ platform: 'https://pay.example/#x' }))),
    'badUrl',
  ],
  [
    'expires with an offset',
    () => readChallenge(valid.replace(/expires="[^"]*"/, 'expires="2027-01-15T09:05:00+01:00"')),
    'badTimestamp',
  ],
  [
    'expires on February 30th',
    () => readChallenge(valid.replace(/expires="[^"]*"/, 'expires="2027-02-30T00:00:00Z"')),
    'badTimestamp',
  ],
  [
    'receipt timestamp as epoch',
    () =>
      parsePaymentReceiptHeader(
        encodeBase64urlJson({
          status: 'success',
          method: 'mite',
          timestamp: '1800000000',
          reference: 'p',
          challengeId: challenge.id,
          accessUntil: '2027-01-15T08:00:00Z',
        }),
      ),
    'badTimestamp',
  ],
  [
    'receipt of two segments',
    () => parseCredentialHeader(credentialOf({ ...wire, payload: { receipt: 'eyJh.eyJh' } })),
    'badJws',
  ],
  [
    'receipt of 4 KB + 1',
    () =>
      parseCredentialHeader(
        credentialOf({ ...wire, payload: { receipt: `a.b.${'c'.repeat(4094)}` } }),
      ),
    'badJws',
  ],
  // Expired and future-dated.
  [
    'expired challenge',
    () => parseChallengeHeader(valid, { nowSeconds: testNowSeconds + 3600 }),
    'challengeExpired',
  ],
  [
    'challenge expiring in a year',
    () =>
      readChallenge(
        formatChallengeHeader(testChallenge({ expiresAtSeconds: testNowSeconds + 31_536_000 })),
      ),
    'futureDated',
  ],
  [
    'receipt issued tomorrow',
    () =>
      checkReceiptBinding(
        {
          ...testClaims(),
          issuedAt: testNowSeconds + 86_400,
          accessUntil: testNowSeconds + 90_000,
        },
        challenge,
        now,
      ),
    'futureDated',
  ],
  [
    'access period over',
    () => checkReceiptBinding(testClaims(), challenge, { nowSeconds: testNowSeconds + 86_400 }),
    'accessExpired',
  ],
  // A receipt for something else.
  [
    'receipt for another merchant',
    () => checkReceiptBinding({ ...testClaims(), merchantId: 'mer_evil' }, challenge, now),
    'wrongMerchant',
  ],
  [
    'receipt for another resource',
    () => checkReceiptBinding({ ...testClaims(), resource: '/free' }, challenge, now),
    'wrongResource',
  ],
  [
    'receipt for a smaller amount',
    () => checkReceiptBinding({ ...testClaims(), amount: '0.000001' }, challenge, now),
    'wrongAmount',
  ],
  [
    'receipt in another currency',
    () => checkReceiptBinding({ ...testClaims(), currency: 'JPY' }, challenge, now),
    'wrongCurrency',
  ],
  [
    'receipt for another challenge',
    () =>
      checkReceiptBinding(
        { ...testClaims(), challengeId: testChallenge({ realm: 'x' }).id },
        challenge,
        now,
      ),
    'challengeMismatch',
  ],
];

describe('hostile input', () => {
  for (const [name, run, code] of table) {
    it(`${name}: ${code}`, () => {
      const result = run();
      assert.equal(result.ok ? 'ok' : result.code, code, result.ok ? 'accepted' : result.detail);
      assert.ok(!result.ok && result.detail.length > 0);
    });
  }

  it('ignores unknown fields where the draft says to, without letting them in', () => {
    const polluted = readChallenge(
      valid.replace(
        challenge.requestEncoded,
        base64urlOfText(JSON.stringify(testRequest).replace('{', '{"__proto__":{"admin":true},')),
      ),
    );
    assert.ok(polluted.ok);
    assert.equal(({} as Record<string, unknown>)['admin'], undefined);
    assert.equal('admin' in (polluted.value as { request: object }).request, false);
    const padded = [
      readChallenge(withRequest({ ...testRequest, merchant: 'acct_1', externalId: 'x' })),
      parseCredentialHeader(credentialOf({ ...wire, source2: 'x' })),
      parseCredentialHeader(credentialOf({ ...wire, challenge: { ...echo, digest: 'x' } })),
    ];
    for (const result of padded) assert.ok(result.ok, result.ok ? '' : result.detail);
  });

  it('reaches every decoder code', () => {
    const decodeCodes = {
      headerTooLong: true,
      badCharacter: true,
      malformedHeader: true,
      unterminatedQuote: true,
      duplicateParameter: true,
      tooManyParameters: true,
      unknownScheme: true,
      unsupportedMethod: true,
      unsupportedIntent: true,
      unsupportedParameter: true,
      unsupportedVersion: true,
      missingParameter: true,
      badParameter: true,
      badBase64: true,
      badJson: true,
      valueTooLong: true,
      tooManyEntries: true,
      duplicateEntry: true,
      unknownField: true,
      missingField: true,
      wrongType: true,
      badValue: true,
      badAmount: true,
      badCurrency: true,
      badUrl: true,
      badTimestamp: true,
      badJws: true,
      futureDated: true,
      challengeExpired: true,
    } as const satisfies Record<DecodeErrorCode, true>;
    const reached = new Set(table.map(([, , code]) => code));
    const missed = Object.keys(decodeCodes).filter((code) => !reached.has(code as DecodeErrorCode));
    assert.deepEqual(missed, []);
  });
});
