/**
 * Confirming a challenge over real HTTP, on both databases: the user confirms their own challenged
 * decision and the retry naming it goes ahead once; nothing else does (another user, a block, an
 * expired challenge, another amount or merchant, a replay, a second retry racing the first), and
 * the decision shows, for the operator's review, when it was confirmed and what used it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { blind } from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import {
  type Answer,
  type Backend,
  createMerchantWithKey,
  type PlatformUnderTest,
  setUpShop,
  signUpAndTopUp,
  startPlatformUnderTest,
} from '../platform-testing.ts';
import { allowEverything, type Policy, type PolicyDecision, type PolicySubject } from './policy.ts';
import { challengeConfirmationTtlMs } from './policy-confirmations.ts';

type Rule = (subject: PolicySubject) => PolicyDecision | undefined;

const challengeAll: Rule = () => ({
  verdict: 'challenge',
  rule: 'test.challenge',
  reason: 'the test asks for confirmation',
});
const blockAll: Rule = () => ({ verdict: 'block', rule: 'test.block', reason: 'the test blocks' });

/** A policy the test turns, and a clock it moves. */
async function start(t: TestContext, backend: Backend) {
  let rule: Rule | undefined;
  const policy: Policy = {
    decide: (subject) => rule?.(subject) ?? allowEverything.decide(subject),
  };
  let nowMs = Date.now();
  const env = await startPlatformUnderTest(t, backend, {
    policy,
    clock: () => nowMs,
    backgroundJobs: false,
    tokenDenominationsMicros: [1n, 2n, 4n],
  });
  const shop = await setUpShop(env); // allowed: the policy does not stop anything yet
  const single = await env.call('POST', '/v1/offers', {
    auth: shop.apiKey,
    body: {
      resource: '/articles/2',
      title: 'Two',
      price: '0.05',
      category: 'content',
      accessPeriodSeconds: 0,
    },
  });
  assert.equal(single.status, 201, single.text);
  return {
    env,
    shop,
    singleOfferId: String(single.body?.id),
    setRule: (next: Rule | undefined) => {
      rule = next;
    },
    advance: (ms: number) => {
      nowMs += ms;
    },
  };
}

function buy(env: PlatformUnderTest, user: string, offerId: string, confirmation?: string) {
  return env.call('POST', '/v1/payments', {
    auth: user,
    body: { offerId },
    ...(confirmation === undefined ? {} : { headers: confirmationHeader(confirmation) }),
  });
}

function confirmationHeader(decisionId: string): Record<string, string> {
  return { 'mite-policy-confirmation': decisionId };
}

function confirm(env: PlatformUnderTest, user: string, decisionId: string) {
  return env.call('POST', `/v1/policy-decisions/${decisionId}/confirmation`, { auth: user });
}

/** The decision id of a challenge answer, checking it is one. */
function challenged(answer: Answer) {
  assert.equal(answer.status, 403, answer.text);
  assert.match(String(answer.body?.type), /\/policy-challenged$/);
  return String(answer.body?.decisionId);
}

function problemType(answer: Answer): string {
  return String(answer.body?.type).split('/').pop() ?? '';
}

