/**
 * The risk engine on a fake clock: every kind of rule at its threshold and one past it, windows
 * that slide, blocks that outlast them, the strictest verdict winning, messages for users without
 * numbers, rule sets replaced between two decisions or refused whole, and memory that stays
 * bounded however many subjects come by.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Policy, PurchaseFacts, TopUpFacts } from '../policy/policy.ts';
import { createRiskBenchWorkload } from './risk-bench-workload.ts';
import {
  createRiskEngine,
  type RiskDecision,
  type RiskEngine,
  type RiskSubjects,
  type RiskContext,
} from './risk-engine.ts';
import {
  defaultRuleSet,
  defaultRuleSetInput,
  parseRuleSet,
  type RuleSet,
  type RuleSetInput,
} from './rule-set.ts';

const startMs = Date.UTC(2026, 11, 7, 12);

function fakeClock() {
  let nowMs = startMs;
  return {
    clock: () => nowMs,
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

function purchase(subjects: RiskSubjects, extra: Partial<PurchaseFacts> & RiskContext = {}) {
  return {
    kind: 'purchase' as const,
    merchantId: 'mer_1',
    amountMicros: 1_000_000n,
    offerId: null,
    resource: '/a',
    atMs: startMs,
    ...subjects,
    ...extra,
  };
}

function topUp(subjects: RiskSubjects, amountMicros = 10_000_000n): TopUpFacts & RiskSubjects {
  return { kind: 'topUp', amountMicros, atMs: startMs, ...subjects };
}

function ruleSet(input: RuleSetInput): RuleSet {
  const parsed = parseRuleSet(input);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.detail);
  return parsed.value;
}

/** Records `n` payment attempts and answers the decision on the last one. */
function attempts(engine: RiskEngine, subjects: RiskSubjects, n: number): RiskDecision {
  for (let i = 0; i < n; i += 1) engine.record({ kind: 'paymentAttempt', ...subjects });
  return engine.decide(purchase(subjects));
}

/** Every decision a test saw, so that the user's messages can be checked for numbers. */
const seen: RiskDecision[] = [];
function expectVerdict(decision: RiskDecision, verdict: string, rule?: string): RiskDecision {
  seen.push(decision);
  assert.equal(decision.verdict, verdict, `${decision.rule}: ${decision.reason}`);
  if (rule !== undefined) assert.equal(decision.rule, rule);
  return decision;
}

