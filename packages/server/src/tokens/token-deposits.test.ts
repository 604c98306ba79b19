/**
 * Deposits of tokens over real HTTP: the merchant is credited once from the tokens outstanding,
 * each token is taken once whoever deposits it and however many at once, and what the platform
 * keeps of a deposit cannot be joined to the withdrawal that made its tokens.
 */
import assert from 'node:assert/strict';
import { apiKeyScopes } from '../auth/scopes.ts';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { createMerchantWithKey, type PlatformUnderTest } from '../platform-testing.ts';
import { b64, random, startTokenWorld, type WireToken, wireAmount } from './testing/token-world.ts';
import { tokenDepositPendingGraceMs } from './token-deposits.ts';

async function balanceOf(env: PlatformUnderTest, accountId: bigint): Promise<bigint> {
  const [account] = await env.platform.ledger.lookupAccounts([accountId]);
  assert.ok(account);
  return account.creditsPosted - account.debitsPosted;
}

async function merchantAccount(env: PlatformUnderTest, merchantId: string): Promise<bigint> {
  const row = await env.platform.platformDb.db
    .selectFrom('merchants')
    .select('account_id')
    .where('id', '=', merchantId)
    .executeTakeFirstOrThrow();
  return BigInt(row.account_id);
}

/** Another merchant, with a key that may deposit tokens: someone to double-spend at. */
function otherMerchant(env: PlatformUnderTest, scopes: readonly string[] = apiKeyScopes) {
  return createMerchantWithKey(env, { name: 'Other Shop', feeBasisPoints: 0, scopes });
}

