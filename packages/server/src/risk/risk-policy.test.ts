/**
 * The risk rules wired into the platform, over real HTTP on both databases, with the issue's
 * example thresholds (the default rule set): the sixth payment attempt in ten minutes is
 * challenged and the eleventh blocked; five declined top-ups block top-ups for an hour, and the
 * hour over they are allowed; a merchant's own member, or a payer on its owner's device, is
 * self-dealing. The user is told the rule's message, never its numbers; the operator's decision
 * record has the reason. A new rule set decides the next request without a restart, on this node
 * at once and on another within the refresh interval.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { forEachDialect } from '../db/testing.ts';
import {
  type Backend,
  createMerchantWithKey,
  logInMerchantPerson,
  type PlatformUnderTest,
  signUpAndTopUp,
  startPlatformUnderTest,
} from '../platform-testing.ts';
import { createRiskEngine } from './risk-engine.ts';
import { defaultRuleSetInput } from './rule-set.ts';
import { createRuleSetStore, ruleSetRefreshMs } from './rule-set-store.ts';

const minuteMs = 60_000;

/** A platform on a clock the test moves. */
async function riskWorld(t: TestContext, backend: Backend) {
  let nowMs = Date.parse('2026-03-02T10:00:00Z');
  const env = await startPlatformUnderTest(t, backend, {
    riskRules: defaultRuleSetInput,
    clock: () => nowMs,
    backgroundJobs: false,
  });
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Daily News' });
  const offer = await env.call('POST', '/v1/offers', {
    auth: apiKey,
    body: {
      resource: '/articles/1',
      title: 'One',
      price: '0.02',
      category: 'content',
      accessPeriodSeconds: 0,
    },
  });
  assert.equal(offer.status, 201, offer.text);
  return {
    env,
    merchantId,
    apiKey,
    offerId: String(offer.body?.id),
    advance(ms: number) {
      nowMs += ms;
    },
  };
}

function card(number: string, expYear = 2099) {
  return { number, expMonth: 12, expYear, cvc: '123' };
}

async function pay(env: PlatformUnderTest, user: string, offerId: string, device?: string) {
  return env.call('POST', '/v1/payments', {
    auth: user,
    body: { offerId },
    ...(device === undefined ? {} : { headers: { 'mite-device': device } }),
  });
}

