/**
 * The code-redemption rules through the platform, on both databases: what counts (codes redeemed
 * by another Mite user or an outside account; not by their buyer; a broker's buyers counted once
 * each), exactly at the thresholds and within the window of the redemption times reported; and
 * end to end over HTTP with the default rules: mules buy gift cards, the shop reports them
 * redeemed by the broker, the mules' next gift cards are challenged and then blocked, the broker
 * can neither buy nor top up, the user is told no numbers, and each decision is in the operator's
 * review queue. The counts are read from the reports, so a node with no memory of them (another
 * node, or this one after a restart) decides the same.
 */
import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import { payerByPseudonym } from '../payments/payer-pseudonyms.ts';
import type { Answer } from '../platform-testing.ts';
import { createRedemptionReports } from './redemption-reports.ts';
import { createRiskEngine } from './risk-engine.ts';
import { createRiskPolicy } from './risk-policy.ts';
import { defaultRuleSet, defaultRuleSetInput, type RuleSetInput } from './rule-set.ts';
import {
  type Person,
  type RedemptionWorld,
  startRedemptionWorld,
} from './testing/redemption-world.ts';

const dayMs = 86_400_000;
const minuteMs = 60_000;

/** Small thresholds in a day's window, and nothing else, so that each count is in plain view. */
const smallRules: RuleSetInput = {
  version: 'redemptions-small',
  rules: [
    {
      kind: 'codeRedemption',
      name: 'test.redeemed-by-others',
      subject: 'buyer',
      windowSeconds: 86_400,
      thresholds: [
        { atLeast: 2, verdict: 'challenge' },
        { atLeast: 3, verdict: 'block' },
      ],
      reason: '{count} codes redeemed by others in {windowDays} days (limit {atLeast})',
      userMessage: 'This purchase needs a check.',
    },
    {
      kind: 'codeRedemption',
      name: 'test.broker',
      subject: 'redeemer',
      windowSeconds: 86_400,
      thresholds: [{ atLeast: 2, verdict: 'block' }],
      reason: 'redeemed codes of {count} other buyers (limit {atLeast})',
      userMessage: 'This account is paused.',
    },
  ],
};

function assertStopped(answer: Answer, verdict: 'blocked' | 'challenged', rule: string): void {
  assert.equal(answer.status, 403, answer.text);
  assert.match(String(answer.body?.type), new RegExp(`/policy-${verdict}$`));
  assert.equal(answer.body?.rule, rule);
  assert.doesNotMatch(String(answer.body?.detail), /[0-9]/, 'the user is told no numbers');
}

async function reported(w: RedemptionWorld, body: object): Promise<void> {
  const answer = await w.report(body);
  assert.equal(answer.status, 201, answer.text);
}

function topUp(w: RedemptionWorld, person: Person): Promise<Answer> {
  const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
  return w.env.call('POST', '/v1/topups', {
    auth: person.user,
    body: { amount: '10.00', card },
  });
}

