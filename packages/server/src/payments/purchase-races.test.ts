/**
 * Exactly once, under concurrency, over real HTTP: twenty purchases of one offer that grants
 * access, sent at once with different Idempotency-Keys, charge the wallet once; on PostgreSQL
 * they go through two platform nodes sharing one database, as two API servers do.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { databaseUrlFor, forEachDialect } from '../db/testing.ts';
import pino from 'pino';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { createPlatform, type Platform } from '../platform.ts';
import { noRiskRules } from '../risk/rule-set.ts';

const attempts = 20;
const fundingMicros = 1_000_000n;

interface Node {
  readonly platform: Platform;
  readonly base: string;
}

async function startNodes(t: TestContext, backend: 'sqlite' | 'postgres'): Promise<Node[]> {
  const databaseUrl = backend === 'postgres' ? await databaseUrlFor('postgres') : undefined;
  // Nodes of one platform share the master key and the receipt-signing key.
  const env = {
    MITE_MASTER_KEY: randomBytes(32).toString('base64'),
    MITE_RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString(),
  };
  const nodes: Node[] = [];
  for (let index = 0; index < (backend === 'postgres' ? 2 : 1); index++) {
    const platform = await createPlatform({
      dataDir: tempDir('mite-race-'),
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      env,
      logger: pino({ level: 'silent' }),
      // Twenty requests at once from one user: the race is under test, not the velocity rules.
      riskRules: noRiskRules,
    });
    t.after(() => platform.close());
    nodes.push({ platform, base: await platform.app.listen({ port: 0, host: '127.0.0.1' }) });
  }
  return nodes;
}

async function post(base: string, path: string, token: string, key: string, body: unknown) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A merchant with an offer granting an hour of access, and a user with a funded wallet. */
async function setUp(node: Node) {
  const { services, ledger } = node.platform;
  const admin = await node.platform.bootstrapAdminKey();
  assert.ok(admin);
  const merchant = await post(node.base, '/v1/merchants', admin.secret, 'merchant', {
    name: 'Daily News',
    feeBasisPoints: 1000,
    payoutThreshold: '10.00',
  });
  const merchantId = String(merchant.body.merchantId);
  const key = await post(node.base, `/v1/merchants/${merchantId}/api-keys`, admin.secret, 'k', {
    scopes: ['offers:write'],
  });
  const offer = await post(node.base, '/v1/offers', String(key.body.secret), 'offer', {
    resource: '/articles/1',
    title: 'Article one',
    price: '0.02',
    category: 'content',
    accessPeriodSeconds: 3600,
  });
  assert.equal(offer.status, 201, JSON.stringify(offer.body));
  const signedUp = await services.users.signUp({
    email: 'ada@example.com',
    password: 'a long passphrase',
  });
  assert.ok(signedUp.ok);
  const profile = await services.users.profile(signedUp.value.userId);
  assert.ok(profile);
  const funded = await ledger.createTransfers([
    {
      id: services.transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: fundingMicros,
      ledger: 1,
      code: 1,
    },
  ]);
  assert.deepEqual(funded, ['ok']);
  const session = await services.users.logIn({
    email: 'ada@example.com',
    password: 'a long passphrase',
  });
  assert.ok(session.ok);
  return { offerId: String(offer.body.id), token: session.value.token, wallet: profile };
}

forEachDialect('an access purchase under concurrency', (backend, it) => {
  it(`is charged once when ${attempts} arrive at once`, async (t) => {
    const nodes = await startNodes(t, backend);
    const [first] = nodes;
    assert.ok(first !== undefined);
    const { offerId, token, wallet } = await setUp(first);
    const answers = await Promise.all(
      Array.from({ length: attempts }, (_, index) =>
        post(
          nodes[index % nodes.length]?.base ?? first.base,
          '/v1/payments',
          token,
          `buy-${index}`,
          { offerId },
        ),
      ),
    );
    const paid = answers.filter((answer) => answer.status === 201);
    assert.equal(paid.length, 1, JSON.stringify(answers.map((answer) => answer.status)));
    const paymentId = paid[0]?.body.paymentId;
    for (const answer of answers.filter((a) => a.status !== 201)) {
      assert.equal(answer.status, 409, JSON.stringify(answer.body));
      assert.match(String(answer.body.type), /duplicate-payment$/);
      assert.equal(answer.body.paymentId, paymentId, 'the refusal names the purchase');
    }
    const [account] = await first.platform.ledger.lookupAccounts([wallet.walletAccountId]);
    assert.equal(account?.debitsPosted, 20_000n, 'one charge of 0.02');
    const rows = await first.platform.platformDb.db
      .selectFrom('payments')
      .select(['id', 'state'])
      .execute();
    assert.deepEqual(rows, [{ id: paymentId, state: 'succeeded' }]);
  });
});
