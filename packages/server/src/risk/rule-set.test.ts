/**
 * The rule-set format: the default set is valid and says what the issue says; an invalid set is
 * refused whole, with an error naming each problem.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  defaultRuleSet,
  defaultRuleSetInput,
  parseRuleSet,
  redemptionWindowSecondsMax,
  riskEventsPerKeyMax,
  type RuleSetInput,
} from './rule-set.ts';

/** A valid rule set with one velocity rule, which each case below spoils in one way. */
function validSet(): RuleSetInput {
  return {
    version: 'test-1',
    rules: [
      {
        kind: 'velocity',
        name: 'velocity.payments.user',
        subject: 'user',
        events: ['paymentAttempt'],
        windowSeconds: 600,
        thresholds: [{ atLeast: 6, verdict: 'challenge' }],
        reason: '{count} attempts in {windowSeconds} s',
        userMessage: 'Too many payments in a short time.',
      },
    ],
  };
}

function refusal(input: unknown): string {
  const parsed = parseRuleSet(input);
  assert.equal(parsed.ok, false, 'the rule set should have been refused');
  return parsed.ok ? '' : (parsed.detail ?? '');
}

describe('risk rule sets', () => {
  it('the default set holds the issue example numbers and is frozen', () => {
    const users = defaultRuleSet.rules.find((rule) => rule.name === 'velocity.payments.user');
    assert.ok(users && users.kind === 'velocity');
    assert.deepEqual(users.thresholds, [
      { atLeast: 6, verdict: 'challenge' },
      { atLeast: 11, verdict: 'block' },
    ]);
    assert.equal(users.windowSeconds, 600);
    const declines = defaultRuleSet.rules.find((r) => r.name === 'velocity.top-up-declines.user');
    assert.ok(declines && declines.kind === 'velocity');
    assert.equal(declines.blockSeconds, 3600);
    assert.ok(Object.isFrozen(defaultRuleSet.rules));
    assert.throws(() => {
      (users.thresholds as { atLeast: number }[]).push({ atLeast: 1 });
    }, TypeError);
    const names = defaultRuleSet.rules.map((rule) => rule.name);
    assert.deepEqual(names.slice(0, 4), [
      'velocity.payments.user',
      'velocity.payments.card-token',
      'velocity.payments.ip',
      'velocity.payments.device',
    ]);
  });

  it('reads amounts as bigint micro-units from decimal strings', () => {
    const cashOut = defaultRuleSet.rules.find((rule) => rule.kind === 'cashOut');
    assert.ok(cashOut && cashOut.kind === 'cashOut');
    assert.equal(cashOut.monthlyCapMicros, 100_000_000n);
    const spoiled = structuredClone(defaultRuleSetInput);
    const rule = spoiled.rules.find((r) => r.kind === 'cashOut');
    assert.ok(rule && rule.kind === 'cashOut');
    rule.monthlyCapMicros = '1.5';
    assert.match(refusal(spoiled), /whole number of micro-units/);
  });

  it('refuses a user message that would reveal a threshold', () => {
    const set = validSet();
    const rule = set.rules[0];
    assert.ok(rule);
    rule.userMessage = 'More than 5 payments in ten minutes.';
    assert.match(refusal(set), /must not reveal thresholds/);
    rule.userMessage = 'More than {atLeast} payments.';
    assert.match(refusal(set), /must not reveal thresholds/);
  });

  it('refuses unknown placeholders, duplicate names and unknown fields', () => {
    const placeholder = validSet();
    assert.ok(placeholder.rules[0]);
    placeholder.rules[0].reason = '{count} of {monthlyCap}';
    assert.match(refusal(placeholder), /unknown placeholder \{monthlyCap\}/);

    const duplicate = validSet();
    assert.ok(duplicate.rules[0]);
    duplicate.rules.push({ ...duplicate.rules[0] });
    assert.match(refusal(duplicate), /duplicate name/);

    assert.ok(refusal({ ...validSet(), extra: true }).length > 0);
    assert.ok(refusal({ rules: [] }).length > 0, 'a set without a version');
  });

  it('refuses thresholds that cannot be counted or go down', () => {
    const tooHigh = validSet();
    const rule = tooHigh.rules[0];
    assert.ok(rule && rule.kind === 'velocity');
    rule.thresholds = [{ atLeast: riskEventsPerKeyMax + 1, verdict: 'block' }];
    assert.ok(refusal(tooHigh).includes('thresholds'));

    rule.thresholds = [
      { atLeast: 10, verdict: 'challenge' },
      { atLeast: 10, verdict: 'block' },
    ];
    assert.match(refusal(tooHigh), /thresholds go up/);

    rule.thresholds = [{ atLeast: 10, verdict: 'challenge' }];
    rule.blockSeconds = 60;
    assert.match(refusal(tooHigh), /blockSeconds needs a block threshold/);
  });

  it('refuses the whole set when one rule of several is invalid', () => {
    const set = structuredClone(defaultRuleSetInput);
    const index = set.rules.findIndex((rule) => rule.kind === 'selfDealing');
    const selfDealing = set.rules[index];
    assert.ok(selfDealing && selfDealing.kind === 'selfDealing');
    selfDealing.verdict = 'allow' as 'block';
    assert.match(refusal(set), new RegExp(`rules\\[${index}\\]\\.verdict`));
  });

  it('holds the code-redemption rules: a buyer challenged at 3 and blocked at 5, a broker at 4', () => {
    const byName = (name: string) => defaultRuleSet.rules.find((rule) => rule.name === name);
    const buyer = byName('cash-out.codes-redeemed-by-others');
    assert.ok(buyer && buyer.kind === 'codeRedemption');
    assert.equal(buyer.subject, 'buyer');
    assert.equal(buyer.windowSeconds, 30 * 86_400);
    assert.deepEqual(buyer.thresholds, [
      { atLeast: 3, verdict: 'challenge' },
      { atLeast: 5, verdict: 'block' },
    ]);
    const broker = byName('cash-out.code-broker');
    assert.ok(broker && broker.kind === 'codeRedemption');
    assert.equal(broker.subject, 'redeemer');
    assert.deepEqual(broker.thresholds, [{ atLeast: 4, verdict: 'block' }]);
  });

  it('refuses code-redemption rules with a window too long, thresholds going down, or a buyer appliesTo', () => {
    const rule = {
      kind: 'codeRedemption',
      name: 'cash-out.redeemed',
      subject: 'buyer',
      windowSeconds: redemptionWindowSecondsMax,
      thresholds: [{ atLeast: 2, verdict: 'challenge' }],
      reason: '{count} in {windowDays} days (limit {atLeast}, {windowSeconds} s)',
      userMessage: 'This purchase needs a check.',
    };
    assert.ok(parseRuleSet({ version: 'x', rules: [rule] }).ok);
    const set = (changes: object) => ({ version: 'x', rules: [{ ...rule, ...changes }] });
    assert.match(refusal(set({ windowSeconds: redemptionWindowSecondsMax + 1 })), /windowSeconds/);
    assert.match(
      refusal(
        set({
          thresholds: [
            { atLeast: 3, verdict: 'challenge' },
            { atLeast: 2, verdict: 'block' },
          ],
        }),
      ),
      /thresholds go up/,
    );
    assert.match(refusal(set({ appliesTo: ['topUp'] })), /takes no appliesTo/);
    assert.ok(parseRuleSet(set({ subject: 'redeemer', appliesTo: ['topUp'] })).ok);
    assert.match(refusal(set({ subject: 'seller' })), /subject/);
    assert.match(refusal(set({ reason: '{spentMicros}' })), /unknown placeholder/);
  });

  it('refuses card testing with nothing to count', () => {
    const detail = refusal({
      version: 'x',
      rules: [
        {
          kind: 'cardTesting',
          name: 'card-testing',
          windowSeconds: 60,
          verdict: 'block',
          reason: 'card testing',
          userMessage: 'This card cannot be used.',
        },
      ],
    });
    assert.match(detail, /needs smallTopUps or declines/);
  });
});
