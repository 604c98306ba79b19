/**
 * Method "mite-token": its challenge beside Mite's in one header, and its credential, whose
 * tokens answer a "mite-token" challenge only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  challengeIdMatches,
  formatChallengeHeader,
  issueChallenge,
  miteTokenMethod,
  parseChallengeHeader,
} from './challenge.ts';
import {
  formatCredentialHeader,
  parseCredentialHeader,
  tokensPerCredentialMax,
} from './credential.ts';
import { codeOf, testChallenge, testNowSeconds, testRequest, testSecret } from './testing.ts';

const token = {
  keyId: 'k'.repeat(43),
  message: 'm'.repeat(43),
  signature: 's'.repeat(342),
};

function tokenChallenge() {
  return issueChallenge({
    secret: testSecret,
    realm: 'news.example',
    request: testRequest,
    expiresAtSeconds: testNowSeconds + 300,
    method: miteTokenMethod,
  });
}

describe('method mite-token', () => {
  it('issues a challenge of its own, whose HMAC covers the method, read from a shared header', () => {
    const mite = testChallenge();
    const tokens = tokenChallenge();
    assert.notEqual(tokens.id, mite.id);
    assert.ok(challengeIdMatches(tokens, testSecret));
    const header = `${formatChallengeHeader(mite)}, ${formatChallengeHeader(tokens)}`;
    const options = { nowSeconds: testNowSeconds };
    const readMite = parseChallengeHeader(header, options);
    const readTokens = parseChallengeHeader(header, { ...options, method: miteTokenMethod });
    assert.ok(readMite.ok && readTokens.ok);
    assert.equal(readMite.value.method, 'mite');
    assert.deepEqual(readTokens.value, tokens);
    // A challenge relabelled from one method to the other no longer matches its HMAC.
    assert.equal(challengeIdMatches({ ...mite, method: miteTokenMethod }, testSecret), false);
  });

  it('carries tokens in a credential and reads them back', () => {
    const credential = { challenge: tokenChallenge(), payload: { tokens: [token, token] } };
    assert.deepEqual(parseCredentialHeader(formatCredentialHeader(credential)), {
      ok: true,
      value: credential,
    });
  });

  it('refuses tokens for a mite challenge, both proofs at once, too many tokens, and bad tokens', () => {
    const refusals = [
      { challenge: testChallenge(), payload: { tokens: [token] } },
      { challenge: tokenChallenge(), payload: { tokens: [token], receipt: 'a.b.c' } },
      {
        challenge: tokenChallenge(),
        payload: { tokens: Array.from({ length: tokensPerCredentialMax + 1 }, () => token) },
      },
      { challenge: tokenChallenge(), payload: { tokens: [{ ...token, signature: 'short' }] } },
      { challenge: tokenChallenge(), payload: { tokens: [] } },
    ];
    for (const credential of refusals) {
      const parsed = parseCredentialHeader(formatCredentialHeader(credential as never));
      assert.equal(parsed.ok, false, JSON.stringify(credential.payload).slice(0, 80));
      assert.notEqual(codeOf(parsed), 'ok');
    }
  });
});