forEachDialect('the code-redemption rules', (backend, it) => {
  it('counts others\u2019 redemptions, not the buyer\u2019s own, at the thresholds, in the window', async (t) => {
    const w = await startRedemptionWorld(t, backend, { riskRules: smallRules });
    const { clock } = w;
    const mule = await w.person('mule@example.com');
    const boughtAtMs = clock.nowMs;
    const codes: string[] = [];
    for (let i = 0; i < 5; i += 1) codes.push(await w.bought(mule));
    const [own, outside, late, fourth, fifth] = codes as [string, string, string, string, string];
    const muleHere = await w.payerOf(own);
    clock.nowMs += dayMs;
    await reported(w, { paymentId: own, redeemer: muleHere });
    assert.equal((await w.buy(mule)).status, 201, 'a code redeemed by its buyer counts nothing');
    await reported(w, { paymentId: outside });
    assert.equal((await w.buy(mule)).status, 201, 'one outside account: below the challenge');
    // The second, by another outside account a day less a minute ago: exactly at the challenge.
    const redeemedAt = new Date(boughtAtMs + minuteMs).toISOString();
    await reported(w, { paymentId: late, redeemedAt });
    const challenged = await w.buy(mule);
    assertStopped(challenged, 'challenged', 'test.redeemed-by-others');
    assert.equal(challenged.body?.detail, 'This purchase needs a check.');
    // A minute on, that redemption is exactly a day old: it has left the window.
    clock.nowMs += minuteMs;
    assert.equal((await w.buy(mule)).status, 201, 'one left in the window');
    await reported(w, { paymentId: fourth });
    assertStopped(await w.buy(mule), 'challenged', 'test.redeemed-by-others');
    await reported(w, { paymentId: fifth });
    assertStopped(await w.buy(mule), 'blocked', 'test.redeemed-by-others');
  });

  it('blocks a redeemer of other buyers\u2019 codes, each buyer counted once, in purchases and top-ups', async (t) => {
    const w = await startRedemptionWorld(t, backend, { riskRules: smallRules });
    const broker = await w.person('broker@example.com');
    const brokerHere = await w.payerOf(await w.bought(broker));
    const first = await w.person('first@example.com');
    const second = await w.person('second@example.com');
    // The broker's own code, and two of one mule's, make one other buyer.
    await reported(w, { paymentId: await w.bought(broker), redeemer: brokerHere });
    for (let i = 0; i < 2; i += 1) {
      await reported(w, { paymentId: await w.bought(first), redeemer: brokerHere });
    }
    assert.equal((await w.buy(broker)).status, 201, 'one other buyer');
    assert.equal((await topUp(w, broker)).status, 201);
    await reported(w, { paymentId: await w.bought(second), redeemer: brokerHere });
    const bought = await w.buy(broker);
    assertStopped(bought, 'blocked', 'test.broker');
    assertStopped(await topUp(w, broker), 'blocked', 'test.broker');
    // The mules are buyers, not brokers: their codes were redeemed, they redeemed none.
    assert.equal((await topUp(w, first)).status, 201);
    const decisions = await w.env.call('GET', '/v1/operator/policy-decisions?rule=test.broker', {
      auth: w.env.admin,
    });
    const items = decisions.body?.items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => [item.subject, item.verdict, item.userId]),
      [
        ['topUp', 'block', broker.userId],
        ['purchase', 'block', broker.userId],
      ],
    );
    assert.equal(
      items[0]?.reason,
      'redeemed codes of 2 other buyers (limit 2) (rules redemptions-small)',
    );
  });

  it('end to end: mules challenged then blocked, the broker blocked, all in the review queue', async (t) => {
    const w = await startRedemptionWorld(t, backend, { riskRules: defaultRuleSetInput });
    const { env, clock } = w;
    // Every request comes from one address: a few minutes between purchases keep the
    // velocity rules (more than five attempts in ten minutes) out of this test.
    const spaced = async <T>(request: () => Promise<T>): Promise<T> => {
      clock.nowMs += 3 * minuteMs;
      return request();
    };
    const broker = await w.person('broker@example.com');
    const brokerHere = await w.payerOf(await spaced(() => w.bought(broker)));
    const mules = [
      await w.person('mule-1@example.com'),
      await w.person('mule-2@example.com'),
      await w.person('mule-3@example.com'),
      await w.person('mule-4@example.com'),
    ] as const;
    const [mule] = mules;
    const codes: string[] = [];
    for (let i = 0; i < 5; i += 1) codes.push(await spaced(() => w.bought(mule)));
    for (const paymentId of codes.slice(0, 3)) {
      await reported(w, { paymentId, redeemer: brokerHere });
    }
    const challenged = await spaced(() => w.buy(mule));
    assertStopped(challenged, 'challenged', 'cash-out.codes-redeemed-by-others');
    assert.equal(challenged.body?.detail, 'This purchase needs a check before it can go ahead.');
    for (const paymentId of codes.slice(3)) await reported(w, { paymentId, redeemer: brokerHere });
    const blocked = await spaced(() => w.buy(mule));
    assertStopped(blocked, 'blocked', 'cash-out.codes-redeemed-by-others');

    assert.equal((await spaced(() => w.buy(broker))).status, 201, 'one other buyer so far');
    for (const other of mules.slice(1)) {
      const paymentId = await spaced(() => w.bought(other));
      await reported(w, { paymentId, redeemer: brokerHere });
    }
    assertStopped(await spaced(() => w.buy(broker)), 'blocked', 'cash-out.code-broker');
    assertStopped(await spaced(() => topUp(w, broker)), 'blocked', 'cash-out.code-broker');

    const queue = await env.call('GET', '/v1/operator/policy-decisions?reviewState=open', {
      auth: env.admin,
    });
    const items = queue.body?.items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => [item.rule, item.verdict, item.subject, item.userId]),
      [
        ['cash-out.code-broker', 'block', 'topUp', broker.userId],
        ['cash-out.code-broker', 'block', 'purchase', broker.userId],
        ['cash-out.codes-redeemed-by-others', 'block', 'purchase', mule.userId],
        ['cash-out.codes-redeemed-by-others', 'challenge', 'purchase', mule.userId],
      ],
    );
    assert.equal(
      items[2]?.reason,
      '5 codes this user bought were redeemed by other accounts in 30 days (limit 5) (rules default-1)',
    );
    const one = await env.call(
      'GET',
      `/v1/operator/policy-decisions/${String(blocked.body?.decisionId)}`,
      { auth: env.admin },
    );
    assert.equal(one.body?.merchantId, w.merchantId);

    // A node that never saw these reports (another node, or this one restarted) reads them.
    const { db } = env.platform.platformDb;
    const fresh = createRiskPolicy({
      engine: createRiskEngine({ clock: () => clock.nowMs, ruleSet: defaultRuleSet }),
      merchantMembers: async () => [],
      redemptions: createRedemptionReports({
        db,
        clock: () => clock.nowMs,
        payerOf: payerByPseudonym(db),
      }),
    });
    const decided = await fresh.decide({
      kind: 'purchase',
      userId: mule.userId,
      merchantId: w.merchantId,
      amountMicros: 5_000_000n,
      offerId: w.offerId,
      resource: '/gift-card',
      resellable: true,
      atMs: clock.nowMs,
    });
    assert.deepEqual(
      [decided.verdict, decided.rule],
      ['block', 'cash-out.codes-redeemed-by-others'],
    );
    const brokerTopUp = await fresh.decide({
      kind: 'topUp',
      userId: broker.userId,
      amountMicros: 10_000_000n,
      atMs: clock.nowMs,
    });
    assert.deepEqual([brokerTopUp.verdict, brokerTopUp.rule], ['block', 'cash-out.code-broker']);
  });
});
