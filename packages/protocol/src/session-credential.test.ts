import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64urlJson } from './base64url.ts';
import { formatCredentialHeader } from './credential.ts';
import { paywordChain } from './payword.ts';
import {
  credentialIntent,
  decodeSessionCredentialJson,
  formatSessionCredentialHeader,
  parseSessionCredentialHeader,
  type SessionAction,
  type SessionCredential,
  sessionCredentialJson,
} from './session-credential.ts';
import { sessionChallengeEcho } from './session-challenge.ts';
import { signVoucher, voucherKeyPair } from './session-voucher.ts';
import {
  codeOf,
  testCredential,
  testReceiptJws,
  testSessionChallenge,
  testSessionId,
} from './testing.ts';

const challenge = testSessionChallenge();
const chain = paywordChain(new Uint8Array(32).fill(2), 20);
const keys = voucherKeyPair();

const actions: readonly SessionAction[] = [
  { action: 'open', grant: testReceiptJws },
  { action: 'topUp', grant: testReceiptJws },
  {
    action: 'voucher',
    voucher: {
      channelId: testSessionId,
      cumulativeMicros: 1_000n,
      proof: { kind: 'payword', word: chain.word(10) },
    },
  },
  { action: 'close', voucher: signVoucher(keys.secretKey, testSessionId, 2_500n) },
];

/** The header of raw credential JSON. */
function headerOf(json: unknown): string {
  return `Payment ${encodeBase64urlJson(json)}`;
}

describe('session credential', () => {
  it('round-trips all four actions through the header', () => {
    for (const payload of actions) {
      const credential: SessionCredential = { challenge, payload };
      const header = formatSessionCredentialHeader(credential);
      const parsed = parseSessionCredentialHeader(header);
      assert.ok(parsed.ok, payload.action);
      assert.deepEqual(parsed.value, credential, payload.action);
      assert.equal(credentialIntent(header), 'session');
    }
  });

  it('writes the voucher’s fields beside the action, as the session drafts do', () => {
    const [, , voucher] = actions;
    if (voucher === undefined) throw new Error('unreachable');
    const json = sessionCredentialJson({ challenge, payload: voucher }) as {
      payload: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(json.payload).sort(), [
      'action',
      'channelId',
      'cumulativeAmount',
      'payword',
    ]);
  });

  it('tells a session credential from a charge by its intent, before any payload', () => {
    assert.equal(credentialIntent(formatCredentialHeader(testCredential())), 'charge');
    assert.equal(credentialIntent('Bearer abc'), undefined);
    assert.equal(credentialIntent('Payment !!!'), undefined);
    assert.equal(credentialIntent('Payment id="x"'), undefined);
    assert.equal(credentialIntent(headerOf({ payload: {} })), undefined);
  });

  it('refuses payloads that are not the action’s', () => {
    const echo = sessionChallengeEcho(challenge);
    const bad: readonly [string, unknown, string][] = [
      ['unknown action', { action: 'refund', grant: testReceiptJws }, 'malformedHeader'],
      ['open without grant', { action: 'open' }, 'badValue'],
      ['open with extra', { action: 'open', grant: testReceiptJws, deposit: '5' }, 'badValue'],
      ['open with a bad JWS', { action: 'open', grant: 'a.b' }, 'badJws'],
      ['grant a number', { action: 'topUp', grant: 5 }, 'badValue'],
      [
        'voucher without proof',
        { action: 'voucher', channelId: testSessionId, cumulativeAmount: '5' },
        'badValue',
      ],
      ['voucher with a grant', { action: 'voucher', grant: testReceiptJws }, ''],
      [
        'close amount negative',
        {
          action: 'close',
          channelId: testSessionId,
          cumulativeAmount: '-1',
          signature: 'A'.repeat(86),
        },
        '',
      ],
    ];
    for (const [name, payload, code] of bad) {
      const decoded = decodeSessionCredentialJson({ challenge: echo, payload });
      assert.equal(decoded.ok, false, name);
      if (code !== '') assert.equal(codeOf(decoded), code, name);
    }
  });

  it('refuses a charge challenge’s echo, and headers of other shapes', () => {
    const chargeEcho = sessionChallengeEcho({ ...challenge, intent: 'session' });
    const asCharge = { ...chargeEcho, intent: 'charge' };
    const payload = { action: 'open', grant: testReceiptJws };
    assert.equal(
      codeOf(decodeSessionCredentialJson({ challenge: asCharge, payload })),
      'unsupportedIntent',
    );
    assert.equal(codeOf(parseSessionCredentialHeader('Bearer abc')), 'unknownScheme');
    assert.equal(codeOf(parseSessionCredentialHeader('Payment a=b')), 'malformedHeader');
    assert.equal(codeOf(parseSessionCredentialHeader('Payment !!!')), 'malformedHeader');
    assert.equal(codeOf(parseSessionCredentialHeader(headerOf([1, 2]))), 'malformedHeader');
  });
});