forEachDialect('token deposits', (dialect, it) => {
  it('credit the merchant from the tokens outstanding, once, and answer a receipt that names no payer', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const { env, shop } = world;
    const tokens = await world.withdraw([8n, 4n, 1n]);
    const outstanding = await balanceOf(env, platformAccountIds.tokensOutstanding);
    assert.equal(outstanding, 13n);
    const merchantAccountId = await merchantAccount(env, shop.merchantId);
    const before = await balanceOf(env, merchantAccountId);

    const paid = await world.deposit(tokens, wireAmount(13n));
    assert.equal(paid.status, 201, paid.text);
    const claims = paid.body?.claims as Record<string, unknown>;
    assert.equal(claims.payer, 'tokens');
    assert.equal(claims.amount, '0.000013');
    assert.equal(claims.merchantId, shop.merchantId);
    assert.equal(await balanceOf(env, platformAccountIds.tokensOutstanding), 0n);
    // The shop's fee is 10 %: of 13 micro-units the merchant gets 12 (rounding is the split's).
    const credited = (await balanceOf(env, merchantAccountId)) - before;
    assert.ok(credited > 0n && credited <= 13n, `credited ${credited}`);

    // The merchant's payments list it beside its wallet sales, as paid with tokens.
    const listed = await env.call('GET', `/v1/merchants/${shop.merchantId}/payments`, {
      auth: shop.apiKey,
    });
    assert.equal(listed.status, 200, listed.text);
    const items = listed.body?.items as Record<string, unknown>[];
    assert.deepEqual(
      items.map((item) => [item.paymentId, item.paidWith]),
      [
        [paid.body?.paymentId, 'tokens'],
        [shop.paymentId, 'wallet'],
      ],
    );
    assert.equal(items[0]?.share, `0.${credited.toString().padStart(6, '0')}`);
    assert.equal(items[0]?.resource, '/articles/9');

    // The same tokens again, in another order: the same deposit's receipt, nothing moved.
    const again = await world.deposit([...tokens].reverse(), wireAmount(13n));
    assert.equal(again.status, 201, again.text);
    assert.equal(again.body?.paymentId, paid.body?.paymentId);
    assert.equal(await balanceOf(env, merchantAccountId), before + credited);
  });

  it('refuse a token spent already, a forged one, a wrong total and a key without the scope, changing nothing', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const { env } = world;
    const [a, b, c] = await world.withdraw([2n, 2n, 1n]);
    assert.ok(a && b && c);
    const other = await otherMerchant(env);
    const refused = async (tokens: WireToken[], amount: bigint, apiKey?: string) => {
      const answer = await world.deposit(
        tokens,
        wireAmount(amount),
        apiKey === undefined ? {} : { apiKey },
      );
      return { status: answer.status, type: String(answer.body?.type ?? '') };
    };
    const forged = { ...a, signature: b64(random(256)) };
    assert.deepEqual(await refused([forged], 2n), {
      status: 422,
      type: '/v1/problems/invalid-token',
    });
    assert.equal((await refused([a, a], 4n)).status, 422, 'a token twice in one deposit');
    assert.equal((await refused([a, b], 3n)).type, '/v1/problems/token-amount-mismatch');
    const viewer = await otherMerchant(env, ['payments:read']);
    assert.equal((await refused([a], 2n, viewer.apiKey)).status, 403);
    assert.equal(await balanceOf(env, platformAccountIds.tokensOutstanding), 5n, 'nothing moved');

    assert.equal((await world.deposit([a, b], wireAmount(4n))).status, 201);
    // The same tokens at another merchant, or one of them in another set: spent.
    assert.deepEqual(await refused([a, b], 4n, other.apiKey), {
      status: 409,
      type: '/v1/problems/token-spent',
    });
    assert.equal((await refused([b, c], 3n)).status, 409);
    // A refused deposit locked nothing: c is still good.
    assert.equal((await world.deposit([c], wireAmount(1n), { apiKey: other.apiKey })).status, 201);
    assert.equal(await balanceOf(env, platformAccountIds.tokensOutstanding), 0n);
  });

  it('let exactly one of many concurrent deposits of one token win, at two merchants', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const { env } = world;
    const other = await otherMerchant(env);
    const tokens = await world.withdraw([1n, 1n, 1n, 1n, 1n, 1n]);
    const [shared, ...rest] = tokens;
    assert.ok(shared);
    // Each attempt pairs the shared token with another: different sets, one common token.
    const attempts = rest.flatMap((token, index) => [
      world.deposit([shared, token], wireAmount(2n)),
      world.deposit([token, shared], wireAmount(2n), { apiKey: other.apiKey }),
      world.deposit([shared], wireAmount(1n), index % 2 === 0 ? { apiKey: other.apiKey } : {}),
    ]);
    const answers = await Promise.all(attempts);
    const statuses = answers.map((answer) => answer.status);
    // One deposit wins. The shared token alone is sent several times by each merchant, so if
    // that set won, its merchant's other sends of it are that deposit's replays (201, the same
    // deposit), never a second deposit.
    const winners = new Set(
      answers.filter((answer) => answer.status === 201).map((answer) => answer.body?.paymentId),
    );
    assert.equal(winners.size, 1, String(statuses));
    assert.ok(
      statuses.every((status) => status === 201 || status === 409),
      String(statuses),
    );
    const spent = await env.platform.platformDb.db
      .selectFrom('spent_tokens')
      .select('spent_by')
      .execute();
    assert.ok(spent.length === 1 || spent.length === 2, 'the winner locked only its own tokens');
    const credited = 6n - (await balanceOf(env, platformAccountIds.tokensOutstanding));
    assert.equal(credited, BigInt(spent.length), 'exactly the winner was paid');
  });

  it('keep nothing that joins a deposit to the withdrawal that made its tokens', async (t) => {
    const world = await startTokenWorld(t, dialect);
    const { env, shop } = world;
    const tokens = await world.withdraw([4n, 2n]);
    assert.equal((await world.deposit(tokens, wireAmount(6n))).status, 201);
    const db = env.platform.platformDb.db;
    const withdrawal = await db
      .selectFrom('token_withdrawals')
      .selectAll()
      .executeTakeFirstOrThrow();
    const user = await db
      .selectFrom('users')
      .select(['id', 'wallet_account_id'])
      .where('id', '=', shop.userId)
      .executeTakeFirstOrThrow();
    // Everything the withdrawal is known by: its identifiers and its user's. (Its times are
    // the channel this cannot close: README, "Unlinkable tokens", says how clients blur it.)
    const withdrawalValues = new Set([
      withdrawal.id,
      withdrawal.idempotency_key,
      withdrawal.outputs_hash,
      withdrawal.transfer_id,
      user.id,
      user.wallet_account_id,
    ]);
    const depositSide = [
      ...(await db.selectFrom('token_deposits').selectAll().execute()),
      ...(await db.selectFrom('spent_tokens').selectAll().execute()),
      ...(await db
        .selectFrom('webhook_events')
        .selectAll()
        .where('payload', 'like', '%tkd_%')
        .execute()),
    ];
    assert.ok(depositSide.length >= 3);
    const depositText = JSON.stringify(depositSide, (_, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    for (const value of withdrawalValues) {
      assert.ok(!depositText.includes(value), `the deposit's records mention ${value}`);
    }
    // In the ledger the deposit's transfers come from the tokens outstanding, not a wallet.
    const deposit = depositSide[0] as { legs: string };
    const legs = JSON.parse(deposit.legs) as { transferId: string }[];
    const transfers = await env.platform.ledger.lookupTransfers(
      legs.map((leg) => BigInt(leg.transferId)),
    );
    assert.ok(transfers.length > 0);
    for (const transfer of transfers) {
      assert.equal(transfer.debitAccountId, platformAccountIds.tokensOutstanding);
      assert.notEqual(transfer.creditAccountId, BigInt(user.wallet_account_id));
    }
  });

  it('finish a deposit left pending by a crash, once', async (t) => {
    let nowMs = Date.now();
    const world = await startTokenWorld(t, dialect, { clock: () => nowMs });
    const { env, shop } = world;
    const tokens = await world.withdraw([8n]);
    const merchantAccountId = await merchantAccount(env, shop.merchantId);
    const before = await balanceOf(env, merchantAccountId);
    const paid = await world.deposit(tokens, wireAmount(8n));
    assert.equal(paid.status, 201);
    const credited = (await balanceOf(env, merchantAccountId)) - before;
    // As if the process had died after the money moved, before the outcome was recorded.
    const db = env.platform.platformDb.db;
    await db.updateTable('token_deposits').set({ state: 'pending', completed_at: null }).execute();
    const retry = await world.deposit(tokens, wireAmount(8n));
    assert.equal(retry.status, 409, 'a pending deposit is still being made');
    nowMs += tokenDepositPendingGraceMs + 1;
    assert.equal(await env.platform.services.tokenDeposits.reconcilePending(), 1);
    const row = await db.selectFrom('token_deposits').select('state').executeTakeFirstOrThrow();
    assert.equal(row.state, 'succeeded');
    assert.equal((await balanceOf(env, merchantAccountId)) - before, credited, 'paid once');
    assert.equal((await world.deposit(tokens, wireAmount(8n))).status, 201);
  });

  it('forget spent tokens once their key no longer takes tokens, and refuse such tokens', async (t) => {
    let nowMs = Date.now();
    const world = await startTokenWorld(t, dialect, { clock: () => nowMs });
    const [token] = await world.withdraw([1n]);
    const [kept] = await world.withdraw([2n]);
    assert.ok(token && kept);
    assert.equal((await world.deposit([token], wireAmount(1n))).status, 201);
    const { services, platformDb } = world.env.platform;
    assert.equal(await services.spentTokens.purgeExpired(), 0);
    nowMs = world.keyOf(1n).redeemUntilMs;
    assert.equal(await services.spentTokens.purgeExpired(), 1);
    assert.equal((await platformDb.db.selectFrom('spent_tokens').selectAll().execute()).length, 0);
    const late = await world.deposit([kept], wireAmount(2n));
    assert.equal(late.status, 422, 'a token of a key past its redeem end is refused');
  });
});
