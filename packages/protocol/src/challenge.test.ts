import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBase64url,
  decodeBase64urlJson,
  encodeBase64url,
  encodeBase64urlJson,
} from './base64url.ts';
import {
  challengeEcho,
  challengeFromEcho,
  challengeIdMatches,
  challengeLifetimeSecondsMax,
  clockSkewSecondsMax,
  decodePaymentRequest,
  formatChallengeHeader,
  issueChallenge,
  parseChallengeHeader,
  requestEncodedLengthMax,
} from './challenge.ts';
import {
  base64urlOfText,
  codeOf,
  otherSecret,
  testChallenge,
  testNowSeconds,
  testRequest,
  testSecret,
} from './testing.ts';

const now = { nowSeconds: testNowSeconds };

/** The test request with some of its method details replaced (or removed, with `undefined`). */
function withDetails(details: Record<string, unknown>): Record<string, unknown> {
  return { ...testRequest, methodDetails: { ...testRequest.methodDetails, ...details } };
}

/** A valid header with one parameter replaced (or removed, with `undefined`). */
function headerWith(name: string, value: string | undefined): string {
  const params = new Map(
    [
      ...formatChallengeHeader(testChallenge())
        .slice('Payment '.length)
        .matchAll(/(\w+)="([^"]*)"/g),
    ].map((match) => [match[1] ?? '', match[2] ?? ''] as const),
  );
  if (value === undefined) params.delete(name);
  else params.set(name, value);
  return `Payment ${[...params].map(([key, text]) => `${key}="${text}"`).join(', ')}`;
}

