/**
 * Fixtures and fast-check arbitraries shared by this package's tests. Not exported from the
 * package: only `*.test.ts` files import it.
 */
import fc from 'fast-check';
import { amountMicrosMax, formatAmount } from './amounts.ts';
import { encodeBase64url } from './base64url.ts';
import {
  type Challenge,
  chargeRequest,
  issueChallenge,
  type PaymentRequest,
  requestAmountMicros,
} from './challenge.ts';
import { type Credential } from './credential.ts';
import { accessPeriodSecondsMax, descriptionLengthMax } from './fields.ts';
import { type Decoded } from './problems.ts';
import { type ReceiptClaims } from './receipt-claims.ts';
import {
  issueSessionChallenge,
  type SessionChallenge,
  type SessionChallengeOptions,
  type SessionRequest,
  sessionRequest,
} from './session-challenge.ts';
import { timestampSecondsMax } from './timestamps.ts';

export const testSecret = new Uint8Array(32).map((_, index) => index * 7 + 1);
export const otherSecret = new Uint8Array(32).fill(9);
/** 2027-01-15T08:00:00Z. */
export const testNowSeconds = 1_800_000_000;

export const testRequest: PaymentRequest = {
  amount: '20000',
  currency: 'usd',
  recipient: 'mer_1',
  description: 'Café au lait — an article',
  methodDetails: {
    platform: 'https://pay.example',
    resource: 'https://news.example/articles/42',
    category: 'news',
    accessPeriodSeconds: 86_400,
    decimals: 6,
  },
};

export function testChallenge(
  overrides: Partial<Parameters<typeof issueChallenge>[0]> = {},
): Challenge {
  return issueChallenge({
    secret: testSecret,
    realm: 'news.example',
    request: testRequest,
    expiresAtSeconds: testNowSeconds + 300,
    description: 'Article 42',
    ...overrides,
  });
}

/** A compact JWS shape (not a real signature; this package does not verify). */
export const testReceiptJws = [
  encodeBase64url(new TextEncoder().encode('{"alg":"EdDSA","typ":"mite-receipt+jwt"}')),
  encodeBase64url(new TextEncoder().encode('{"paymentId":"pay_1"}')),
  encodeBase64url(new Uint8Array(64).fill(3)),
].join('.');

export function testCredential(challenge: Challenge = testChallenge()): Credential {
  return { challenge, payload: { receipt: testReceiptJws } };
}

export function testClaims(challenge: Challenge = testChallenge()): ReceiptClaims {
  return {
    paymentId: 'pay_0190f1d2-7a3c-7b4e-8f00-123456789abc',
    merchantId: challenge.request.recipient,
    resource: challenge.request.methodDetails.resource,
    amount: formatAmount(requestAmountMicros(challenge.request)),
    currency: 'USD',
    payer: 'psn_abc',
    issuedAt: testNowSeconds,
    accessUntil: testNowSeconds + challenge.request.methodDetails.accessPeriodSeconds,
    challengeId: challenge.id,
  };
}

/** Asserts a refusal's code (and that it is one), for `assert.deepEqual`-free checks. */
export function codeOf<T>(decoded: Decoded<T>): string {
  return decoded.ok ? 'ok' : decoded.code;
}

export function base64urlOfText(text: string): string {
  return encodeBase64url(new TextEncoder().encode(text));
}