async function decisionRow(env: PlatformUnderTest, id: string) {
  return env.platform.platformDb.db
    .selectFrom('policy_decisions')
    .select(['verdict', 'confirmed_at', 'consumed_at', 'consumed_by'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

async function paymentCount(env: PlatformUnderTest): Promise<number> {
  return (await env.platform.platformDb.db.selectFrom('payments').select('id').execute()).length;
}

forEachDialect('challenge confirmations', (backend, it) => {
  it('a confirmed challenge lets its retry through once, and the decision shows it', async (t) => {
    const { env, shop, singleOfferId, setRule } = await start(t, backend);
    setRule(challengeAll);
    const decisionId = challenged(await buy(env, shop.user, singleOfferId));
    // Not confirmed yet: the retry is challenged again.
    challenged(await buy(env, shop.user, singleOfferId, decisionId));
    const confirmed = await confirm(env, shop.user, decisionId);
    assert.equal(confirmed.status, 200, confirmed.text);
    assert.equal(confirmed.body?.decisionId, decisionId);
    const again = await confirm(env, shop.user, decisionId);
    assert.deepEqual(again.body, confirmed.body, 'confirming twice keeps the first confirmation');
    const before = await paymentCount(env);
    const paid = await buy(env, shop.user, singleOfferId, decisionId);
    assert.equal(paid.status, 201, paid.text);
    assert.equal(await paymentCount(env), before + 1);

    const row = await decisionRow(env, decisionId);
    assert.equal(row.verdict, 'challenge');
    assert.notEqual(row.confirmed_at, null);
    assert.notEqual(row.consumed_at, null);
    assert.equal(row.consumed_by, paid.body?.paymentId);

    // Replayed, under a new Idempotency-Key: challenged again, and the confirmation is spent.
    challenged(await buy(env, shop.user, singleOfferId, decisionId));
    assert.equal(await paymentCount(env), before + 1);
    const reconfirmed = await confirm(env, shop.user, decisionId);
    assert.equal(reconfirmed.status, 409);
    assert.equal(problemType(reconfirmed), 'policy-confirmation-used');
  });

  it('covers only its user, its merchant and its amount, and never a block', async (t) => {
    const { env, shop, singleOfferId, setRule } = await start(t, backend);
    const other = await signUpAndTopUp(env, {
      email: 'bo@example.com',
      password: 'another long passphrase',
      topUp: '5.00',
    });
    const elsewhere = await createMerchantWithKey(env, { name: 'Other Shop' });
    const otherOffer = await env.call('POST', '/v1/offers', {
      auth: elsewhere.apiKey,
      body: {
        resource: '/x',
        title: 'X',
        price: '0.05',
        category: 'content',
        accessPeriodSeconds: 0,
      },
    });
    const dearer = await env.call('POST', '/v1/offers', {
      auth: shop.apiKey,
      body: {
        resource: '/y',
        title: 'Y',
        price: '0.06',
        category: 'content',
        accessPeriodSeconds: 0,
      },
    });
    setRule(challengeAll);
    const decisionId = challenged(await buy(env, shop.user, singleOfferId));

    const stranger = await confirm(env, other.user, decisionId);
    assert.equal(stranger.status, 404);
    assert.equal(problemType(stranger), 'policy-decision-not-found');
    assert.equal((await confirm(env, shop.user, decisionId)).status, 200);
    // Another user presenting it, another merchant at the same price, another price: challenged.
    challenged(await buy(env, other.user, singleOfferId, decisionId));
    challenged(await buy(env, shop.user, String(otherOffer.body?.id), decisionId));
    challenged(await buy(env, shop.user, String(dearer.body?.id), decisionId));
    assert.equal((await decisionRow(env, decisionId)).consumed_at, null);

    // A block is never overridden by a confirmation, nor confirmed.
    setRule(blockAll);
    const blocked = await buy(env, shop.user, singleOfferId, decisionId);
    assert.equal(blocked.status, 403);
    assert.equal(problemType(blocked), 'policy-blocked');
    assert.equal((await decisionRow(env, decisionId)).consumed_at, null);
    const refused = await confirm(env, shop.user, String(blocked.body?.decisionId));
    assert.equal(refused.status, 409);
    assert.equal(problemType(refused), 'policy-block-not-confirmable');

    // Not a decision id at all.
    const malformed = await buy(env, shop.user, singleOfferId, 'pdc_nope');
    assert.equal(malformed.status, 400);
    // The confirmed challenge still covers its own request.
    setRule(challengeAll);
    assert.equal((await buy(env, shop.user, singleOfferId, decisionId)).status, 201);
  });

  it('expires: a challenge is confirmed, and its confirmation used, within the time allowed', async (t) => {
    const { env, shop, singleOfferId, setRule, advance } = await start(t, backend);
    setRule(challengeAll);
    const late = challenged(await buy(env, shop.user, singleOfferId));
    const unused = challenged(await buy(env, shop.user, singleOfferId));
    assert.equal((await confirm(env, shop.user, unused)).status, 200);
    advance(challengeConfirmationTtlMs + 1);
    const expired = await confirm(env, shop.user, late);
    assert.equal(expired.status, 410);
    assert.equal(problemType(expired), 'policy-confirmation-expired');
    challenged(await buy(env, shop.user, singleOfferId, unused));
    assert.equal((await decisionRow(env, unused)).consumed_at, null);
  });

  it('two retries racing with one confirmation: one goes through, the other is challenged', async (t) => {
    const { env, shop, singleOfferId, setRule } = await start(t, backend);
    setRule(challengeAll);
    const decisionId = challenged(await buy(env, shop.user, singleOfferId));
    assert.equal((await confirm(env, shop.user, decisionId)).status, 200);
    const before = await paymentCount(env);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => buy(env, shop.user, singleOfferId, decisionId)),
    );
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [201, 403, 403, 403]);
    for (const answer of answers.filter((a) => a.status === 403)) challenged(answer);
    assert.equal(await paymentCount(env), before + 1);
  });

  it('confirms top-ups and token withdrawals the same way', async (t) => {
    const { env, shop, singleOfferId, setRule } = await start(t, backend);
    setRule(challengeAll);
    const topUpDecision = challenged(await topUp(env, shop.user, '2.00'));
    assert.equal((await confirm(env, shop.user, topUpDecision)).status, 200);
    // Another kind of request, or another amount, is not covered.
    challenged(await buy(env, shop.user, singleOfferId, topUpDecision));
    challenged(await topUp(env, shop.user, '3.00', topUpDecision));
    const toppedUp = await topUp(env, shop.user, '2.00', topUpDecision);
    assert.equal(toppedUp.status, 201, toppedUp.text);
    assert.equal((await decisionRow(env, topUpDecision)).consumed_by, toppedUp.body?.id);

    const body = await withdrawalBody(env);
    const headers = { 'idempotency-key': 'withdraw-1' };
    const withdraw = (extra: Record<string, string> = {}) =>
      env.call('POST', '/v1/tokens/withdrawals', {
        auth: shop.user,
        body,
        headers: { ...headers, ...extra },
      });
    const withdrawalDecision = challenged(await withdraw());
    assert.equal((await confirm(env, shop.user, withdrawalDecision)).status, 200);
    const withdrawn = await withdraw(confirmationHeader(withdrawalDecision));
    assert.equal(withdrawn.status, 201, withdrawn.text);
    const row = await decisionRow(env, withdrawalDecision);
    assert.equal(row.consumed_by, withdrawn.body?.withdrawalId);
  });
});

function topUp(env: PlatformUnderTest, user: string, amount: string, confirmation?: string) {
  return env.call('POST', '/v1/topups', {
    auth: user,
    body: {
      amount,
      card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
    },
    ...(confirmation === undefined ? {} : { headers: confirmationHeader(confirmation) }),
  });
}

/** One blinded output for the smallest published token key. */
async function withdrawalBody(env: PlatformUnderTest) {
  const keys = await env.platform.services.tokenKeys.publishedKeys();
  const key = keys.find((k) => k.denominationMicros === 4n) ?? assert.fail('no key of 4');
  const random = (length: number) => new Uint8Array(randomBytes(length));
  const blinded = blind(key.publicKey, random(32), random);
  assert.ok(blinded.ok);
  const blindedMessage = Buffer.from(blinded.value.blindedMessage).toString('base64url');
  return { outputs: [{ keyId: key.keyId, blindedMessage }] };
}