describe('challenge', () => {
  it('issues a challenge whose id is an HMAC of its fields', () => {
    const challenge = testChallenge();
    assert.equal(challenge.id.length, 43);
    assert.equal(challenge.method, 'mite');
    assert.equal(challenge.intent, 'charge');
    assert.deepEqual(challenge.request, testRequest);
    assert.ok(challengeIdMatches(challenge, testSecret));
    assert.equal(challengeIdMatches(challenge, otherSecret), false);
    assert.equal(testChallenge().id, challenge.id, 'deterministic: merchants keep no state');
  });

  it('binds every field: changing any one breaks the id', () => {
    const challenge = testChallenge();
    const tampered = [
      { ...challenge, realm: 'other.example' },
      { ...challenge, requestEncoded: encodeBase64urlJson({ ...testRequest, amount: '0.01' }) },
      { ...challenge, expiresAtSeconds: challenge.expiresAtSeconds + 1 },
      { ...challenge, description: 'Article 43' },
      { ...challenge, id: `${challenge.id.slice(0, 42)}A` },
      { ...challenge, id: 'not base64url!' },
    ];
    for (const variant of tampered) assert.equal(challengeIdMatches(variant, testSecret), false);
    const { description: _omitted, ...withoutDescription } = challenge;
    assert.equal(challengeIdMatches(withoutDescription, testSecret), false);
    // Moving text from one field into the next must not keep the id (length-prefixed fields).
    const shifted = testChallenge({ realm: 'news.examplemite' });
    assert.notEqual(shifted.id, testChallenge({ realm: 'news.example' }).id);
  });

  it('refuses to issue what it could not read back', () => {
    assert.throws(() => testChallenge({ secret: new Uint8Array(16) }), RangeError);
    assert.throws(
      () => testChallenge({ request: { ...testRequest, amount: '0' } }),
      /request\.amount: an integer of micro-units above 0/,
    );
    assert.throws(() => testChallenge({ description: 'Café' }), RangeError);
    assert.throws(() => testChallenge({ realm: '' }), RangeError);
    assert.throws(() => testChallenge({ expiresAtSeconds: 1.5 }), RangeError);
    assert.throws(
      () =>
        testChallenge({
          request: {
            ...testRequest,
            methodDetails: { ...testRequest.methodDetails, resource: `/${'a'.repeat(3000)}` },
          },
        }),
      RangeError,
    );
    assert.throws(() => challengeIdMatches(testChallenge(), new Uint8Array(8)), RangeError);
  });

  it('writes the draft header and reads it back to the same challenge', () => {
    const challenge = testChallenge();
    const header = formatChallengeHeader(challenge);
    assert.match(
      header,
      /^Payment id="[\w-]{43}", realm="news\.example", method="mite", intent="charge", request="[\w-]+", expires="2027-01-15T08:05:00Z", description="Article 42"$/,
    );
    assert.deepEqual(parseChallengeHeader(header, now), { ok: true, value: challenge });
    const plain = issueChallenge({
      secret: testSecret,
      realm: 'r',
      request: testRequest,
      expiresAtSeconds: testNowSeconds,
    });
    assert.equal('description' in plain, false);
    assert.doesNotMatch(formatChallengeHeader(plain), /description=/);
    assert.deepEqual(parseChallengeHeader(formatChallengeHeader(plain), now), {
      ok: true,
      value: plain,
    });
  });

  it('picks the Mite challenge out of a crowded header', () => {
    const challenge = testChallenge();
    const tempo =
      'Payment id="x7Tg2pLqR9mKvNwY3hBcZa", realm="api", method="tempo", intent="charge", request="e30"';
    const header = [
      'Bearer realm="api", error="invalid_token"',
      tempo,
      'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
      formatChallengeHeader(testChallenge({ realm: 'broken' })).replace(
        'intent="charge"',
        'intent="session"',
      ),
      formatChallengeHeader(challenge),
    ].join(', ');
    assert.deepEqual(parseChallengeHeader(header, now), { ok: true, value: challenge });
    for (const scheme of ['PAYMENT', 'payment']) {
      assert.deepEqual(
        parseChallengeHeader(`${scheme} ${formatChallengeHeader(challenge).slice(8)}`, now),
        { ok: true, value: challenge },
      );
    }
    // Basic first, then two Payment challenges: the one of another method is passed over.
    assert.deepEqual(
      parseChallengeHeader(`Basic realm="x", ${tempo}, ${formatChallengeHeader(challenge)}`, now),
      { ok: true, value: challenge },
    );
  });

  it('returns the first defect when no Mite challenge is usable', () => {
    const session = formatChallengeHeader(testChallenge()).replace(
      'intent="charge"',
      'intent="session"',
    );
    assert.equal(
      codeOf(parseChallengeHeader(`${session}, Payment method="mite"`, now)),
      'unsupportedIntent',
    );
    assert.equal(codeOf(parseChallengeHeader('Bearer realm="x"', now)), 'unknownScheme');
    assert.equal(
      codeOf(parseChallengeHeader('Payment method="tempo", Payment abc', now)),
      'unsupportedMethod',
    );
    assert.equal(
      codeOf(parseChallengeHeader(headerWith('method', 'MITE'), now)),
      'unsupportedMethod',
    );
  });

  it('names the defect of each parameter', () => {
    const request = (value: unknown): string => encodeBase64urlJson(value);
    const cases: [string, string][] = [
      [headerWith('expires', undefined), 'missingParameter'],
      [headerWith('id', undefined), 'missingParameter'],
      [headerWith('request', undefined), 'missingParameter'],
      [headerWith('header', 'Payment-Authorization'), 'unsupportedParameter'],
      [
        headerWith('digest', 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'),
        'unsupportedParameter',
      ],
      [headerWith('id', ''), 'badParameter'],
      [headerWith('id', 'x7Tg2pLqR9mKvNwY3hBcZa'), 'badParameter'],
      [headerWith('id', `${'A'.repeat(42)}B`), 'badParameter'],
      [headerWith('realm', ''), 'badParameter'],
      [headerWith('realm', 'r'.repeat(129)), 'valueTooLong'],
      [headerWith('realm', 'caf\xe9'), 'badParameter'],
      [headerWith('description', 'd'.repeat(201)), 'valueTooLong'],
      [headerWith('expires', '2027-01-15T08:05:00.5Z'), 'badTimestamp'],
      [headerWith('expires', '1800000300'), 'badTimestamp'],
      [headerWith('request', 'e30='), 'badBase64'],
      [headerWith('request', 'e30+'), 'badBase64'],
      [headerWith('request', base64urlOfText('{"amount":')), 'badJson'],
      [headerWith('request', 'A'.repeat(requestEncodedLengthMax + 1)), 'valueTooLong'],
      [headerWith('request', request([])), 'wrongType'],
      [headerWith('request', request({ ...testRequest, amount: undefined })), 'missingField'],
      [headerWith('request', request({ ...testRequest, amount: 20_000 })), 'wrongType'],
      [headerWith('request', request({ ...testRequest, amount: '0.02' })), 'badAmount'],
      [headerWith('request', request({ ...testRequest, amount: '020000' })), 'badAmount'],
      [headerWith('request', request({ ...testRequest, amount: '2e4' })), 'badAmount'],
      [headerWith('request', request({ ...testRequest, amount: '0' })), 'badAmount'],
      [headerWith('request', request({ ...testRequest, currency: 'Usd' })), 'badCurrency'],
      [headerWith('request', request({ ...testRequest, currency: 'usdc' })), 'badCurrency'],
      [
        headerWith('request', request({ ...testRequest, methodDetails: undefined })),
        'missingField',
      ],
      [headerWith('request', request(withDetails({ platform: 'ftp://pay.example' }))), 'badUrl'],
      [
        headerWith('request', request(withDetails({ platform: 'https://u:p@pay.example' }))),
        'badUrl',
      ],
      [headerWith('request', request({ ...testRequest, recipient: '' })), 'badValue'],
      [headerWith('request', request(withDetails({ category: 'News' }))), 'badValue'],
      [headerWith('request', request({ ...testRequest, description: 'a\u202eb' })), 'badValue'],
      [headerWith('request', request(withDetails({ accessPeriodSeconds: -1 }))), 'badValue'],
      [headerWith('request', request(withDetails({ accessPeriodSeconds: 1.5 }))), 'wrongType'],
      [headerWith('request', request(withDetails({ decimals: 2 }))), 'badValue'],
      [headerWith('request', request(withDetails({ decimals: undefined }))), 'missingField'],
      [headerWith('request', request(withDetails({ resource: 'x'.repeat(1025) }))), 'valueTooLong'],
    ];
    for (const [header, code] of cases)
      assert.equal(codeOf(parseChallengeHeader(header, now)), code, header);
  });

  it('writes the request as the charge intent defines it, amount in micro-units', () => {
    const challenge = testChallenge();
    assert.deepEqual(decodeBase64urlJson(challenge.requestEncoded, requestEncodedLengthMax), {
      ok: true,
      value: {
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
      },
    });
    // Canonical JSON (RFC 8785): members sorted, so that a client re-encoding it (mppx does) echoes
    // the same text.
    const bytes = decodeBase64url(challenge.requestEncoded, requestEncodedLengthMax);
    assert.ok(bytes.ok);
    assert.match(
      new TextDecoder().decode(bytes.value),
      /^\{"amount":"20000","currency":"usd","description":.*,"methodDetails":\{"accessPeriodSeconds":86400,"category":"news","decimals":6,"platform":.*\},"recipient":"mer_1"\}$/,
    );
  });

  it('reads either case of currency and ignores unknown fields, binding the text as sent', () => {
    const sent = {
      ...withDetails({ version: 1, extra: { nested: true } }),
      currency: 'USD',
      externalId: 'order-7',
      tip: '1',
    };
    const parsed = parseChallengeHeader(headerWith('request', encodeBase64urlJson(sent)), now);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.deepEqual(parsed.value.request, { ...testRequest, currency: 'USD' });
    // The HMAC covers the request's text, unknown fields and all: dropping or adding one breaks it.
    const issued = testChallenge();
    const padded = challengeFromEcho({
      ...challengeEcho(issued),
      request: encodeBase64urlJson({ ...testRequest, tip: '1' }),
    });
    assert.ok(padded.ok);
    assert.deepEqual(padded.value.request, issued.request);
    assert.equal(challengeIdMatches(padded.value, testSecret), false);
    assert.equal(challengeIdMatches(issued, testSecret), true);
  });

  it('judges expiry with a clock-skew allowance, and refuses far-future expiry', () => {
    const challenge = testChallenge();
    const header = formatChallengeHeader(challenge);
    const expires = challenge.expiresAtSeconds;
    assert.ok(parseChallengeHeader(header, { nowSeconds: expires + clockSkewSecondsMax - 1 }).ok);
    assert.deepEqual(parseChallengeHeader(header, { nowSeconds: expires + clockSkewSecondsMax }), {
      ok: false,
      code: 'challengeExpired',
      detail: 'the challenge expired at 2027-01-15T08:05:00Z',
    });
    const farOff = testChallenge({
      expiresAtSeconds: testNowSeconds + challengeLifetimeSecondsMax + clockSkewSecondsMax + 1,
    });
    assert.equal(codeOf(parseChallengeHeader(formatChallengeHeader(farOff), now)), 'futureDated');
    assert.throws(() => parseChallengeHeader(header, { nowSeconds: Number.NaN }), RangeError);
  });

  it('decodes a request on its own, for checking configuration ahead of time', () => {
    assert.deepEqual(decodePaymentRequest(testRequest), { ok: true, value: testRequest });
    assert.deepEqual(decodePaymentRequest(withDetails({ platform: 'pay.example' })), {
      ok: false,
      code: 'badUrl',
      detail: 'request.methodDetails.platform: an absolute http(s) URL without credentials',
    });
    assert.equal(encodeBase64url(new Uint8Array()), '');
  });
});
