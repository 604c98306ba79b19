/**
 * The operator's review queue over real HTTP, on both databases: the decisions the policy
 * recorded, listed with filters and pages; a release (nothing moves); a fraud confirmation that
 * freezes the user and the merchant, which then can neither pay nor be paid, deposit tokens or be
 * paid out, until the freeze is lifted; one review of a decision when two race; who may call.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import {
  logInMerchantPerson,
  noRiskRules,
  signUpAndTopUp,
  type PlatformUnderTest,
} from '../platform-testing.ts';
import { allowEverything, type Policy, type PolicyDecision } from '../policy/policy.ts';
import {
  outputsFor,
  outputsJson,
  startTokenWorld,
  wireAmount,
} from '../tokens/testing/token-world.ts';
import { accountFrozenRule, accountFrozenUserMessage } from './freeze-policy.ts';

type Json = Record<string, unknown>;

/** A deployment's policy the test turns: it allows until told otherwise. */
function switchablePolicy() {
  let decision: PolicyDecision | undefined;
  const policy: Policy = { decide: (subject) => decision ?? allowEverything.decide(subject) };
  return {
    policy,
    set(next: PolicyDecision | undefined) {
      decision = next;
    },
  };
}

/**
 * A platform with a shop (a merchant, a user who topped up 5.00 and bought a 0.02 offer) and
 * tokens of one micro-unit, on a clock the test moves, with no background jobs and no bank
 * change hold.
 */
async function start(t: TestContext, dialect: PlatformDialect) {
  const clock = { nowMs: Date.UTC(2027, 4, 2, 12, 0, 0) };
  const switchable = switchablePolicy();
  const world = await startTokenWorld(t, dialect, {
    clock: () => clock.nowMs,
    policy: switchable.policy,
    // The test pays often from one address: the risk rules have their own tests.
    riskRules: noRiskRules,
    bankChangeHoldMs: 0,
    tokenDenominationsMicros: [1n],
  });
  const { env, shop } = world;
  const asAdmin = (method: string, path: string, body?: unknown, key?: string) =>
    env.call(method, path, {
      auth: env.admin,
      ...(body === undefined ? {} : { body }),
      ...(key === undefined ? {} : { headers: { 'idempotency-key': key } }),
    });
  const buy = (user: string) =>
    env.call('POST', '/v1/payments', { auth: user, body: { offerId: shop.offerId } });
  const topUp = (user: string) =>
    env.call('POST', '/v1/topups', {
      auth: user,
      body: {
        amount: '1.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
      },
    });
  /** A request the policy stops with this verdict and rule: the decision's id. */
  const stopped = async (
    verdict: 'block' | 'challenge',
    rule: string,
    request: () => ReturnType<PlatformUnderTest['call']>,
  ): Promise<string> => {
    switchable.set({ verdict, rule, reason: `the test ${verdict}s this` });
    const answer = await request();
    switchable.set(undefined);
    assert.equal(answer.status, 403, answer.text);
    clock.nowMs += 1000;
    return String(answer.body?.decisionId);
  };
  return { ...world, env, shop, clock, asAdmin, buy, topUp, stopped };
}

type World = Awaited<ReturnType<typeof start>>;

const ids = (answer: { body?: Json | undefined }) =>
  (answer.body?.items as Json[]).map((item) => item.decisionId);

