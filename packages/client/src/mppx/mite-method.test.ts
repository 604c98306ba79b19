/**
 * The mite method's reading of what mppx hands it: a challenge Mite issued, parsed by mppx's own
 * parser, reads back as the very challenge (the HMAC still matches), and the challenges and URLs
 * Mite's client refuses are refused here too. The payments themselves are mppx-interop.test.ts's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  chargeRequest,
  type ChargeTerms,
  challengeIdMatches,
  formatChallengeHeader,
  issueChallenge,
} from '@mite/protocol';
import { Challenge as MppxChallenge } from 'mppx';
import { isMitePaymentError } from '../errors.ts';
import { miteChallengeOf, miteSiteOf } from './mite-method.ts';

const secret = new Uint8Array(randomBytes(32));
const nowSeconds = 1_800_000_000;

function issued(overrides: Partial<ChargeTerms> = {}) {
  return issueChallenge({
    secret,
    realm: 'news.example',
    request: chargeRequest({
      amountMicros: 20_000n,
      currency: 'USD',
      recipient: 'mer_1',
      platform: 'https://pay.example',
      resource: '/articles/42',
      accessPeriodSeconds: 86_400,
      description: 'Café au lait — an article',
      category: 'news',
      ...overrides,
    }),
    expiresAtSeconds: nowSeconds + 300,
    description: 'Article 42',
  });
}

/** What mppx hands a method: Mite's header, parsed by mppx. */
function asMppxSees(header: string) {
  return MppxChallenge.deserialize(header);
}

function protocolCodeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    assert.ok(isMitePaymentError(error, 'badChallenge'), String(error));
    return error.protocolCode;
  }
  return undefined;
}

describe('miteChallengeOf', () => {
  it("reads mppx's parse of a Mite challenge back into the very challenge, HMAC and all", () => {
    const challenge = issued();
    const read = miteChallengeOf(asMppxSees(formatChallengeHeader(challenge)), nowSeconds);
    assert.deepEqual(read, challenge);
    assert.ok(challengeIdMatches(read, secret));
  });

  it('refuses what Mite never issues or cannot pay: extra parameters, no expiry, expired, another method', () => {
    const header = formatChallengeHeader(issued());
    for (const extra of [
      'digest="sha-256=:abc=:"',
      'opaque="e30"',
      'header="Payment-Authorization"',
    ]) {
      assert.equal(
        protocolCodeOf(() => miteChallengeOf(asMppxSees(`${header}, ${extra}`), nowSeconds)),
        'unsupportedParameter',
        extra,
      );
    }
    const { expires: _, ...noExpiry } = asMppxSees(header);
    assert.equal(
      protocolCodeOf(() => miteChallengeOf(noExpiry, nowSeconds)),
      'missingParameter',
    );
    assert.equal(
      protocolCodeOf(() => miteChallengeOf(asMppxSees(header), nowSeconds + 3_600)),
      'challengeExpired',
    );
    const tempo = { ...asMppxSees(header), method: 'tempo' };
    assert.equal(
      protocolCodeOf(() => miteChallengeOf(tempo, nowSeconds)),
      'unsupportedMethod',
    );
  });
});

describe('miteSiteOf', () => {
  it('counts against the URL the caller gave, else an absolute resource, else the merchant', () => {
    const challenge = issued();
    assert.deepEqual(miteSiteOf(challenge, 'https://news.example/articles/42?x=1'), {
      origin: 'https://news.example',
      url: 'https://news.example/articles/42?x=1',
      resourceKey: 'https://news.example/articles/42',
    });
    const absolute = issued({ resource: 'https://news.example/articles/42' });
    assert.equal(miteSiteOf(absolute, undefined).origin, 'https://news.example');
    assert.deepEqual(miteSiteOf(challenge, undefined), {
      origin: 'merchant mer_1',
      url: '/articles/42',
      resourceKey: 'mite:https://pay.example|mer_1|/articles/42',
    });
  });

  it("refuses another site's resource, plain http off the loopback, and a URL that is not one", () => {
    const elsewhere = issued({ resource: 'https://other.example/articles/42' });
    assert.throws(
      () => miteSiteOf(elsewhere, 'https://news.example/articles/42'),
      (error) =>
        isMitePaymentError(error, 'badChallenge') && error.protocolCode === 'wrongResource',
    );
    assert.throws(
      () => miteSiteOf(issued(), 'http://news.example/articles/42'),
      (error) => isMitePaymentError(error, 'insecureTransport'),
    );
    assert.equal(
      miteSiteOf(issued(), 'http://127.0.0.1:8080/articles/42').origin,
      'http://127.0.0.1:8080',
    );
    assert.throws(() => miteSiteOf(issued(), 'mailto:someone@example.com'), TypeError);
  });
});
