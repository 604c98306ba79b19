import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  paymentProblemTypes,
  problemDetails,
  problemTable,
  problemTypeBase,
  protocolErrorCodes,
} from './problems.ts';

describe('problems', () => {
  it("gives every code one of the draft's registered problem types, its title and status", () => {
    assert.ok(protocolErrorCodes.length >= 40);
    assert.equal(problemTypeBase, 'https://paymentauth.org/problems/');
    const used = new Set<string>();
    for (const code of protocolErrorCodes) {
      const problem = problemDetails(code, `detail of ${code}`);
      const slug = problem.type.slice(problemTypeBase.length) as keyof typeof paymentProblemTypes;
      assert.ok(problem.type.startsWith(problemTypeBase), problem.type);
      assert.ok(slug in paymentProblemTypes, slug);
      assert.equal(problem.title, paymentProblemTypes[slug].title);
      assert.equal(problem.status, paymentProblemTypes[slug].status);
      assert.equal(problem.detail, `detail of ${code}`);
      assert.equal(problem.miteCode, code);
      assert.equal('instance' in problem, false);
      assert.equal('challengeId' in problem, false);
      used.add(slug);
    }
    // Every type Mite lists is one it answers with: bad-request when nothing can be sold (the
    // middleware's refusal of a request target the wire cannot carry), the others for codes.
    assert.deepEqual([...used, 'bad-request'].sort(), Object.keys(paymentProblemTypes).sort());
  });

  it("follows the draft's status table", () => {
    const slugOf = (code: keyof typeof problemTable): string =>
      problemTable[code].type.slice(problemTypeBase.length);
    assert.equal(slugOf('paymentRequired'), 'payment-required');
    for (const code of ['badBase64', 'badJson', 'malformedHeader', 'unknownField'] as const) {
      assert.equal(slugOf(code), 'malformed-credential');
      assert.equal(problemTable[code].status, 402);
    }
    assert.equal(slugOf('badJws'), 'invalid-payload');
    assert.equal(slugOf('invalidChallenge'), 'invalid-challenge');
    assert.equal(slugOf('receiptReplayed'), 'invalid-challenge');
    assert.equal(slugOf('challengeExpired'), 'payment-expired');
    assert.equal(slugOf('accessExpired'), 'payment-expired');
    for (const code of ['receiptInvalid', 'unknownKey', 'wrongAmount', 'wrongMerchant'] as const) {
      assert.equal(slugOf(code), 'verification-failed');
    }
    for (const code of ['unsupportedMethod', 'unsupportedIntent', 'unknownScheme'] as const) {
      assert.equal(slugOf(code), 'method-unsupported');
      assert.equal(problemTable[code].status, 400);
    }
    const refusedOutright = protocolErrorCodes.filter((code) => problemTable[code].status === 400);
    assert.deepEqual(refusedOutright.sort(), [
      'unknownScheme',
      'unsupportedIntent',
      'unsupportedMethod',
    ]);
  });

  it('builds RFC 9457 objects with the fine code and the fresh challenge id', () => {
    assert.deepEqual(
      problemDetails('wrongAmount', 'the receipt pays 0.01, the price is 0.02', {
        instance: '/articles/42',
        challengeId: 'qB3wErTyU7iOpAsD9fGhJk',
      }),
      {
        type: 'https://paymentauth.org/problems/verification-failed',
        title: 'Verification Failed',
        status: 402,
        detail: 'the receipt pays 0.01, the price is 0.02',
        instance: '/articles/42',
        miteCode: 'wrongAmount',
        challengeId: 'qB3wErTyU7iOpAsD9fGhJk',
      },
    );
    assert.deepEqual(problemDetails('receiptReplayed', 'used at 12:00'), {
      type: 'https://paymentauth.org/problems/invalid-challenge',
      title: 'Invalid Challenge',
      status: 402,
      detail: 'used at 12:00',
      miteCode: 'receiptReplayed',
    });
    assert.equal(
      problemDetails('paymentRequired', '').type,
      'https://paymentauth.org/problems/payment-required',
    );
    assert.equal(problemDetails('malformedHeader', '').status, 402);
  });
});