forEachDialect('the operator review', (dialect, it) => {
  it('answers operators only: 401 without a credential, 403 for a user, a key or a dashboard person', async (t) => {
    const { env, shop, stopped, buy } = await start(t, dialect);
    const decisionId = await stopped('block', 'test.block', () => buy(shop.user));
    // Operators hold no roles of their own (staff/operator-people.ts): every operator may
    // review. A merchant's people hold roles, and none of them reaches these routes.
    const owner = await logInMerchantPerson(env, {
      email: 'owner@example.com',
      merchantName: 'Owner & Co',
    });
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/operator/policy-decisions'],
      ['GET', `/v1/operator/policy-decisions/${decisionId}`],
      ['POST', `/v1/operator/policy-decisions/${decisionId}/release`, { note: 'fine' }],
      [
        'POST',
        `/v1/operator/policy-decisions/${decisionId}/fraud`,
        { note: 'x', freeze: { user: true } },
      ],
      ['GET', '/v1/operator/account-freezes'],
      ['POST', '/v1/operator/account-freezes/frz_1/lift'],
    ];
    for (const [method, path, body] of routes) {
      const options = body === undefined ? {} : { body };
      assert.equal((await env.call(method, path, options)).status, 401, path);
      for (const auth of [shop.user, shop.apiKey, owner.token]) {
        const answer = await env.call(method, path, { ...options, auth });
        assert.equal(answer.status, 403, `${path} ${answer.text}`);
      }
    }
    const decision = await env.call('GET', `/v1/operator/policy-decisions/${decisionId}`, {
      auth: env.admin,
    });
    assert.equal(decision.body?.reviewState, 'open', 'no refused call reviewed it');
    const openapi = await env.call('GET', '/v1/openapi.json');
    const paths = openapi.body?.paths as Record<string, Record<string, Json>>;
    assert.ok(paths['/v1/operator/policy-decisions']?.get);
    assert.ok(paths['/v1/operator/policy-decisions/{decisionId}']?.get);
    assert.ok(paths['/v1/operator/policy-decisions/{decisionId}/release']?.post);
    assert.ok(paths['/v1/operator/policy-decisions/{decisionId}/fraud']?.post);
    assert.ok(paths['/v1/operator/account-freezes']?.get);
    assert.ok(paths['/v1/operator/account-freezes/{freezeId}/lift']?.post);
  });

  it('lists decisions newest first, by verdict, review state, rule, user, merchant and time, a page at a time', async (t) => {
    const w = await start(t, dialect);
    const { env, shop, asAdmin, stopped, buy, topUp } = w;
    const bob = await signUpAndTopUp(env, {
      email: 'bob@example.com',
      password: 'a long passphrase',
      topUp: '2.00',
    });
    const first = await stopped('block', 'test.block', () => buy(shop.user));
    const second = await stopped('challenge', 'test.challenge', () => topUp(shop.user));
    const middle = new Date(w.clock.nowMs).toISOString();
    const third = await stopped('challenge', 'test.challenge', () => buy(bob.user));
    const released = await asAdmin('POST', `/v1/operator/policy-decisions/${second}/release`, {
      note: 'a regular reader',
    });
    assert.equal(released.status, 200, released.text);

    const list = (query: string) => asAdmin('GET', `/v1/operator/policy-decisions${query}`);
    assert.deepEqual(ids(await list('')), [third, second, first]);
    assert.deepEqual(ids(await list('?verdict=block')), [first]);
    assert.deepEqual(ids(await list('?reviewState=open')), [third, first]);
    assert.deepEqual(ids(await list('?reviewState=released')), [second]);
    assert.deepEqual(ids(await list('?rule=test.challenge')), [third, second]);
    assert.deepEqual(ids(await list(`?userId=${bob.userId}`)), [third]);
    assert.deepEqual(ids(await list(`?merchantId=${shop.merchantId}`)), [third, first]);
    assert.deepEqual(ids(await list(`?from=${middle}`)), [third]);
    assert.deepEqual(ids(await list(`?to=${middle}`)), [second, first]);
    assert.deepEqual(ids(await list(`?reviewState=open&to=${middle}`)), [first]);
    assert.equal((await list('?verdict=allow')).status, 400);
    assert.equal((await list('?from=yesterday')).status, 400);
    assert.equal((await list('?cursor=bm90LWEtY3Vyc29y')).status, 400);

    const seen: unknown[] = [];
    let cursor: unknown = undefined;
    do {
      const query: string = cursor === undefined ? '?limit=1' : `?limit=1&cursor=${String(cursor)}`;
      const onePage = await list(query);
      assert.equal(onePage.status, 200, onePage.text);
      seen.push(...ids(onePage));
      cursor = onePage.body?.nextCursor ?? undefined;
    } while (cursor !== undefined && cursor !== null);
    assert.deepEqual(seen, [third, second, first]);

    const one = await asAdmin('GET', `/v1/operator/policy-decisions/${first}`);
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(
      { ...one.body, createdAt: undefined },
      {
        decisionId: first,
        subject: 'purchase',
        userId: shop.userId,
        merchantId: shop.merchantId,
        amount: '0.02',
        verdict: 'block',
        rule: 'test.block',
        reason: 'the test blocks this',
        createdAt: undefined,
        reviewState: 'open',
        reviewedBy: null,
        reviewedAt: null,
        reviewNote: null,
      },
    );
    const missing = await asAdmin('GET', '/v1/operator/policy-decisions/pdc_none');
    assert.equal(missing.status, 404);
    assert.match(String(missing.body?.type), /\/decision-not-found$/);
  });

  it('releases a decision once, with a note, and moves no money', async (t) => {
    const { env, shop, asAdmin, stopped, buy, clock } = await start(t, dialect);
    const wallet = async () => (await env.call('GET', '/v1/wallet', { auth: shop.user })).body;
    const decisionId = await stopped('block', 'test.block', () => buy(shop.user));
    const before = await wallet();
    const path = `/v1/operator/policy-decisions/${decisionId}`;
    assert.equal((await asAdmin('POST', `${path}/release`, { note: '  ' })).status, 400);
    assert.equal((await asAdmin('POST', `${path}/release`, { note: 'x'.repeat(501) })).status, 400);
    const released = await asAdmin('POST', `${path}/release`, { note: 'A known reader' }, 'r-1');
    assert.equal(released.status, 200, released.text);
    assert.equal(released.body?.reviewState, 'released');
    assert.equal(released.body?.reviewNote, 'A known reader');
    assert.match(String(released.body?.reviewedBy), /^operator:/);
    assert.equal(released.body?.reviewedAt, new Date(clock.nowMs).toISOString());
    // The same request again is its replay; another review is refused.
    const replay = await asAdmin('POST', `${path}/release`, { note: 'A known reader' }, 'r-1');
    assert.equal(replay.status, 200);
    assert.deepEqual(replay.body, released.body);
    for (const [action, body] of [
      ['release', { note: 'again' }],
      ['fraud', { note: 'on second thought', freeze: { user: true } }],
    ] as const) {
      const again = await asAdmin('POST', `${path}/${action}`, body);
      assert.equal(again.status, 409, again.text);
      assert.match(String(again.body?.type), /\/decision-reviewed$/);
    }
    assert.deepEqual(await wallet(), before, 'a release moves nothing');
    assert.equal(
      (await asAdmin('GET', '/v1/operator/account-freezes')).body?.items?.toString(),
      '',
    );
    const unknown = await asAdmin('POST', '/v1/operator/policy-decisions/pdc_x/release', {
      note: 'x',
    });
    assert.equal(unknown.status, 404);
  });

  it('confirms fraud: the user and the merchant are frozen until lifted', async (t) => {
    const w = await start(t, dialect);
    const { env, shop, asAdmin, stopped, buy, topUp } = w;
    const tokens = await w.withdraw([1n]); // before the freeze: the merchant is paid in them later
    const bob = await signUpAndTopUp(env, {
      email: 'bob@example.com',
      password: 'a long passphrase',
      topUp: '2.00',
    });
    const topUpDecision = await stopped('block', 'test.block', () => topUp(shop.user));
    const decisionId = await stopped('block', 'test.block', () => buy(shop.user));
    const fraud = (id: string, freeze: Json, key?: string) =>
      asAdmin('POST', `/v1/operator/policy-decisions/${id}/fraud`, { note: 'a mule', freeze }, key);
    assert.equal((await fraud(decisionId, {})).status, 400, 'at least one account');
    const noMerchant = await fraud(topUpDecision, { merchant: true });
    assert.equal(noMerchant.status, 400, 'a top-up paid no merchant');
    assert.equal(
      (await env.call('GET', `/v1/operator/policy-decisions/${topUpDecision}`, { auth: env.admin }))
        .body?.reviewState,
      'open',
    );

    const confirmed = await fraud(decisionId, { user: true, merchant: true });
    assert.equal(confirmed.status, 200, confirmed.text);
    assert.equal((confirmed.body?.decision as Json).reviewState, 'fraud');
    const freezes = confirmed.body?.freezes as Json[];
    assert.deepEqual(
      freezes.map((freeze) => [freeze.account, freeze.decisionId, freeze.liftedAt]),
      [
        [{ kind: 'user', id: shop.userId }, decisionId, null],
        [{ kind: 'merchant', id: shop.merchantId }, decisionId, null],
      ],
    );
    // Frozen already: a second fraud keeps the freeze in force.
    const again = await fraud(topUpDecision, { user: true });
    assert.equal(again.status, 200, again.text);
    assert.equal((again.body?.freezes as Json[])[0]?.freezeId, freezes[0]?.freezeId);

    const refusedAsFrozen = (answer: Awaited<ReturnType<typeof buy>>, what: string) => {
      assert.equal(answer.status, 403, `${what}: ${answer.text}`);
      assert.equal(answer.body?.rule, accountFrozenRule, what);
      assert.equal(answer.body?.detail, accountFrozenUserMessage, what);
    };
    refusedAsFrozen(await buy(shop.user), 'a purchase by the frozen user');
    refusedAsFrozen(await topUp(shop.user), 'a top-up by the frozen user');
    const withdrawal = await env.call('POST', '/v1/tokens/withdrawals', {
      auth: shop.user,
      body: { outputs: outputsJson(outputsFor([w.keyOf(1n)])) },
    });
    refusedAsFrozen(withdrawal, 'a token withdrawal by the frozen user');
    refusedAsFrozen(await buy(bob.user), 'a purchase paying the frozen merchant');
    const deposit = await w.deposit(tokens, wireAmount(1n));
    assert.equal(deposit.status, 403, deposit.text);
    assert.match(String(deposit.body?.type), /\/account-frozen$/);
    const refundPath = `/v1/payments/${shop.paymentId}/refunds`;
    const merchantRefund = await env.call('POST', refundPath, {
      auth: shop.apiKey,
      body: { amount: '0.01' },
    });
    assert.equal(merchantRefund.status, 403, 'a frozen merchant refunds nothing itself');
    assert.match(String(merchantRefund.body?.type), /\/account-frozen$/);
    const operatorRefund = await env.call('POST', refundPath, {
      auth: env.admin,
      body: { amount: '0.01' },
    });
    assert.equal(operatorRefund.status, 201, `the operator still may: ${operatorRefund.text}`);
    const recorded = await asAdmin(
      'GET',
      `/v1/operator/policy-decisions?rule=${accountFrozenRule}`,
    );
    assert.equal(
      (recorded.body?.items as Json[]).length,
      4,
      'the freeze\u2019s refusals are reviewable too',
    );

    const inForce = await asAdmin('GET', '/v1/operator/account-freezes?inForce=true');
    assert.equal((inForce.body?.items as Json[]).length, 2);
    const lift = (freezeId: unknown) =>
      asAdmin('POST', `/v1/operator/account-freezes/${String(freezeId)}/lift`);
    const liftedUser = await lift(freezes[0]?.freezeId);
    assert.equal(liftedUser.status, 200, liftedUser.text);
    assert.match(String(liftedUser.body?.liftedBy), /^operator:/);
    assert.equal((await lift(freezes[0]?.freezeId)).status, 409, 'lifted once');
    assert.equal((await lift('frz_none')).status, 404);
    assert.equal((await topUp(shop.user)).status, 201, 'the user may top up again');
    refusedAsFrozen(await buy(shop.user), 'the merchant it pays is still frozen');
    assert.equal((await lift(freezes[1]?.freezeId)).status, 200);
    assert.equal((await buy(bob.user)).status, 201, 'the merchant is paid again');
    assert.equal((await w.deposit(tokens, wireAmount(1n))).status, 201, 'and takes deposits');
    const lifted = await asAdmin('GET', '/v1/operator/account-freezes?inForce=false');
    assert.equal((lifted.body?.items as Json[]).length, 2);
  });

  it('pays a frozen merchant out only once the freeze is lifted', async (t) => {
    const w = await start(t, dialect);
    const { env, shop, asAdmin, stopped, buy } = w;
    const bank = await env.call('PUT', '/v1/bank-account', {
      auth: shop.apiKey,
      body: { holderName: 'Daily News', iban: 'DE89370400440532013000', bic: 'COBADEFF' },
    });
    assert.equal(bank.status, 200, bank.text);
    const row = await env.platform.platformDb.db
      .selectFrom('merchants')
      .select('account_id')
      .where('id', '=', shop.merchantId)
      .executeTakeFirstOrThrow();
    const accountId = BigInt(row.account_id);
    const { ledger, services } = env.platform;
    const earned = await ledger.createTransfers([
      {
        id: services.transferIds.next(),
        debitAccountId: platformAccountIds.processorReceivable,
        creditAccountId: accountId,
        amount: 20_000_000n,
        ledger: ledgers.usd,
        code: transferCodes.payment,
      },
    ]);
    assert.deepEqual(earned, ['ok']);
    const balance = async () => {
      const [account] = await ledger.lookupAccounts([accountId]);
      return (account?.creditsPosted ?? 0n) - (account?.debitsPosted ?? 0n);
    };
    const before = await balance();
    const decisionId = await stopped('block', 'test.block', () => buy(shop.user));
    const confirmed = await asAdmin('POST', `/v1/operator/policy-decisions/${decisionId}/fraud`, {
      note: 'self-dealing',
      freeze: { merchant: true },
    });
    assert.equal(confirmed.status, 200, confirmed.text);
    const freeze = (confirmed.body?.freezes as Json[])[0];
    assert.deepEqual(freeze?.account, { kind: 'merchant', id: shop.merchantId });

    const skipped = await asAdmin('POST', '/v1/payout-runs');
    assert.equal(skipped.status, 200, skipped.text);
    assert.deepEqual(skipped.body, {
      nothingDue: true,
      resumedBatchIds: [],
      held: [],
      frozen: [
        { merchantId: shop.merchantId, reason: 'accountFrozen', frozenAt: freeze?.frozenAt },
      ],
    });
    assert.equal(await balance(), before, 'the balance stays in place');

    const lifted = await asAdmin(
      'POST',
      `/v1/operator/account-freezes/${String(freeze?.freezeId)}/lift`,
    );
    assert.equal(lifted.status, 200, lifted.text);
    const paid = await asAdmin('POST', '/v1/payout-runs');
    assert.equal(paid.status, 201, paid.text);
    assert.deepEqual(paid.body?.frozen, []);
    assert.deepEqual(
      (paid.body?.payouts as Json[]).map((payout) => payout.merchantId),
      [shop.merchantId],
    );
    assert.ok((await balance()) < 10_000n, 'paid out, but for less than a cent');
  });

  it('reviews a decision once when two operators review it at the same moment', async (t) => {
    const w: World = await start(t, dialect);
    const { asAdmin, stopped, buy, shop } = w;
    for (let round = 0; round < 4; round += 1) {
      const decisionId = await stopped('challenge', 'test.race', () => buy(shop.user));
      const path = `/v1/operator/policy-decisions/${decisionId}`;
      const answers = await Promise.all([
        asAdmin('POST', `${path}/release`, { note: 'one' }),
        asAdmin('POST', `${path}/fraud`, { note: 'two', freeze: { merchant: true } }),
        asAdmin('POST', `${path}/release`, { note: 'three' }),
      ]);
      const statuses = answers.map((answer) => answer.status);
      assert.deepEqual([...statuses].sort(), [200, 409, 409], statuses.join(' '));
      const winner = answers.find((answer) => answer.status === 200);
      const state = (await asAdmin('GET', path)).body?.reviewState;
      const won = winner?.body?.decision === undefined ? winner?.body : winner.body.decision;
      assert.equal(state, (won as Json).reviewState);
      const freezes = await asAdmin('GET', '/v1/operator/account-freezes?inForce=true');
      for (const freeze of freezes.body?.items as Json[]) {
        const lifted = await asAdmin(
          'POST',
          `/v1/operator/account-freezes/${String(freeze.freezeId)}/lift`,
        );
        assert.equal(lifted.status, 200);
      }
    }
  });
});