describe('the risk engine', () => {
  it('challenges the sixth payment attempt in ten minutes and blocks the eleventh', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const asPolicy: Policy = engine; // the platform's policy hook can take the engine as it is
    assert.equal(typeof asPolicy.decide, 'function');
    const alice = { userId: 'usr_alice' };
    expectVerdict(attempts(engine, alice, 5), 'allow', 'risk.none');
    const sixth = expectVerdict(attempts(engine, alice, 1), 'challenge', 'velocity.payments.user');
    assert.equal(sixth.reason, '6 payment attempts by this user in 600 s (limit 6)');
    assert.equal(sixth.ruleSetVersion, defaultRuleSet.version);
    expectVerdict(attempts(engine, alice, 4), 'challenge', 'velocity.payments.user');
    expectVerdict(attempts(engine, alice, 1), 'block', 'velocity.payments.user');
    expectVerdict(engine.decide(purchase({ userId: 'usr_bob' })), 'allow');
  });

  it('counts per card token, IP address and device across users', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    for (const [shared, rule] of [
      [{ cardToken: 'card_1' }, 'velocity.payments.card-token'],
      [{ ip: '192.0.2.1' }, 'velocity.payments.ip'],
      [{ deviceId: 'dev_1' }, 'velocity.payments.device'],
    ] as const) {
      for (let i = 0; i < 5; i += 1) {
        engine.record({ kind: 'paymentAttempt', userId: `usr_${rule}_${i}`, ...shared });
      }
      expectVerdict(engine.decide(purchase({ userId: 'usr_new', ...shared })), 'allow');
      engine.record({ kind: 'paymentAttempt', userId: `usr_${rule}_last`, ...shared });
      expectVerdict(engine.decide(purchase({ userId: 'usr_new', ...shared })), 'challenge', rule);
    }
  });

  it('forgets attempts once they leave the window', () => {
    const time = fakeClock();
    const engine = createRiskEngine({ clock: time.clock });
    const alice = { userId: 'usr_alice' };
    expectVerdict(attempts(engine, alice, 6), 'challenge');
    time.advance(600_000 - 1);
    expectVerdict(engine.decide(purchase(alice)), 'challenge');
    time.advance(1);
    expectVerdict(engine.decide(purchase(alice)), 'allow');
    expectVerdict(attempts(engine, alice, 5), 'allow'); // the five of this window only
  });

  it('applies a rule only to the requests its events are about', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const alice = { userId: 'usr_alice' };
    expectVerdict(attempts(engine, alice, 11), 'block');
    expectVerdict(engine.decide(topUp(alice)), 'allow');
  });

  it('blocks top-ups for an hour after five declines, beyond the window that counted them', () => {
    const time = fakeClock();
    const engine = createRiskEngine({
      clock: time.clock,
      ruleSet: ruleSet({
        version: 'declines-1',
        rules: [
          {
            kind: 'velocity',
            name: 'declines',
            subject: 'user',
            events: ['topUpDeclined'],
            windowSeconds: 60,
            thresholds: [{ atLeast: 5, verdict: 'block' }],
            blockSeconds: 3600,
            reason: '{count} declines, blocked for {blockSeconds} s',
            userMessage: 'Top-ups are paused for a while.',
          },
        ],
      }),
    });
    const alice = { userId: 'usr_alice' };
    for (let i = 0; i < 4; i += 1) engine.record({ kind: 'topUpDeclined', ...alice });
    expectVerdict(engine.decide(topUp(alice)), 'allow');
    engine.record({ kind: 'topUpDeclined', ...alice });
    const blocked = expectVerdict(engine.decide(topUp(alice)), 'block', 'declines');
    assert.equal(blocked.reason, '5 declines, blocked for 3600 s');
    time.advance(61_000); // the declines left the window; the block holds
    expectVerdict(engine.decide(topUp(alice)), 'block', 'declines');
    time.advance(3_600_000 - 61_000 - 1);
    expectVerdict(engine.decide(topUp(alice)), 'block', 'declines');
    time.advance(1);
    expectVerdict(engine.decide(topUp(alice)), 'allow');
    assert.equal(engine.memory().blocks, 0, 'an expired block is dropped when read');
  });

  it('the default set blocks top-ups after five declines in an hour', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const alice = { userId: 'usr_alice' };
    for (let i = 0; i < 5; i += 1) engine.record({ kind: 'topUpDeclined', ...alice });
    expectVerdict(engine.decide(topUp(alice)), 'block', 'velocity.top-up-declines.user');
  });

  it('stops card testing: tiny top-ups below the amount, or declines, on one card', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const card = (userId: string) => ({ userId, cardToken: 'card_tested' });
    for (let i = 0; i < 10; i += 1) {
      engine.record({ kind: 'topUpAttempt', ...card(`usr_${i}`), amountMicros: 1_000_000n });
    }
    expectVerdict(engine.decide(topUp(card('usr_x'))), 'allow', 'risk.none'); // not below
    for (let i = 0; i < 4; i += 1) {
      engine.record({ kind: 'topUpAttempt', ...card(`usr_${i}`), amountMicros: 999_999n });
    }
    expectVerdict(engine.decide(topUp(card('usr_x'))), 'allow');
    engine.record({ kind: 'topUpAttempt', ...card('usr_5'), amountMicros: 1n });
    expectVerdict(engine.decide(topUp(card('usr_x'))), 'block', 'card-testing.card');

    const other = (userId: string) => ({ userId, cardToken: 'card_declined' });
    engine.record({ kind: 'topUpDeclined', ...other('usr_a') });
    engine.record({ kind: 'topUpDeclined', ...other('usr_b') });
    expectVerdict(engine.decide(topUp(other('usr_c'))), 'allow');
    engine.record({ kind: 'topUpDeclined', ...other('usr_c') });
    expectVerdict(engine.decide(topUp(other('usr_c'))), 'block', 'card-testing.card');
  });

  it("blocks a merchant paid by its owner's account, card or device", () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const merchantOwner = { userIds: ['usr_owner'], cardTokens: ['card_o'], deviceIds: ['dev_o'] };
    const buy = (subjects: RiskSubjects) => engine.decide(purchase(subjects, { merchantOwner }));
    expectVerdict(buy({ userId: 'usr_stranger', cardToken: 'card_s', deviceId: 'dev_s' }), 'allow');
    const own = expectVerdict(buy({ userId: 'usr_owner' }), 'block', 'self-dealing');
    assert.equal(own.reason, "the payer shares the merchant owner's account");
    const shared = expectVerdict(
      buy({ userId: 'usr_friend', cardToken: 'card_o', deviceId: 'dev_o' }),
      'block',
    );
    assert.equal(shared.reason, "the payer shares the merchant owner's card and device");
  });

  it('challenges resellable spending above nine tenths of the cap, not at it', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const buy = (spent: bigint, resellable = true) =>
      engine.decide({
        ...purchase({ userId: 'usr_alice' }, { amountMicros: 1_000_000n }),
        resellable,
        resellableSpentThisMonthMicros: spent,
      });
    expectVerdict(buy(89_000_000n), 'allow'); // 90 units of 100: exactly 90%
    const over = expectVerdict(buy(89_000_001n), 'challenge', 'cash-out.resellable');
    assert.match(over.reason, /90000001 of a cap of 100000000/);
    expectVerdict(buy(99_000_000n, false), 'allow');
  });

  it('challenges a buyer whose codes others redeemed, exactly at the thresholds, in the window', () => {
    const time = fakeClock();
    const engine = createRiskEngine({ clock: time.clock });
    const dayMs = 86_400_000;
    // The default: 3 in 30 days challenge, 5 block; times newest first, as the facts come.
    const redeemed = (count: number, newestAgoMs = 0) =>
      Array.from({ length: count }, (_, i) => startMs - newestAgoMs - i * 60_000);
    const buy = (times: number[], resellable = true) =>
      engine.decide({
        ...purchase({ userId: 'usr_mule' }),
        resellable,
        redemptions: { byOthersAtMs: times, otherBuyersLatestAtMs: [] },
      });
    const rule = 'cash-out.codes-redeemed-by-others';
    expectVerdict(buy(redeemed(2)), 'allow');
    const third = expectVerdict(buy(redeemed(3)), 'challenge', rule);
    assert.equal(
      third.reason,
      '3 codes this user bought were redeemed by other accounts in 30 days (limit 3)',
    );
    expectVerdict(buy(redeemed(4)), 'challenge', rule);
    expectVerdict(buy(redeemed(5)), 'block', rule);
    // Only a purchase of resellable goods (the codes) is stopped by the buyer's rule.
    expectVerdict(buy(redeemed(5), false), 'allow');
    expectVerdict(
      engine.decide({
        ...topUp({ userId: 'usr_mule' }),
        redemptions: { byOthersAtMs: redeemed(5), otherBuyersLatestAtMs: [] },
      }),
      'allow',
    );
    // The window is the last 30 days: a redemption exactly that old has left it.
    const oldest = startMs - 30 * dayMs + 1;
    expectVerdict(buy([startMs, startMs - 1, oldest]), 'challenge', rule);
    time.advance(1);
    expectVerdict(buy([startMs, startMs - 1, oldest]), 'allow');
    expectVerdict(buy([]), 'allow');
  });

  it('blocks a redeemer of codes from four other buyers as a broker, in purchases and top-ups', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const facts = (buyers: number) => ({
      redemptions: {
        byOthersAtMs: [],
        otherBuyersLatestAtMs: Array.from({ length: buyers }, (_, i) => startMs - i * 1000),
      },
    });
    const broker = { userId: 'usr_broker' };
    expectVerdict(engine.decide({ ...purchase(broker), ...facts(3) }), 'allow');
    const blocked = expectVerdict(
      engine.decide({ ...purchase(broker), ...facts(4) }),
      'block',
      'cash-out.code-broker',
    );
    assert.equal(
      blocked.reason,
      'this user redeemed codes bought by 4 other buyers in 30 days (limit 4): a cash-out broker',
    );
    expectVerdict(
      engine.decide({ ...topUp(broker), ...facts(4) }),
      'block',
      'cash-out.code-broker',
    );
    // Token withdrawals are not in the default rule's appliesTo.
    expectVerdict(
      engine.decide({
        kind: 'tokenWithdrawal',
        amountMicros: 1n,
        atMs: startMs,
        ...broker,
        ...facts(4),
      }),
      'allow',
    );
  });

  it('tells the caller which redemption facts the rules in force need', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    assert.deepEqual(engine.redemptionsNeeded('purchase', true), {
      asBuyer: true,
      asRedeemer: true,
    });
    assert.deepEqual(engine.redemptionsNeeded('purchase', false), {
      asBuyer: false,
      asRedeemer: true,
    });
    assert.deepEqual(engine.redemptionsNeeded('topUp', false), {
      asBuyer: false,
      asRedeemer: true,
    });
    assert.deepEqual(engine.redemptionsNeeded('tokenWithdrawal', false), {
      asBuyer: false,
      asRedeemer: false,
    });
    const none = createRiskEngine({ clock, ruleSet: ruleSet({ version: 'none', rules: [] }) });
    assert.deepEqual(none.redemptionsNeeded('purchase', true), {
      asBuyer: false,
      asRedeemer: false,
    });
  });

  it('lets the strictest verdict win, and the earlier rule among equals', () => {
    const { clock } = fakeClock();
    const velocity = (name: string, atLeast: number, verdict: 'challenge' | 'block') => ({
      kind: 'velocity' as const,
      name,
      subject: 'user' as const,
      events: ['paymentAttempt' as const],
      windowSeconds: 60,
      thresholds: [{ atLeast, verdict }],
      reason: name,
      userMessage: 'Please wait a little.',
    });
    const engine = createRiskEngine({
      clock,
      ruleSet: ruleSet({
        version: 'order-1',
        rules: [
          velocity('first-challenge', 1, 'challenge'),
          velocity('second-challenge', 1, 'challenge'),
          velocity('late-block', 3, 'block'),
        ],
      }),
    });
    const alice = { userId: 'usr_alice' };
    expectVerdict(attempts(engine, alice, 2), 'challenge', 'first-challenge');
    expectVerdict(attempts(engine, alice, 1), 'block', 'late-block');
  });

  it("tells users why without the rules' numbers", () => {
    assert.ok(seen.length > 20, 'the cases above recorded their decisions');
    for (const decision of seen.filter((d) => d.verdict !== 'allow')) {
      assert.ok(decision.userMessage.length > 0, decision.rule);
      assert.doesNotMatch(decision.userMessage, /[0-9]/, decision.rule);
      assert.ok(!decision.userMessage.includes(decision.reason));
    }
    for (const rule of defaultRuleSet.rules) assert.doesNotMatch(rule.userMessage, /[0-9]/);
  });

  it('applies a replaced rule set from the next decision on, keeping the counts', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const alice = { userId: 'usr_alice' };
    expectVerdict(attempts(engine, alice, 3), 'allow');
    const stricter = structuredClone(defaultRuleSetInput);
    stricter.version = 'default-2';
    const userRule = stricter.rules[0];
    assert.ok(userRule && userRule.kind === 'velocity');
    userRule.thresholds = [{ atLeast: 3, verdict: 'block' }];
    const replaced = engine.replaceRuleSet(stricter);
    assert.deepEqual(replaced, { ok: true, value: { version: 'default-2' } });
    const decided = expectVerdict(
      engine.decide(purchase(alice)),
      'block',
      'velocity.payments.user',
    );
    assert.equal(decided.ruleSetVersion, 'default-2');
    assert.equal(engine.ruleSetVersion(), 'default-2');
    assert.equal(engine.replaceRuleSet(stricter).ok, false, 'the same version again is refused');
  });

  it('refuses an invalid rule set whole and keeps the one in force', () => {
    const { clock } = fakeClock();
    const engine = createRiskEngine({ clock });
    const spoiled = structuredClone(defaultRuleSetInput);
    spoiled.version = 'default-3';
    const userRule = spoiled.rules[0];
    assert.ok(userRule && userRule.kind === 'velocity');
    userRule.thresholds = [{ atLeast: 1, verdict: 'block' }]; // valid, and would block at once
    const last = spoiled.rules.at(-1);
    assert.ok(last);
    last.userMessage = 'Spent over 90% of the cap.';
    const refused = engine.replaceRuleSet(spoiled);
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? '' : refused.code, 'invalidRuleSet');
    assert.equal(engine.ruleSetVersion(), defaultRuleSet.version);
    expectVerdict(attempts(engine, { userId: 'usr_alice' }, 1), 'allow');
  });

  it('keeps memory bounded however many subjects come by', () => {
    const time = fakeClock();
    const keysMax = 1000;
    const engine = createRiskEngine({ clock: time.clock, keysMax });
    for (let i = 0; i < 5 * keysMax; i += 1) {
      engine.record({ kind: 'topUpDeclined', userId: `usr_${i}`, cardToken: `card_${i}` });
      time.advance(1);
    }
    assert.ok(engine.memory().counterKeys <= keysMax);
    assert.ok(engine.memory().blocks <= keysMax);
    // The most recent subjects are the ones kept.
    const last = { userId: `usr_${5 * keysMax - 1}` };
    for (let i = 0; i < 4; i += 1) engine.record({ kind: 'topUpDeclined', ...last });
    expectVerdict(engine.decide(topUp(last)), 'block');
  });

  it('leaves the benchmark a workload that decides', () => {
    const workload = createRiskBenchWorkload(100);
    assert.equal(workload.decide(0).verdict, 'allow');
    for (let i = 0; i < 3; i += 1) workload.recordAndDecide(7);
    expectVerdict(workload.recordAndDecide(7), 'challenge', 'velocity.payments.user');
  });
});
