/**
 * The merchant's redemption reports over real HTTP, on both databases: who may report (a merchant
 * key with `redemptions:write`, for itself), which payments (its own, succeeded, of a merchant
 * classed resellable), one report per payment (the same again is its answer, another is a
 * conflict), the redeemer's pseudonym resolved on the platform's side, and hostile input answered
 * with a problem, never a 500, changing nothing.
 */
import assert from 'node:assert/strict';
import { forEachDialect } from '../db/testing.ts';
import {
  type Answer,
  createMerchantWithKey,
  expectStatus,
  type PlatformUnderTest,
} from '../platform-testing.ts';
import { redemptionReportRetentionMs } from './redemption-reports.ts';
import { startRedemptionWorld } from './testing/redemption-world.ts';

function assertProblem(answer: Answer, status: number, type: string, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.text}`);
  assert.match(answer.contentType, /^application\/problem\+json/, what);
  assert.match(String(answer.body?.type), new RegExp(`/${type}$`), what);
}

async function reportRows(env: PlatformUnderTest) {
  return env.platform.platformDb.db
    .selectFrom('code_redemptions')
    .selectAll()
    .orderBy('payment_id')
    .execute();
}

forEachDialect('merchant redemption reports', (backend, it) => {
  it('answers a merchant key with redemptions:write for itself only', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env, merchantId } = w;
    const ada = await w.person('ada@example.com');
    const paymentId = await w.bought(ada);
    const body = { paymentId };
    const path = `/v1/merchants/${merchantId}/redemptions`;
    assertProblem(await env.call('POST', path, { body }), 401, 'unauthenticated', 'nobody');
    assertProblem(await w.report(body, { auth: ada.user }), 403, 'forbidden', 'a user');
    assertProblem(await w.report(body, { auth: env.admin }), 403, 'forbidden', 'an operator');
    const readOnly = expectStatus(
      await env.call('POST', `/v1/merchants/${merchantId}/api-keys`, {
        auth: env.admin,
        body: { scopes: ['payments:read', 'redemptions:read'] },
      }),
      201,
      'key',
    );
    const lacking = await w.report(body, { auth: String(readOnly.secret) });
    assertProblem(lacking, 403, 'forbidden', 'a key without redemptions:write');
    assert.match(String(lacking.body?.detail), /redemptions:write/);
    const other = await createMerchantWithKey(env, { name: 'Another Shop' });
    assertProblem(
      await w.report(body, { auth: other.apiKey }),
      404,
      'merchant-not-found',
      "another merchant's id",
    );
    assert.deepEqual(await reportRows(env), [], 'no refused call reported anything');
    const openapi = await env.call('GET', '/v1/openapi.json');
    const paths = openapi.body?.paths as Record<string, Record<string, Record<string, unknown>>>;
    const route = paths['/v1/merchants/{merchantId}/redemptions'];
    assert.deepEqual(route?.post?.['x-mite-auth'], {
      kinds: ['merchant'],
      scopes: ['redemptions:write'],
    });
    assert.ok(route?.get, 'the list is documented too');
  });

  it('takes only succeeded payments to this merchant, classed resellable', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env } = w;
    const ada = await w.person('ada@example.com', '6.00');
    const paid = await w.bought(ada);
    assertProblem(
      await w.report({ paymentId: 'pay_nonexistent' }),
      404,
      'payment-not-found',
      'an unknown payment',
    );
    // Another merchant's payment is not found for this one, and that one is not resellable.
    const news = await createMerchantWithKey(env, { name: 'Daily News' });
    const article = expectStatus(
      await env.call('POST', '/v1/offers', {
        auth: news.apiKey,
        body: {
          resource: '/a/1',
          title: 'A',
          price: '0.50',
          category: 'content',
          accessPeriodSeconds: 0,
        },
      }),
      201,
      'offer',
    );
    const read = expectStatus(
      await env.call('POST', '/v1/payments', { auth: ada.user, body: { offerId: article.id } }),
      201,
      'article',
    );
    const newsPayment = String(read.paymentId);
    assertProblem(await w.report({ paymentId: newsPayment }), 404, 'payment-not-found', 'theirs');
    const notResellable = await w.report(
      { paymentId: newsPayment },
      { auth: news.apiKey, merchantId: news.merchantId },
    );
    assertProblem(notResellable, 422, 'redemption-invalid', 'a merchant not classed resellable');
    assert.match(String(notResellable.body?.detail), /not classed/);
    // Ada has 0.50 left: a gift card fails, and its payment sold no code.
    assert.equal((await w.buy(ada)).status, 409);
    const failed = await env.platform.platformDb.db
      .selectFrom('payments')
      .select('id')
      .where('state', '=', 'failed')
      .executeTakeFirstOrThrow();
    const unpaid = await w.report({ paymentId: failed.id });
    assertProblem(unpaid, 422, 'redemption-invalid', 'a failed payment');
    assert.match(String(unpaid.body?.detail), /did not succeed/);
    assert.deepEqual(await reportRows(env), []);
    const made = await w.report({ paymentId: paid });
    assert.equal(made.status, 201, made.text);
  });

  it('keeps one report per payment: the same again is its answer, another a conflict', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env, clock } = w;
    const ada = await w.person('ada@example.com');
    const bob = await w.person('bob@example.com');
    const paymentId = await w.bought(ada);
    const bobsPayment = await w.bought(bob);
    const bobHere = await w.payerOf(bobsPayment);
    const redeemedAt = new Date(clock.nowMs).toISOString();
    clock.nowMs += 60_000;
    const body = { paymentId, redeemer: bobHere, redeemedAt };
    const first = await w.report(body, { key: 'report-1' });
    assert.equal(first.status, 201, first.text);
    assert.deepEqual(first.body, {
      paymentId,
      redeemer: bobHere,
      redeemedBy: 'otherCustomer',
      redeemedAt,
      reportedAt: new Date(clock.nowMs).toISOString(),
    });
    // The same request under its key is replayed; under another key the report answers it.
    const replay = await w.report(body, { key: 'report-1' });
    assert.equal(replay.status, 201);
    assert.deepEqual(replay.body, first.body);
    clock.nowMs += 60_000;
    const again = await w.report(body);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, first.body);
    const withoutTime = await w.report({ paymentId, redeemer: bobHere });
    assert.equal(withoutTime.status, 200, 'a report that does not say when agrees with any time');
    for (const [other, what] of [
      [{ paymentId }, 'an outside account'],
      [{ paymentId, redeemer: await w.payerOf(paymentId) }, 'the buyer'],
      [{ ...body, redeemedAt: new Date(clock.nowMs - 1000).toISOString() }, 'another time'],
    ] as const) {
      const conflict = await w.report(other);
      assertProblem(conflict, 409, 'redemption-conflict', what);
    }
    const rows = await reportRows(env);
    assert.deepEqual(
      rows.map((row) => [row.payment_id, row.redeemer_user_id, row.redeemed_by]),
      [[paymentId, bob.userId, 'otherUser']],
    );
    // Two reports of another payment racing: one is made, the other answers with it.
    const racing = await Promise.all([
      w.report({ paymentId: bobsPayment, redeemedAt }),
      w.report({ paymentId: bobsPayment, redeemedAt }),
    ]);
    assert.deepEqual(racing.map((answer) => answer.status).sort(), [200, 201]);
    assert.deepEqual(racing[0]?.body, racing[1]?.body);
    assert.equal(racing[0]?.body?.redeemedBy, 'outsideAccount');
  });

  it('resolves the redeemer by this merchant\u2019s pseudonyms only, and lists reports newest first', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env, merchantId, clock } = w;
    const ada = await w.person('ada@example.com');
    const first = await w.bought(ada);
    const second = await w.bought(ada);
    const adaHere = await w.payerOf(first);
    // Ada's pseudonym at another merchant names nobody here.
    const news = await createMerchantWithKey(env, { name: 'Daily News' });
    const offer = expectStatus(
      await env.call('POST', '/v1/offers', {
        auth: news.apiKey,
        body: {
          resource: '/a',
          title: 'A',
          price: '0.10',
          category: 'content',
          accessPeriodSeconds: 0,
        },
      }),
      201,
      'offer',
    );
    const read = expectStatus(
      await env.call('POST', '/v1/payments', { auth: ada.user, body: { offerId: offer.id } }),
      201,
      'article',
    );
    const adaThere = String(
      expectStatus(
        await env.call('GET', `/v1/payments/${String(read.paymentId)}`, { auth: news.apiKey }),
        200,
        'payment',
      ).payer,
    );
    assert.notEqual(adaThere, adaHere);
    for (const pseudonym of [adaThere, 'psn_nobody']) {
      const unknown = await w.report({ paymentId: first, redeemer: pseudonym });
      assertProblem(unknown, 422, 'redemption-invalid', pseudonym);
      assert.match(String(unknown.body?.detail), /no customer/);
    }
    const own = await w.report({ paymentId: first, redeemer: adaHere });
    assert.equal(own.body?.redeemedBy, 'buyer', own.text);
    clock.nowMs += 1000;
    assert.equal((await w.report({ paymentId: second })).status, 201);

    const list = (query = '') =>
      env.call('GET', `/v1/merchants/${merchantId}/redemptions${query}`, { auth: w.apiKey });
    const all = expectStatus(await list(), 200, 'list');
    assert.deepEqual(
      (all.items as Record<string, unknown>[]).map((item) => [item.paymentId, item.redeemer]),
      [
        [second, null],
        [first, adaHere],
      ],
    );
    const one = expectStatus(await list('?limit=1'), 200, 'page');
    const next = expectStatus(await list(`?limit=1&cursor=${String(one.nextCursor)}`), 200, 'next');
    assert.deepEqual(
      [...(one.items as { paymentId: string }[]), ...(next.items as { paymentId: string }[])].map(
        (item) => item.paymentId,
      ),
      [second, first],
    );
    assert.equal(next.nextCursor, null);
    assertProblem(await list('?cursor=bm9wZQ'), 400, 'validation-failed', 'a forged cursor');
    const theirs = await env.call('GET', `/v1/merchants/${merchantId}/redemptions`, {
      auth: news.apiKey,
    });
    assertProblem(theirs, 404, 'merchant-not-found', 'another merchant reads none');
  });

  it('shows each person their side of a report in their export, not the other\u2019s', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env } = w;
    const ada = await w.person('ada@example.com');
    const bob = await w.person('bob@example.com');
    const code = await w.bought(ada);
    const bobHere = await w.payerOf(await w.bought(bob));
    assert.equal((await w.report({ paymentId: code, redeemer: bobHere })).status, 201);
    const sections = async (user: string) => {
      const answer = await env.call('GET', '/v1/users/me/export', { auth: user });
      assert.equal(answer.status, 200, answer.text);
      return {
        text: answer.text,
        sections: answer.body?.sections as Record<string, Record<string, unknown>[]>,
      };
    };
    const adas = await sections(ada.user);
    assert.deepEqual(
      adas.sections.code_redemptions?.map((row) => [row.role, row.payment_id, row.redeemed_by]),
      [['bought', code, 'otherUser']],
    );
    assert.deepEqual(
      adas.sections.payer_pseudonyms?.map((row) => row.merchant_name),
      ['Gift Cards Ltd'],
    );
    assert.doesNotMatch(adas.text, new RegExp(bob.userId), 'not who redeemed it');
    const bobs = await sections(bob.user);
    assert.deepEqual(
      bobs.sections.code_redemptions?.map((row) => [row.role, row.payment_id, row.merchant_name]),
      [['redeemed', null, 'Gift Cards Ltd']],
    );
    assert.deepEqual(
      bobs.sections.payer_pseudonyms?.map((row) => row.pseudonym),
      [bobHere],
    );
    assert.doesNotMatch(bobs.text, new RegExp(ada.userId), 'not who bought it');
    assert.doesNotMatch(bobs.text, new RegExp(code), 'not the buyer\u2019s payment');
  });

  it('keeps a report 90 days after the redemption, then purges it a batch at a time', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env, clock } = w;
    const ada = await w.person('ada@example.com');
    const codes = [await w.bought(ada), await w.bought(ada), await w.bought(ada)];
    for (const paymentId of codes) await w.report({ paymentId });
    clock.nowMs += 1000;
    const later = await w.bought(ada);
    await w.report({ paymentId: later });
    const { redemptions } = env.platform.services;
    clock.nowMs += redemptionReportRetentionMs - 1000;
    assert.equal(await redemptions.purgeExpired(1), 3, 'exactly 90 days on, one statement each');
    assert.deepEqual(
      (await reportRows(env)).map((row) => row.payment_id),
      [later],
    );
    assert.equal(await redemptions.purgeExpired(), 0);
    // Too old to be kept, a redemption is not taken again either.
    const stale = await w.report({
      paymentId: codes[0],
      redeemedAt: new Date(clock.nowMs - redemptionReportRetentionMs).toISOString(),
    });
    assertProblem(stale, 422, 'redemption-invalid', 'older than kept');
    assert.match(String(stale.body?.detail), /older than/);
  });

  it('answers hostile input with a problem, never a 500, and records nothing', async (t) => {
    const w = await startRedemptionWorld(t, backend);
    const { env, clock } = w;
    const ada = await w.person('ada@example.com');
    const paymentId = await w.bought(ada);
    const path = `/v1/merchants/${w.merchantId}/redemptions`;
    const raw = (rawBody: string) => env.call('POST', path, { auth: w.apiKey, rawBody });
    const cases: [Answer, number, string][] = [
      [await raw('{"paymentId":'), 400, 'malformed-json'],
      [await raw('[]'), 400, 'validation-failed'],
      [await raw('"pay"'), 400, 'validation-failed'],
      [await w.report({}), 400, 'validation-failed'],
      [await w.report({ paymentId: 42 }), 400, 'validation-failed'],
      [await w.report({ paymentId: '' }), 400, 'validation-failed'],
      [await w.report({ paymentId: 'p'.repeat(10_000) }), 400, 'validation-failed'],
      [await w.report({ paymentId: 'pay_\u0000' }), 400, 'validation-failed'],
      [await w.report({ paymentId: '\ud800' }), 400, 'validation-failed'],
      [await w.report({ paymentId, extra: true }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemer: 'ada@example.com' }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemer: null }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemer: `psn_${'a'.repeat(65)}` }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemedAt: 'yesterday' }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemedAt: 1_700_000_000 }), 400, 'validation-failed'],
      [await w.report({ paymentId, redeemedAt: '2026-02-30T00:00:00Z' }), 400, 'validation-failed'],
      [
        await w.report({ paymentId, redeemedAt: '+275760-09-13T00:00:00Z' }),
        400,
        'validation-failed',
      ],
      [
        await w.report({ paymentId, redeemedAt: '9999-12-31T23:59:59Z' }),
        422,
        'redemption-invalid',
      ],
      [
        await w.report({
          paymentId,
          redeemedAt: new Date(clock.nowMs + 10 * 60_000).toISOString(),
        }),
        422,
        'redemption-invalid',
      ],
      [
        await w.report({ paymentId, redeemedAt: '2000-01-01T00:00:00Z' }),
        422,
        'redemption-invalid',
      ],
      [await w.report({ paymentId }, { merchantId: 'm'.repeat(200) }), 414, 'uri-too-long'],
      [await w.report({ paymentId: "pay_' or 1=1 --" }), 404, 'payment-not-found'],
    ];
    for (const [index, [answer, status, type]] of cases.entries()) {
      assertProblem(answer, status, type, `case ${index}`);
    }
    const noKey = await env.call('POST', path, {
      auth: w.apiKey,
      body: { paymentId },
      headers: { 'idempotency-key': '' },
    });
    assert.equal(noKey.status, 400, noKey.text);
    assert.deepEqual(await reportRows(env), []);
    // A redemption a little ahead of the platform's clock (clocks differ) is taken as now.
    const ahead = await w.report({
      paymentId,
      redeemedAt: new Date(clock.nowMs + 60_000).toISOString(),
    });
    assert.equal(ahead.status, 201, ahead.text);
    assert.equal(ahead.body?.redeemedAt, new Date(clock.nowMs).toISOString());
  });
});
