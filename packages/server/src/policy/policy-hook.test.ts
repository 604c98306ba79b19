/**
 * The policy hook over real HTTP, on both databases: a policy that blocks, and one that asks for
 * confirmation, stop purchases and top-ups before any money moves; the answer is a problem of its
 * own type naming the rule; the decision is recorded for review; the default allows everything.
 */
import assert from 'node:assert/strict';
import { setUpShop, startPlatformUnderTest } from '../platform-testing.ts';
import { forEachDialect } from '../db/testing.ts';
import { allowEverything, type Policy, type PolicyDecision, type PolicySubject } from './policy.ts';

/** A policy the test turns: it allows until told otherwise, and remembers what it was asked. */
function switchablePolicy() {
  const asked: PolicySubject[] = [];
  let decision: PolicyDecision | undefined;
  const policy: Policy = {
    decide(subject) {
      asked.push(subject);
      return decision ?? allowEverything.decide(subject);
    },
  };
  return {
    policy,
    asked,
    set(next: PolicyDecision | undefined) {
      decision = next;
    },
  };
}

forEachDialect('the policy hook', (backend, it) => {
  it('stops purchases and top-ups it blocks or challenges, before money moves', async (t) => {
    const switchable = switchablePolicy();
    const env = await startPlatformUnderTest(t, backend, { policy: switchable.policy });
    const shop = await setUpShop(env); // under the default: a top-up and a purchase went ahead
    assert.deepEqual(
      switchable.asked.map((subject) => subject.kind),
      ['topUp', 'purchase'],
    );
    const db = env.platform.platformDb.db;
    const wallet = async () => (await env.call('GET', '/v1/wallet', { auth: shop.user })).body;
    const before = await wallet();
    const count = async (table: 'payments' | 'topups') =>
      (await db.selectFrom(table).select('id').execute()).length;
    const [payments, topUps] = [await count('payments'), await count('topups')];

    const cases = [
      { verdict: 'block', type: 'policy-blocked' },
      { verdict: 'challenge', type: 'policy-challenged' },
    ] as const;
    for (const { verdict, type } of cases) {
      const rule = `test.${verdict}`;
      switchable.set({ verdict, rule, reason: `the test ${verdict}s this` });
      const bought = await env.call('POST', '/v1/payments', {
        auth: shop.user,
        body: { offerId: shop.offerId },
      });
      const toppedUp = await env.call('POST', '/v1/topups', {
        auth: shop.user,
        body: {
          amount: '5.00',
          card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
        },
      });
      for (const answer of [bought, toppedUp]) {
        assert.equal(answer.status, 403, answer.text);
        assert.match(answer.contentType, /^application\/problem\+json/);
        assert.match(String(answer.body?.type), new RegExp(`/${type}$`));
        assert.equal(answer.body?.rule, rule);
        assert.equal(answer.body?.detail, `the test ${verdict}s this`);
        assert.match(String(answer.body?.decisionId), /^pdc_/);
      }
    }
    assert.deepEqual(await wallet(), before, 'nothing moved');
    assert.equal(await count('payments'), payments);
    assert.equal(await count('topups'), topUps);
    const decisions = await db
      .selectFrom('policy_decisions')
      .select(['subject', 'verdict', 'rule', 'user_id', 'merchant_id', 'amount_micros'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    assert.deepEqual(decisions, [
      ...['block', 'challenge'].flatMap((verdict) => [
        {
          subject: 'purchase',
          verdict,
          rule: `test.${verdict}`,
          user_id: shop.userId,
          merchant_id: shop.merchantId,
          amount_micros: '20000',
        },
        {
          subject: 'topUp',
          verdict,
          rule: `test.${verdict}`,
          user_id: shop.userId,
          merchant_id: null,
          amount_micros: '5000000',
        },
      ]),
    ]);

    // Allowed again: a top-up goes ahead.
    switchable.set(undefined);
    const again = await env.call('POST', '/v1/topups', {
      auth: shop.user,
      body: {
        amount: '1.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
      },
    });
    assert.equal(again.status, 201, again.text);
  });
});
