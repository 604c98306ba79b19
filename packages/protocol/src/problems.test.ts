import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { problemDetails, problemTable, problemTypeBase, protocolErrorCodes } from './problems.ts';

describe('problems', () => {
  it('gives every code a stable, distinct problem type, a title and a status', () => {
    assert.ok(protocolErrorCodes.length >= 40);
    const types = new Set<string>();
    for (const code of protocolErrorCodes) {
      const problem = problemDetails(code, `detail of ${code}`);
      const kebab = code.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
      assert.equal(problem.type, `${problemTypeBase}${kebab}`);
      assert.ok(problem.title.length > 0);
      assert.ok(problem.status === 400 || problem.status === 402);
      assert.equal(problem.detail, `detail of ${code}`);
      assert.equal('instance' in problem, false);
      types.add(problem.type);
    }
    assert.equal(types.size, protocolErrorCodes.length);
  });

  it('answers 402 to what paying (again) can cure and 400 to malformed messages', () => {
    const payable = protocolErrorCodes.filter((code) => problemTable[code].status === 402);
    assert.deepEqual(payable.sort(), [
      'accessExpired',
      'challengeExpired',
      'challengeMismatch',
      'invalidChallenge',
      'paymentRequired',
      'receiptInvalid',
      'receiptReplayed',
      'unknownKey',
      'wrongAmount',
      'wrongCurrency',
      'wrongMerchant',
      'wrongResource',
    ]);
  });

  it('builds RFC 9457 objects', () => {
    assert.deepEqual(
      problemDetails('wrongAmount', 'the receipt pays 0.01, the price is 0.02', '/articles/42'),
      {
        type: 'https://mite.dev/problems/wrong-amount',
        title: 'Receipt for another amount',
        status: 402,
        detail: 'the receipt pays 0.01, the price is 0.02',
        instance: '/articles/42',
      },
    );
    assert.deepEqual(problemDetails('receiptReplayed', 'used at 12:00'), {
      type: 'https://mite.dev/problems/receipt-replayed',
      title: 'Receipt already used',
      status: 402,
      detail: 'used at 12:00',
    });
    assert.equal(
      problemDetails('paymentRequired', '').type,
      'https://mite.dev/problems/payment-required',
    );
    assert.equal(problemDetails('invalidChallenge', '').title, 'Challenge not issued here');
    assert.equal(problemDetails('receiptInvalid', '').status, 402);
    assert.equal(problemDetails('unknownKey', '').type, 'https://mite.dev/problems/unknown-key');
    assert.equal(problemDetails('malformedHeader', '').status, 400);
  });
});