const printable = (lengthMax: number): fc.Arbitrary<string> =>
  fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{1,${lengthMax}}$`));

const undisplayable = /[\p{Cc}\p{Cs}\p{Zl}\p{Zp}\u202a-\u202e\u2066-\u2069]/u;

export const amountMicrosArbitrary = fc.bigInt({ min: 1n, max: amountMicrosMax });

export const paymentRequestArbitrary: fc.Arbitrary<PaymentRequest> = fc
  .record(
    {
      amountMicros: amountMicrosArbitrary,
      currency: fc.constantFrom('USD', 'eur', 'chf'),
      recipient: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:~-]{0,40}$/),
      resource: fc.stringMatching(/^\/[\x21-\x7e]{0,80}$/),
      platform: fc.constantFrom(
        'https://pay.example',
        'http://localhost:8080',
        'https://m.example/v/',
      ),
      description: fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
        .filter((text) => text.length <= descriptionLengthMax && !undisplayable.test(text)),
      category: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/),
      accessPeriodSeconds: fc.integer({ min: 0, max: accessPeriodSecondsMax }),
    },
    {
      requiredKeys: [
        'amountMicros',
        'currency',
        'recipient',
        'resource',
        'platform',
        'accessPeriodSeconds',
      ],
    },
  )
  .map((terms) => chargeRequest(terms));

export const challengeArbitrary: fc.Arbitrary<Challenge> = fc
  .record(
    {
      secret: fc.uint8Array({ minLength: 32, maxLength: 48 }),
      realm: printable(60),
      request: paymentRequestArbitrary,
      expiresAtSeconds: fc.integer({ min: 0, max: timestampSecondsMax }),
      description: printable(60),
    },
    { requiredKeys: ['secret', 'realm', 'request', 'expiresAtSeconds'] },
  )
  .map((options) => issueChallenge(options));

const segmentArbitrary = fc
  .uint8Array({ minLength: 1, maxLength: 96 })
  .map((bytes) => encodeBase64url(bytes));

export const jwsArbitrary = fc
  .tuple(segmentArbitrary, segmentArbitrary, segmentArbitrary)
  .map((segments) => segments.join('.'));

export const credentialArbitrary: fc.Arbitrary<Credential> = fc
  .record(
    {
      challenge: challengeArbitrary,
      receipt: jwsArbitrary,
      source: fc.stringMatching(/^[\x21-\x7e]{1,64}$/),
    },
    { requiredKeys: ['challenge', 'receipt'] },
  )
  .map(({ challenge, receipt, source }) =>
    source === undefined
      ? { challenge, payload: { receipt } }
      : { challenge, payload: { receipt }, source },
  );

/** Small edits of a valid text: what a buggy proxy or an attacker would try first. */
export function mutationArbitrary(valid: string): fc.Arbitrary<string> {
  const position = fc.nat({ max: valid.length });
  const anyChar = fc.oneof(
    fc.constantFrom('"', '\\', ',', '=', ' ', '\t', '\n', '\u0000', '-', '_', '+', '/', '.', 'A'),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  );
  return fc.oneof(
    fc.tuple(position, anyChar).map(([at, char]) => valid.slice(0, at) + char + valid.slice(at)),
    fc
      .tuple(position, anyChar)
      .map(([at, char]) => valid.slice(0, at) + char + valid.slice(at + 1)),
    fc
      .tuple(position, fc.nat({ max: 8 }))
      .map(([at, length]) => valid.slice(0, at) + valid.slice(at + length)),
    position.map((at) => valid.slice(0, at)),
    position.map((at) => valid.slice(0, at) + valid.slice(at).toUpperCase()),
    position.map((at) => valid + ', ' + valid.slice(at)),
  );
}

/** A session challenge's request: a song streamed at 100 micro-units a second. */
export const testSessionRequest: SessionRequest = sessionRequest({
  unitPriceMicros: 100n,
  currency: 'USD',
  recipient: 'mer_1',
  platform: 'https://pay.example',
  resource: 'https://radio.example/songs/1',
  unitType: 'second',
  minVoucherDeltaMicros: 1_000n,
  idleTimeoutSeconds: 60,
  vouchers: ['payword', 'ed25519'],
  suggestedDepositMicros: 500_000n,
  description: 'Song 1, by the second',
});

export function testSessionChallenge(
  overrides: Partial<SessionChallengeOptions> = {},
): SessionChallenge {
  return issueSessionChallenge({
    secret: testSecret,
    realm: 'radio.example',
    request: testSessionRequest,
    expiresAtSeconds: testNowSeconds + 300,
    description: 'Song 1',
    ...overrides,
  });
}

/** A session id, as the platform names sessions. */
export const testSessionId = `ses_${'0123456789abcdef'.repeat(2)}`;
