import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import { clockSkewSecondsMax, formatChallengeHeader } from './challenge.ts';
import {
  baseUnitsMicros,
  checkSessionChallengeTimes,
  formatSessionChallengeHeader,
  idleTimeoutSecondsMax,
  idleTimeoutSecondsMin,
  issueSessionChallenge,
  parseSessionChallengeHeader,
  sessionChallengeEcho,
  sessionChallengeFromEcho,
  sessionChallengeIdMatches,
  sessionRequest,
  type SessionTerms,
} from './session-challenge.ts';
import {
  codeOf,
  otherSecret,
  testChallenge,
  testNowSeconds,
  testSecret,
  testSessionChallenge,
  testSessionRequest,
} from './testing.ts';

const now = { nowSeconds: testNowSeconds };

const terms: SessionTerms = {
  unitPriceMicros: 100n,
  currency: 'USD',
  recipient: 'mer_1',
  platform: 'https://pay.example',
  resource: '/songs/1',
  unitType: 'second',
  minVoucherDeltaMicros: 1_000n,
  idleTimeoutSeconds: 60,
  vouchers: ['payword'],
};

/** The echo of the test challenge with its request replaced by this JSON (and its id kept). */
function echoWithRequest(request: unknown) {
  return { ...sessionChallengeEcho(testSessionChallenge()), request: encodeBase64urlJson(request) };
}

/** The test request with some method details replaced. */
function withDetails(details: Record<string, unknown>): Record<string, unknown> {
  return {
    ...testSessionRequest,
    methodDetails: { ...testSessionRequest.methodDetails, ...details },
  };
}

