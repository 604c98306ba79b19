/**
 * `mite pay` when the platform's policy asks the person to confirm a payment: at a terminal the
 * question says who is paid, how much and why, and only a yes pays; a script is told in one line
 * where to confirm.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyChallenge } from '@mite/client';
import { askToConfirm, challengedHelp } from './pay-command.ts';

const challenge: PolicyChallenge = {
  reason: 'many payments in a few minutes',
  rule: 'velocity.payments',
  amount: '0.02',
  amountMicros: 20_000n,
  merchant: 'mer_1',
  merchantName: 'The Daily Mite',
  decisionId: 'pdc_00000000-0000-7000-8000-000000000000',
};

describe('mite pay: confirming a challenged payment', () => {
  it('asks y/N at a terminal, and pays only on yes', async () => {
    for (const [answer, approved] of [
      ['y', true],
      ['YES\n', true],
      [' yes ', true],
      ['', false],
      ['n', false],
      ['yep', false],
    ] as const) {
      const questions: string[] = [];
      const approve = askToConfirm(async (question) => {
        questions.push(question);
        return answer;
      });
      assert.equal(await approve(challenge), approved, `answer ${JSON.stringify(answer)}`);
      assert.deepEqual(questions, [
        'mite: the platform asks you to confirm paying 0.02 to "The Daily Mite" (mer_1): ' +
          'many payments in a few minutes. Pay? [y/N] ',
      ]);
    }
  });

  it('tells a script, in one line, why nothing was paid and where to confirm', () => {
    const help = challengedHelp('many payments in a few minutes');
    assert.doesNotMatch(help, /\n/);
    assert.match(help, /^policyChallenged: .*many payments in a few minutes.*nothing was paid/);
    assert.match(help, /terminal/);
    assert.match(help, /pay window/);
  });
});
