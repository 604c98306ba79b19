import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64urlJson } from './base64url.ts';
import { decodeBase64urlJson } from './base64url.ts';
import { headerLengthMax } from './auth-params.ts';
import {
  formatPaymentReceiptHeader,
  parsePaymentReceiptHeader,
  type PaymentReceipt,
} from './payment-receipt.ts';
import { codeOf, testChallenge, testNowSeconds } from './testing.ts';

const receipt: PaymentReceipt = {
  status: 'success',
  method: 'mite',
  timestampSeconds: testNowSeconds,
  reference: 'pay_0190f1d2-7a3c-7b4e-8f00-123456789abc',
  challengeId: testChallenge().id,
  accessUntilSeconds: testNowSeconds + 86_400,
};

describe('Payment-Receipt', () => {
  it('writes the draft fields plus Mite\u2019s, and reads them back', () => {
    const header = formatPaymentReceiptHeader(receipt);
    assert.match(header, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeBase64urlJson(header, 1000), {
      ok: true,
      value: {
        status: 'success',
        method: 'mite',
        timestamp: '2027-01-15T08:00:00Z',
        reference: receipt.reference,
        challengeId: receipt.challengeId,
        accessUntil: '2027-01-16T08:00:00Z',
      },
    });
    assert.deepEqual(parsePaymentReceiptHeader(header), { ok: true, value: receipt });
    assert.deepEqual(parsePaymentReceiptHeader(` ${header} `), { ok: true, value: receipt });
  });

  it('names every defect', () => {
    const wire = {
      status: 'success',
      method: 'mite',
      timestamp: '2027-01-15T08:00:00Z',
      reference: 'pay_1',
      challengeId: receipt.challengeId,
      accessUntil: '2027-01-16T08:00:00Z',
    };
    const cases: [string, string][] = [
      ['A'.repeat(headerLengthMax + 1), 'headerTooLong'],
      ['e30=', 'badBase64'],
      ['bm90IGpzb24', 'badJson'],
      [encodeBase64urlJson({ ...wire, status: 'failed' }), 'badValue'],
      [encodeBase64urlJson({ ...wire, method: 'tempo' }), 'badValue'],
      [encodeBase64urlJson({ ...wire, timestamp: 1_800_000_000 }), 'wrongType'],
      [encodeBase64urlJson({ ...wire, accessUntil: '2027-01-16' }), 'badTimestamp'],
      [encodeBase64urlJson({ ...wire, externalId: 'x' }), 'unknownField'],
      [encodeBase64urlJson({ ...wire, challengeId: undefined }), 'missingField'],
    ];
    for (const [header, code] of cases)
      assert.equal(codeOf(parsePaymentReceiptHeader(header)), code, header);
  });
});
