/**
 * The session window's checks and pace (apps/pay/session/session-terms.ts), without a browser:
 * which session challenges it will pay, the deposit it holds, the clock it pays by and how it
 * reads a stream's need for a voucher. The browser test (packages/cli/src/demo-radio-player.test.ts)
 * shows the window paying a song by them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatNeedVoucher,
  formatSessionChallengeHeader,
  issueSessionChallenge,
  sessionRequest,
  type SessionTerms,
} from '@mite/protocol';
import {
  checkSessionOffer,
  depositFor,
  depositSecondsDefault,
  depositSecondsMax,
  paceLeadSeconds,
  payableAtMs,
  secondsAllowed,
  secondsNeeded,
} from './apps/pay/session/session-terms.ts';

const site = 'https://radio.example';
const platform = 'https://mite.example';
const nowSeconds = 1_796_000_000;
const sessionId = `ses_${'ab'.repeat(16)}`;

function header(terms: Partial<SessionTerms> = {}): string {
  const request = sessionRequest({
    unitPriceMicros: 100n,
    currency: 'USD',
    recipient: 'mer_radio',
    platform,
    resource: `${site}/songs/morning-mites`,
    unitType: 'second',
    minVoucherDeltaMicros: 100n,
    idleTimeoutSeconds: 60,
    vouchers: ['payword', 'ed25519'],
    suggestedDepositMicros: 50_000n,
    ...terms,
  });
  const challenge = issueSessionChallenge({
    secret: new Uint8Array(32).fill(7),
    realm: 'Mite Radio',
    request,
    expiresAtSeconds: nowSeconds + 300,
  });
  return formatSessionChallengeHeader(challenge);
}

const context = { askingOrigin: site, platformOrigin: platform, nowSeconds };

function reason(checked: ReturnType<typeof checkSessionOffer>): string {
  assert.equal(checked.ok, false);
  return checked.ok ? '' : checked.reason;
}

describe('the session window\u2019s terms', () => {
  it('takes a stream of the asking site paid by the second at this platform', () => {
    const checked = checkSessionOffer(header(), context);
    assert.ok(checked.ok);
    assert.equal(checked.value.unitPriceMicros, 100n);
    assert.equal(checked.value.depositMicros, 50_000n);
    assert.equal(checked.value.resourceUrl, `${site}/songs/morning-mites`);
    assert.equal(checked.value.challenge.realm, 'Mite Radio');
  });

  it('refuses another platform, another site\u2019s resource, other units, steps of several seconds and expired or broken challenges', () => {
    assert.match(
      reason(checkSessionOffer(header({ platform: 'https://evil.example' }), context)),
      /not at this platform/,
    );
    assert.match(
      reason(checkSessionOffer(header({ resource: 'https://other.example/songs/x' }), context)),
      /not one of its own pages/,
    );
    assert.match(
      reason(checkSessionOffer(header({ unitType: 'request' }), context)),
      /pays by the second/,
    );
    assert.match(
      reason(checkSessionOffer(header({ minVoucherDeltaMicros: 1_000n }), context)),
      /more than one second at a time/,
    );
    assert.match(
      reason(checkSessionOffer(header(), { ...context, nowSeconds: nowSeconds + 3_600 })),
      /cannot be used: .*expired/,
    );
    assert.match(reason(checkSessionOffer('Payment realm="x"', context)), /cannot be used/);
  });

  it('holds the suggested deposit in whole seconds, a minute without one, an hour at most', () => {
    const of = (terms: Partial<SessionTerms>) => {
      const checked = checkSessionOffer(header(terms), context);
      assert.ok(checked.ok);
      return depositFor(checked.value.challenge);
    };
    assert.equal(of({ suggestedDepositMicros: 50_050n }), 50_000n);
    assert.equal(of({ suggestedDepositMicros: 50n }), 100n, 'at least one second');
    assert.equal(of({ suggestedDepositMicros: 10_000_000n }), depositSecondsMax * 100n);
    const request = sessionRequest({
      unitPriceMicros: 100n,
      currency: 'USD',
      recipient: 'mer_radio',
      platform,
      resource: `${site}/songs/x`,
      unitType: 'second',
      minVoucherDeltaMicros: 100n,
      idleTimeoutSeconds: 60,
      vouchers: ['payword'],
    });
    const unsuggested = issueSessionChallenge({
      secret: new Uint8Array(32).fill(7),
      realm: 'Mite Radio',
      request,
      expiresAtSeconds: nowSeconds + 300,
    });
    assert.equal(depositFor(unsuggested), depositSecondsDefault * 100n);
  });

  it('pays by the clock: a second when it begins and one ahead, never more', () => {
    const startMs = 1_000_000;
    assert.equal(paceLeadSeconds, 1);
    assert.equal(secondsAllowed(startMs, startMs), 2n);
    assert.equal(secondsAllowed(startMs, startMs + 999), 2n);
    assert.equal(secondsAllowed(startMs, startMs + 1_000), 3n);
    assert.equal(secondsAllowed(startMs, startMs + 9_500), 11n);
    assert.equal(secondsAllowed(startMs, startMs - 5_000), 2n, 'a clock that went back');
    assert.equal(payableAtMs(startMs, 1n), startMs);
    assert.equal(payableAtMs(startMs, 2n), startMs);
    assert.equal(payableAtMs(startMs, 3n), startMs + 1_000);
    assert.equal(payableAtMs(startMs, 11n), startMs + 9_000);
    for (const seconds of [1n, 2n, 5n, 60n]) {
      assert.ok(secondsAllowed(startMs, payableAtMs(startMs, seconds)) >= seconds);
      assert.ok(
        secondsAllowed(startMs, payableAtMs(startMs, seconds) - 1) < seconds || seconds <= 2n,
      );
    }
  });

  it('reads a stream\u2019s need in whole seconds, of this session only', () => {
    const need = (requiredCumulativeMicros: bigint, channelId = sessionId) =>
      formatNeedVoucher({
        channelId,
        requiredCumulativeMicros,
        acceptedCumulativeMicros: 0n,
        depositMicros: 50_000n,
      });
    const bound = { sessionId, unitPriceMicros: 100n };
    assert.deepEqual(secondsNeeded(need(300n), bound), { ok: true, value: 3n });
    assert.deepEqual(secondsNeeded(need(301n), bound), { ok: true, value: 4n });
    const other = secondsNeeded(need(300n, `ses_${'cd'.repeat(16)}`), bound);
    assert.ok(!other.ok && /another session/.test(other.reason));
    const broken = secondsNeeded('{"required": 3}', bound);
    assert.ok(!broken.ok && /did not describe/.test(broken.reason));
  });
});
