import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64url, encodeBase64urlJson } from './base64url.ts';
import { challengeEcho, challengeIdMatches } from './challenge.ts';
import {
  checkCompactJws,
  credentialHeaderLengthMax,
  credentialJson,
  formatCredentialHeader,
  jwsLengthMax,
  parseCredentialHeader,
} from './credential.ts';
import {
  base64urlOfText,
  codeOf,
  testChallenge,
  testCredential,
  testReceiptJws,
  testSecret,
} from './testing.ts';

function headerOf(json: unknown): string {
  return `Payment ${encodeBase64urlJson(json)}`;
}

describe('credential', () => {
  it('writes the draft credential and reads it back, the HMAC still checkable', () => {
    const credential = testCredential();
    const header = formatCredentialHeader(credential);
    assert.match(header, /^Payment [A-Za-z0-9_-]+$/);
    const parsed = parseCredentialHeader(header);
    assert.deepEqual(parsed, { ok: true, value: credential });
    assert.ok(parsed.ok && challengeIdMatches(parsed.value.challenge, testSecret));
    const withSource = { ...credential, source: 'did:key:z6Mkabc' };
    assert.deepEqual(parseCredentialHeader(formatCredentialHeader(withSource)), {
      ok: true,
      value: withSource,
    });
  });

  it('reads the scheme name in any case, as RFC 9110 makes it case-insensitive', () => {
    const credential = testCredential();
    const token = formatCredentialHeader(credential).slice('Payment '.length);
    for (const scheme of ['payment', 'PAYMENT']) {
      assert.deepEqual(parseCredentialHeader(`${scheme} ${token}`), {
        ok: true,
        value: credential,
      });
    }
  });

  it('echoes the challenge as text, with the request exactly as the merchant encoded it', () => {
    const challenge = testChallenge();
    const json = credentialJson(testCredential(challenge));
    assert.deepEqual(json.challenge, {
      id: challenge.id,
      realm: 'news.example',
      method: 'mite',
      intent: 'charge',
      request: challenge.requestEncoded,
      expires: '2027-01-15T08:05:00Z',
      description: 'Article 42',
    });
    assert.deepEqual(json.payload, { receipt: testReceiptJws });
  });

  it('does not judge expiry: the middleware does, against the time of payment', () => {
    const expired = testChallenge({ expiresAtSeconds: 1000 });
    assert.ok(parseCredentialHeader(formatCredentialHeader(testCredential(expired))).ok);
  });

  it('names every defect', () => {
    const valid = credentialJson(testCredential());
    const echo = challengeEcho(testChallenge());
    const cases: [string, string][] = [
      ['Bearer abc', 'unknownScheme'],
      ['Payment id="x"', 'malformedHeader'],
      ['Payment', 'malformedHeader'],
      ['Payment a, Payment b', 'malformedHeader'],
      [`Payment ${'A'.repeat(credentialHeaderLengthMax)}`, 'headerTooLong'],
      ['Payment e30=', 'badBase64'],
      ['Payment e30+', 'badBase64'],
      [`Payment ${base64urlOfText('{')}`, 'badJson'],
      [headerOf([]), 'wrongType'],
      [headerOf({ challenge: echo }), 'missingField'],
      [headerOf({ ...valid, payload: { receipt: testReceiptJws, tx: '0x' } }), 'unknownField'],
      [headerOf({ ...valid, challenge: { ...echo, method: 'tempo' } }), 'unsupportedMethod'],
      // Another method's credential is refused as such before its payload is looked at.
      [
        headerOf({ challenge: { ...echo, method: 'tempo' }, payload: { signature: '0x' } }),
        'unsupportedMethod',
      ],
      [headerOf({ challenge: { ...echo, method: 'tempo' } }), 'unsupportedMethod'],
      [headerOf({ challenge: { ...echo, intent: 'session' }, payload: 7 }), 'unsupportedIntent'],
      [headerOf({ ...valid, challenge: { ...echo, intent: 'session' } }), 'unsupportedIntent'],
      [headerOf({ ...valid, challenge: { ...echo, id: 'short' } }), 'badParameter'],
      [headerOf({ ...valid, challenge: { ...echo, expires: 'tomorrow' } }), 'badTimestamp'],
      [headerOf({ ...valid, challenge: { ...echo, request: 'e30' } }), 'missingField'],
      [headerOf({ ...valid, source: '' }), 'badValue'],
      [headerOf({ ...valid, payload: { receipt: 'a.b' } }), 'badJws'],
      [headerOf({ ...valid, payload: { receipt: 'a.b.c=' } }), 'badJws'],
      [headerOf({ ...valid, payload: { receipt: 'a.b.c' } }), 'badJws'],
      [headerOf({ ...valid, payload: { receipt: 7 } }), 'wrongType'],
    ];
    for (const [header, code] of cases)
      assert.equal(codeOf(parseCredentialHeader(header)), code, header);
  });

  it('ignores unknown members at the top level and in the echo, as the draft requires', () => {
    const credential = testCredential();
    const valid = credentialJson(credential);
    const padded = {
      ...valid,
      extra: 1,
      challenge: { ...valid.challenge, opaque: 'e30', digest: 'sha-256=:x:' },
    };
    assert.deepEqual(parseCredentialHeader(headerOf(padded)), { ok: true, value: credential });
  });

  it('checks the compact JWS shape only', () => {
    assert.deepEqual(checkCompactJws(testReceiptJws), { ok: true, value: testReceiptJws });
    const long = [1, 2, 3].map(() => encodeBase64url(new Uint8Array(jwsLengthMax))).join('.');
    assert.equal(codeOf(checkCompactJws(long)), 'badJws');
    assert.equal(codeOf(checkCompactJws('..')), 'badJws');
    assert.equal(codeOf(checkCompactJws(null as unknown as string)), 'badJws');
  });
});
