import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBase64urlJson, encodeBase64urlJson } from './base64url.ts';
import {
  decodeSessionReceipt,
  formatNeedVoucher,
  formatSessionReceiptHeader,
  type NeedVoucher,
  needVoucherLengthMax,
  parseNeedVoucher,
  parseSessionReceiptHeader,
  type SessionReceipt,
  sessionReceiptJson,
} from './session-receipt.ts';
import { codeOf, testNowSeconds, testSessionChallenge, testSessionId } from './testing.ts';

const receipt: SessionReceipt = {
  channelId: testSessionId,
  challengeId: testSessionChallenge().id,
  timestampSeconds: testNowSeconds,
  acceptedCumulativeMicros: 5_000n,
  spentMicros: 4_200n,
  units: 3,
  remainingMicros: 95_800n,
  final: false,
};

describe('session receipt', () => {
  it('round-trips through the header, in the tempo draft’s fields', () => {
    const header = formatSessionReceiptHeader(receipt);
    const parsed = parseSessionReceiptHeader(header);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, receipt);
    const json = decodeBase64urlJson(header, 4096);
    assert.ok(json.ok);
    assert.deepEqual(json.value, {
      method: 'mite',
      intent: 'session',
      status: 'success',
      timestamp: '2027-01-15T08:00:00Z',
      reference: testSessionId,
      channelId: testSessionId,
      challengeId: receipt.challengeId,
      acceptedCumulative: '5000',
      spent: '4200',
      units: 3,
      remaining: '95800',
      final: false,
    });
    const final = { ...receipt, final: true, units: 0, spentMicros: 0n };
    const again = parseSessionReceiptHeader(` ${formatSessionReceiptHeader(final)} `);
    assert.ok(again.ok);
    assert.deepEqual(again.value, final);
  });

  it('refuses receipts that disagree with themselves or the draft', () => {
    const json = sessionReceiptJson(receipt);
    const bad: readonly [string, unknown][] = [
      ['reference', { ...json, reference: `ses_${'e'.repeat(32)}` }],
      ['intent', { ...json, intent: 'charge' }],
      ['status', { ...json, status: 'failed' }],
      ['negative spent', { ...json, spent: '-1' }],
      ['fraction units', { ...json, units: 1.5 }],
      ['timestamp', { ...json, timestamp: 'yesterday' }],
      ['extra', { ...json, extra: 1 }],
    ];
    for (const [name, value] of bad) assert.equal(decodeSessionReceipt(value).ok, false, name);
    assert.equal(codeOf(parseSessionReceiptHeader('!!')), 'badBase64');
    assert.equal(codeOf(parseSessionReceiptHeader(encodeBase64urlJson([]))), 'wrongType');
  });
});

describe('need-voucher event', () => {
  const need: NeedVoucher = {
    channelId: testSessionId,
    requiredCumulativeMicros: 6_000n,
    acceptedCumulativeMicros: 5_000n,
    depositMicros: 100_000n,
  };

  it('round-trips as JSON text', () => {
    const text = formatNeedVoucher(need);
    assert.deepEqual(JSON.parse(text), {
      channelId: testSessionId,
      requiredCumulative: '6000',
      acceptedCumulative: '5000',
      deposit: '100000',
    });
    const parsed = parseNeedVoucher(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, need);
  });

  it('refuses text that is not the event’s JSON', () => {
    assert.equal(codeOf(parseNeedVoucher('{')), 'badJson');
    assert.equal(codeOf(parseNeedVoucher(' '.repeat(needVoucherLengthMax + 1))), 'valueTooLong');
    assert.equal(codeOf(parseNeedVoucher('[]')), 'wrongType');
    const json = JSON.parse(formatNeedVoucher(need)) as Record<string, unknown>;
    assert.equal(parseNeedVoucher(JSON.stringify({ ...json, deposit: 5 })).ok, false);
    assert.equal(parseNeedVoucher(JSON.stringify({ ...json, extra: '1' })).ok, false);
    assert.equal(parseNeedVoucher(JSON.stringify({ ...json, channelId: 'x' })).ok, false);
  });
});