describe('session challenge', () => {
  it('writes the request in the session drafts’ names, amounts in base units', () => {
    const request = sessionRequest({ ...terms, suggestedDepositMicros: 50_000n });
    assert.deepEqual(request, {
      amount: '100',
      currency: 'usd',
      recipient: 'mer_1',
      unitType: 'second',
      suggestedDeposit: '50000',
      methodDetails: {
        platform: 'https://pay.example',
        resource: '/songs/1',
        sessionProtocol: 'mite-v1',
        minVoucherDelta: '1000',
        idleTimeoutSeconds: 60,
        vouchers: ['payword'],
        decimals: 6,
      },
    });
    assert.equal(baseUnitsMicros(request.amount), 100n);
    assert.throws(() => baseUnitsMicros('0.5'), RangeError);
  });

  it('issues a challenge whose id is an HMAC of its fields, the same each time', () => {
    const challenge = testSessionChallenge();
    assert.equal(challenge.id.length, 43);
    assert.equal(challenge.intent, 'session');
    assert.equal(challenge.method, 'mite');
    assert.deepEqual(challenge.request, testSessionRequest);
    assert.ok(sessionChallengeIdMatches(challenge, testSecret));
    assert.equal(sessionChallengeIdMatches(challenge, otherSecret), false);
    assert.equal(testSessionChallenge().id, challenge.id);
  });

  it('binds every field: changing any one breaks the id', () => {
    const challenge = testSessionChallenge();
    const tampered = [
      { ...challenge, realm: 'other.example' },
      {
        ...challenge,
        requestEncoded: encodeBase64urlJson({ ...testSessionRequest, amount: '1' }),
      },
      { ...challenge, expiresAtSeconds: challenge.expiresAtSeconds + 1 },
      { ...challenge, description: 'Song 2' },
      { ...challenge, id: `${challenge.id.slice(0, 42)}A` },
      { ...challenge, id: 'short' },
    ];
    for (const variant of tampered) {
      assert.equal(sessionChallengeIdMatches(variant, testSecret), false);
    }
    const { description: _omitted, ...withoutDescription } = challenge;
    assert.equal(sessionChallengeIdMatches(withoutDescription, testSecret), false);
    assert.throws(() => sessionChallengeIdMatches(challenge, new Uint8Array(8)), RangeError);
  });

  it('is not a charge: a charge challenge with the same fields has another id', () => {
    const session = testSessionChallenge();
    const charge = testChallenge({ realm: session.realm });
    assert.notEqual(session.id, charge.id);
  });

  it('round-trips through the header and the echo', () => {
    const challenge = testSessionChallenge();
    const header = formatSessionChallengeHeader(challenge);
    assert.match(header, /^Payment id="[^"]{43}", realm="radio.example", method="mite"/);
    assert.match(header, /intent="session"/);
    const parsed = parseSessionChallengeHeader(header, now);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, challenge);
    assert.ok(sessionChallengeIdMatches(parsed.value, testSecret));
    const fromEcho = sessionChallengeFromEcho(sessionChallengeEcho(challenge));
    assert.ok(fromEcho.ok);
    assert.deepEqual(fromEcho.value, challenge);
    const bare = issueSessionChallenge({
      secret: testSecret,
      realm: 'radio.example',
      request: testSessionRequest,
      expiresAtSeconds: testNowSeconds + 300,
    });
    const bareParsed = parseSessionChallengeHeader(formatSessionChallengeHeader(bare), now);
    assert.ok(bareParsed.ok);
    assert.equal(bareParsed.value.description, undefined);
    assert.ok(sessionChallengeIdMatches(bareParsed.value, testSecret));
  });

  it('finds the session challenge beside a charge and another method, either order', () => {
    const session = formatSessionChallengeHeader(testSessionChallenge());
    const charge = formatChallengeHeader(testChallenge());
    const other = 'Payment id="x", realm="r", method="tempo", intent="session", request="e30"';
    for (const header of [
      `${charge}, ${session}`,
      `${session}, ${charge}`,
      `${other}, ${session}`,
    ]) {
      const parsed = parseSessionChallengeHeader(header, now);
      assert.ok(parsed.ok, header);
      assert.equal(parsed.value.id, testSessionChallenge().id);
    }
    assert.equal(codeOf(parseSessionChallengeHeader(charge, now)), 'unsupportedIntent');
    assert.equal(codeOf(parseSessionChallengeHeader('Basic realm="x"', now)), 'unsupportedIntent');
    assert.equal(codeOf(parseSessionChallengeHeader('Payment id="open', now)), 'unterminatedQuote');
  });

  it('refuses a challenge carrying a draft parameter Mite cannot honour, as a charge does', () => {
    const header = formatSessionChallengeHeader(testSessionChallenge());
    for (const name of ['opaque', 'digest', 'header']) {
      const parsed = parseSessionChallengeHeader(`${header}, ${name}="x"`, now);
      assert.equal(codeOf(parsed), 'unsupportedParameter', name);
    }
  });

  it('judges its times: expired past the skew, refused when dated too far ahead', () => {
    const challenge = testSessionChallenge();
    const expires = challenge.expiresAtSeconds;
    assert.ok(checkSessionChallengeTimes(challenge, expires + clockSkewSecondsMax - 1).ok);
    assert.equal(
      codeOf(checkSessionChallengeTimes(challenge, expires + clockSkewSecondsMax)),
      'challengeExpired',
    );
    const far = testSessionChallenge({ expiresAtSeconds: testNowSeconds + 200_000 });
    assert.equal(codeOf(checkSessionChallengeTimes(far, testNowSeconds)), 'futureDated');
    const header = formatSessionChallengeHeader(challenge);
    const late = parseSessionChallengeHeader(header, { nowSeconds: expires + 1_000 });
    assert.equal(codeOf(late), 'challengeExpired');
  });

  it('refuses PayWord terms whose minimum step is not whole units', () => {
    const request = sessionRequest({ ...terms, minVoucherDeltaMicros: 150n });
    assert.throws(
      () =>
        issueSessionChallenge({
          secret: testSecret,
          realm: 'r',
          request,
          expiresAtSeconds: testNowSeconds + 60,
        }),
      /whole units/,
    );
    assert.equal(
      codeOf(sessionChallengeFromEcho(echoWithRequest(withDetails({ minVoucherDelta: '150' })))),
      'badValue',
    );
    // Ed25519 vouchers name any amount: the same step is fine without PayWord.
    const signed = withDetails({ minVoucherDelta: '150', vouchers: ['ed25519'] });
    assert.ok(sessionChallengeFromEcho(echoWithRequest(signed)).ok);
  });

  it('refuses requests the session intent does not define', () => {
    const bad: readonly [string, unknown, string][] = [
      ['unknown unit', { ...testSessionRequest, unitType: 'minute' }, 'badValue'],
      ['amount 0', { ...testSessionRequest, amount: '0' }, 'badAmount'],
      ['decimal amount', { ...testSessionRequest, amount: '0.5' }, 'badAmount'],
      ['negative deposit', { ...testSessionRequest, suggestedDeposit: '-5' }, 'badAmount'],
      ['step 0', withDetails({ minVoucherDelta: '0' }), 'badAmount'],
      ['other protocol', withDetails({ sessionProtocol: 'mite-v2' }), 'badValue'],
      ['idle too short', withDetails({ idleTimeoutSeconds: idleTimeoutSecondsMin - 1 }), ''],
      ['idle too long', withDetails({ idleTimeoutSeconds: idleTimeoutSecondsMax + 1 }), ''],
      ['idle fraction', withDetails({ idleTimeoutSeconds: 60.5 }), ''],
      ['no vouchers', withDetails({ vouchers: [] }), ''],
      ['unknown voucher', withDetails({ vouchers: ['hmac'] }), 'badValue'],
      ['voucher twice', withDetails({ vouchers: ['payword', 'payword'] }), ''],
      ['decimals 2', withDetails({ decimals: 2 }), 'badValue'],
      ['no platform', withDetails({ platform: undefined }), 'missingField'],
      ['no unit', { ...testSessionRequest, unitType: undefined }, 'missingField'],
      ['bad currency', { ...testSessionRequest, currency: 'dollars' }, 'badCurrency'],
    ];
    for (const [name, request, code] of bad) {
      const decoded = sessionChallengeFromEcho(echoWithRequest(request));
      assert.equal(decoded.ok, false, name);
      if (code !== '') assert.equal(codeOf(decoded), code, name);
    }
  });

  it('drops unknown request fields but keeps them under the HMAC', () => {
    const extended = { ...testSessionRequest, externalId: 'x-1' };
    const echo = echoWithRequest(extended);
    const decoded = sessionChallengeFromEcho(echo);
    assert.ok(decoded.ok);
    assert.equal('externalId' in decoded.value.request, false);
    // The id was computed over the original request, so an added field breaks it.
    assert.equal(sessionChallengeIdMatches(decoded.value, testSecret), false);
    const json = decodeBase64urlJson(decoded.value.requestEncoded, 4096);
    assert.ok(json.ok);
    assert.equal((json.value as { externalId?: string }).externalId, 'x-1');
  });

  it('refuses echoes of another method or intent, and bad text fields', () => {
    const echo = sessionChallengeEcho(testSessionChallenge());
    assert.equal(
      codeOf(sessionChallengeFromEcho({ ...echo, method: 'tempo' })),
      'unsupportedMethod',
    );
    assert.equal(
      codeOf(sessionChallengeFromEcho({ ...echo, intent: 'charge' })),
      'unsupportedIntent',
    );
    assert.equal(codeOf(sessionChallengeFromEcho({ ...echo, id: 'abc' })), 'badParameter');
    assert.equal(codeOf(sessionChallengeFromEcho({ ...echo, realm: 'tab\there' })), 'badParameter');
    assert.equal(
      codeOf(sessionChallengeFromEcho({ ...echo, expires: '2027-01-15 08:05:00' })),
      'badTimestamp',
    );
    assert.equal(codeOf(sessionChallengeFromEcho({ ...echo, request: '!!' })), 'badBase64');
  });
});