async function decisions(env: PlatformUnderTest) {
  return env.platform.platformDb.db
    .selectFrom('policy_decisions')
    .select(['id', 'subject', 'verdict', 'rule', 'reason', 'user_id'])
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

function assertStopped(
  answer: Awaited<ReturnType<PlatformUnderTest['call']>>,
  verdict: 'blocked' | 'challenged',
  rule: string,
) {
  assert.equal(answer.status, 403, answer.text);
  assert.match(String(answer.body?.type), new RegExp(`/policy-${verdict}$`));
  assert.equal(answer.body?.rule, rule);
  // What the user sees explains without the thresholds that would help get around it.
  assert.doesNotMatch(String(answer.body?.detail), /[0-9]/);
}

forEachDialect('the risk rules', (backend, it) => {
  it('challenges the 6th payment attempt in 10 minutes and blocks the 11th', async (t) => {
    const world = await riskWorld(t, backend);
    const { env, offerId } = world;
    const ada = await signUpAndTopUp(env, {
      email: 'ada@example.com',
      password: 'pw-ada-long-1',
      topUp: '5.00',
    });
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const paid = await pay(env, ada.user, offerId);
      assert.equal(paid.status, 201, `attempt ${attempt}: ${paid.text}`);
    }
    for (let attempt = 6; attempt <= 10; attempt += 1) {
      const challenged = await pay(env, ada.user, offerId);
      assertStopped(challenged, 'challenged', 'velocity.payments.user');
      assert.equal(
        challenged.body?.detail,
        'There have been many payments from this account in a short time.',
      );
    }
    const blocked = await pay(env, ada.user, offerId);
    assertStopped(blocked, 'blocked', 'velocity.payments.user');
    const recorded = await decisions(env);
    assert.equal(recorded.length, 6);
    assert.deepEqual(recorded.at(-1), {
      id: blocked.body?.decisionId,
      subject: 'purchase',
      verdict: 'block',
      rule: 'velocity.payments.user',
      reason: '11 payment attempts by this user in 600 s (limit 11) (rules default-1)',
      user_id: ada.userId,
    });

    // Ten minutes on, the attempts have left the window.
    world.advance(10 * minuteMs);
    assert.equal((await pay(env, ada.user, offerId)).status, 201);
  });

  it('blocks top-ups for an hour after 5 declined ones, then allows them', async (t) => {
    const world = await riskWorld(t, backend);
    const { env } = world;
    const bob = await signUpAndTopUp(env, {
      email: 'bob@example.com',
      password: 'pw-bob-long-1',
      topUp: '5.00',
    });
    const topUp = (body: object) => env.call('POST', '/v1/topups', { auth: bob.user, body });
    // Two declines at most per card, so that the card-testing rule (declines per card) is quiet.
    const declining = [
      card('4000000000000002'),
      card('4000000000000002'),
      card('4000000000009995'),
      card('4000000000009995'),
      card('5555555555554444', 2020),
    ];
    for (const declined of declining) {
      const answer = await topUp({ amount: '5.00', card: declined });
      assert.equal(answer.status, 422, answer.text);
    }
    const blocked = await topUp({ amount: '5.00', card: card('4242424242424242') });
    assertStopped(blocked, 'blocked', 'velocity.top-up-declines.user');
    assert.equal(
      blocked.body?.detail,
      'Top-ups are paused for a while after several declined cards.',
    );
    world.advance(59 * minuteMs);
    const stillBlocked = await topUp({ amount: '5.00', card: card('4242424242424242') });
    assertStopped(stillBlocked, 'blocked', 'velocity.top-up-declines.user');
    world.advance(minuteMs);
    const allowed = await topUp({ amount: '5.00', card: card('4242424242424242') });
    assert.equal(allowed.status, 201, allowed.text);
    const [first] = await decisions(env);
    assert.equal(first?.subject, 'topUp');
    assert.equal(
      first?.reason,
      '5 declined top-ups by this user in 3600 s: blocked for 3600 s (rules default-1)',
    );
  });

  it('blocks a merchant paid by its own member, or from its owner\u2019s device', async (t) => {
    const world = await riskWorld(t, backend);
    const { env } = world;
    const owner = await logInMerchantPerson(env, {
      email: 'owner@example.com',
      merchantName: 'Own Shop',
    });
    const offer = await env.call('POST', '/v1/offers', {
      auth: owner.token,
      body: {
        resource: '/own',
        title: 'Own',
        price: '0.05',
        category: 'content',
        accessPeriodSeconds: 0,
      },
    });
    assert.equal(offer.status, 201, offer.text);
    const ownOfferId = String(offer.body?.id);
    // The owner's wallet, topped up from the owner's phone.
    const session = await env.call('POST', '/v1/sessions', {
      body: { email: 'owner@example.com', password: 'a long passphrase' },
    });
    assert.equal(session.status, 201, session.text);
    const ownerWallet = String(session.body?.token);
    const toppedUp = await env.call('POST', '/v1/topups', {
      auth: ownerWallet,
      body: { amount: '5.00', card: card('4242424242424242') },
      headers: { 'mite-device': 'owner-phone' },
    });
    assert.equal(toppedUp.status, 201, toppedUp.text);

    const byMember = await pay(env, ownerWallet, ownOfferId);
    assertStopped(byMember, 'blocked', 'self-dealing');
    assert.equal(byMember.body?.detail, 'This payment cannot be made from this account.');
    const mule = await signUpAndTopUp(env, {
      email: 'mule@example.com',
      password: 'pw-mule-long',
      topUp: '5.00',
      cardNumber: '5555555555554444',
    });
    assertStopped(await pay(env, mule.user, ownOfferId, 'owner-phone'), 'blocked', 'self-dealing');
    assert.equal((await pay(env, mule.user, ownOfferId, 'mule-phone')).status, 201);
    assert.deepEqual(
      (await decisions(env)).map((d) => [d.user_id, d.reason]),
      [
        [owner.userId, "the payer shares the merchant owner's account (rules default-1)"],
        [mule.userId, "the payer shares the merchant owner's device (rules default-1)"],
      ],
    );
  });

  it('refuses a Mite-Device header that is not a device id', async (t) => {
    const world = await riskWorld(t, backend);
    const ada = await signUpAndTopUp(world.env, {
      email: 'ada@example.com',
      password: 'pw-ada-long-1',
      topUp: '5.00',
    });
    for (const device of ['x'.repeat(65), 'has space', 'dot.ted']) {
      const answer = await pay(world.env, ada.user, world.offerId, device);
      assert.equal(answer.status, 400, answer.text);
      assert.match(String(answer.body?.type), /\/validation-failed$/);
      assert.match(String(answer.body?.detail), /mite-device/);
    }
    assert.equal((await pay(world.env, ada.user, world.offerId, 'A'.repeat(64))).status, 201);
  });

  it('puts a new rule set in force without a restart, refusing invalid ones whole', async (t) => {
    const world = await riskWorld(t, backend);
    const { env, offerId } = world;
    const admin = env.admin;
    const ada = await signUpAndTopUp(env, {
      email: 'ada@example.com',
      password: 'pw-ada-long-1',
      topUp: '5.00',
    });
    const inForce = async () =>
      (await env.call('GET', '/v1/operator/risk/rule-set', { auth: admin })).body;
    assert.equal((await inForce())?.version, 'default-1');
    assert.equal((await inForce())?.createdBy, null);

    const invalid = await env.call('POST', '/v1/operator/risk/rule-sets', {
      auth: admin,
      body: {
        version: 'broken',
        rules: [{ ...strictPayments(2), windowSeconds: 0, userMessage: 'Wait 5 minutes' }],
      },
    });
    assert.equal(invalid.status, 400, invalid.text);
    assert.match(String(invalid.body?.type), /\/invalid-rule-set$/);
    const errors = invalid.body?.errors as { path: string; message: string }[];
    assert.deepEqual(errors.map((error) => error.path).sort(), [
      '/rules/0/userMessage',
      '/rules/0/windowSeconds',
    ]);
    assert.equal((await inForce())?.version, 'default-1', 'nothing changed');

    assert.equal((await pay(env, ada.user, offerId)).status, 201);
    const published = await env.call('POST', '/v1/operator/risk/rule-sets', {
      auth: admin,
      body: { version: 'strict-2', rules: [strictPayments(2)] },
    });
    assert.equal(published.status, 201, published.text);
    assert.match(String(published.body?.createdBy), /^operator:/);
    assertStopped(await pay(env, ada.user, offerId), 'challenged', 'strict.payments');
    // A node starting now (or this one restarted) loads the stored version in force.
    const restarted = createRiskEngine({ clock: Date.now });
    await createRuleSetStore({
      platform: env.platform.platformDb,
      engine: restarted,
      clock: Date.now,
    }).load();
    assert.equal(restarted.ruleSetVersion(), 'strict-2');
    const again = await env.call('POST', '/v1/operator/risk/rule-sets', {
      auth: admin,
      body: { version: 'strict-2', rules: [] },
    });
    assert.equal(again.status, 409, again.text);
    assert.match(String(again.body?.type), /\/rule-set-version-exists$/);

    // Another node stores a version: this node decides by it once its look is due.
    const db = env.platform.platformDb.db;
    await db.updateTable('risk_rule_sets').set({ in_force: null }).execute();
    await db
      .insertInto('risk_rule_sets')
      .values({
        version: 'lenient-3',
        rule_set: JSON.stringify({ version: 'lenient-3', rules: [] }),
        created_by: 'operator:other-node',
        created_at: 1n,
        in_force: 1,
      })
      .execute();
    world.advance(ruleSetRefreshMs - 1);
    assertStopped(await pay(env, ada.user, offerId), 'challenged', 'strict.payments');
    world.advance(1);
    assert.equal((await pay(env, ada.user, offerId)).status, 201);
    const history = await env.call('GET', '/v1/operator/risk/rule-sets', { auth: admin });
    assert.deepEqual(
      (history.body?.ruleSets as { version: string; inForce: boolean }[]).map((set) => [
        set.version,
        set.inForce,
      ]),
      [
        ['strict-2', false],
        ['lenient-3', true],
      ],
    );
    assert.equal((await inForce())?.version, 'lenient-3');
    // Users are not operators.
    const asUser = await env.call('GET', '/v1/operator/risk/rule-set', { auth: ada.user });
    assert.equal(asUser.status, 403, asUser.text);
  });
});

/** A velocity rule that challenges a user's payments from the given count on. */
function strictPayments(atLeast: number) {
  return {
    kind: 'velocity',
    name: 'strict.payments',
    subject: 'user',
    events: ['paymentAttempt'],
    windowSeconds: 600,
    thresholds: [{ atLeast, verdict: 'challenge' }],
    reason: '{count} payments in {windowSeconds} s',
    userMessage: 'Please confirm this payment.',
  };
}
