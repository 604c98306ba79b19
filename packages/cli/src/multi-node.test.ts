/**
 * DESIGN.md section 10: two `mite serve` processes on one PostgreSQL, taking concurrent
 * top-ups, purchases and idempotent retries (the same Idempotency-Key sent to both nodes at once)
 * for the same wallets. No money may be lost or doubled, both nodes must read the same balances,
 * and `mite verify` must find the ledger clean.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { postgresSkipReason, requirePgDatabase, tempDir } from '@mite/testkit';
import {
  call,
  created,
  micros,
  noRiskRulesFile,
  type RunningCli,
  runCliProcess,
  startCli,
  waitForUrl,
} from './test-helpers.ts';

const TEST_TIMEOUT_MS = 120_000;
const users = 3;
const topUpsPerUser = 2;
const topUpAmount = '5.00';
const price = '0.25';
/** More than 10.00 / 0.25 = 40 per user: some must be refused for want of funds. */
const purchasesPerUser = 48;
/** Of those, every `retryEvery`-th is also sent to the other node at once, same key. */
const retryEvery = 4;

describe('two server processes on one PostgreSQL', { timeout: TEST_TIMEOUT_MS }, () => {
  it(
    'concurrent top-ups, purchases and retries across nodes: no lost or doubled money',
    { skip: postgresSkipReason() },
    async (t) => {
      const databaseUrl = await requirePgDatabase();
      // As on separate machines: a data directory each; the master key (personal data, lookup
      // tags) and the receipt-signing key come from the environment, the same for both.
      const dataDir = tempDir('mite-node-a-');
      const otherDataDir = tempDir('mite-node-b-');
      const env = {
        MITE_DATABASE_URL: databaseUrl,
        // The nodes take top-ups with the sandbox's test card.
        MITE_FUNDING_PROVIDER: 'sandbox',
        MITE_RISK_RULES_FILE: noRiskRulesFile(),
        MITE_MASTER_KEY: randomBytes(32).toString('base64'),
        MITE_RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      };
      const nodes: RunningCli[] = [];
      t.after(async () => {
        for (const node of nodes) node.child.kill('SIGTERM');
        await Promise.all(nodes.map((node) => node.exited));
      });
      nodes.push(startCli(['serve', '--port', '0', '--data-dir', dataDir], env));
      const first = await waitForUrl(nodes[0] as RunningCli);
      nodes.push(startCli(['serve', '--port', '0', '--data-dir', otherDataDir], env));
      const second = await waitForUrl(nodes[1] as RunningCli);
      const bases = [first, second];
      const other = (base: string) => (base === first ? second : first);

      // A merchant and an offer (no access period: the same offer may be bought again).
      const admin = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
      const merchant = await created(first, '/v1/merchants', {
        token: admin,
        key: 'merchant',
        body: { name: 'Two Node Goods', feeBasisPoints: 1000, payoutThreshold: '100.00' },
      });
      const apiKey = await created(
        second,
        `/v1/merchants/${String(merchant.merchantId)}/api-keys`,
        {
          token: admin,
          key: 'api-key',
          body: { scopes: ['offers:write'] },
        },
      );
      const offer = await created(first, '/v1/offers', {
        token: String(apiKey.secret),
        key: 'offer',
        body: {
          resource: 'item:tea',
          title: 'Tea',
          price,
          category: 'goods',
          accessPeriodSeconds: 0,
        },
      });

      // Users sign up on one node and log in on the other.
      const tokens: string[] = [];
      for (let u = 0; u < users; u++) {
        const credentials = { email: `node-user-${u}@example.com`, password: `password ${u} long` };
        await created(bases[u % 2] ?? first, '/v1/users', { body: credentials });
        const session = await created(bases[(u + 1) % 2] ?? first, '/v1/sessions', {
          body: credentials,
        });
        tokens.push(String(session.token));
      }

      // Top-ups: each sent to one node and, at the same moment, with the same key to the other.
      const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
      const topUpAnswers = await Promise.all(
        tokens.flatMap((token, u) =>
          Array.from({ length: topUpsPerUser }, (_, k) => {
            const key = `topup-${u}-${k}`;
            const body = { amount: topUpAmount, card };
            const base = bases[k % 2] ?? first;
            return Promise.all([
              call(base, 'POST', '/v1/topups', { token, key, body }),
              call(other(base), 'POST', '/v1/topups', { token, key, body }),
            ]);
          }),
        ),
      );
      for (const pair of topUpAnswers) {
        const succeeded = pair.filter((answer) => answer.status === 201);
        assert.ok(succeeded.length >= 1, JSON.stringify(pair));
        // The twin is the same top-up replayed, or refused while the first was in progress.
        for (const answer of pair)
          assert.ok([201, 409].includes(answer.status), JSON.stringify(pair));
        assert.equal(new Set(succeeded.map((answer) => answer.body.id)).size, 1);
      }

      // Purchases from every wallet through both nodes at once; some retried on the other node.
      const purchases = tokens.flatMap((token, u) =>
        Array.from({ length: purchasesPerUser }, (_, p) => {
          const key = `buy-${u}-${p}`;
          const base = bases[p % 2] ?? first;
          const body = { offerId: String(offer.id) };
          const sends = [call(base, 'POST', '/v1/payments', { token, key, body })];
          if (p % retryEvery === 0)
            sends.push(call(other(base), 'POST', '/v1/payments', { token, key, body }));
          return Promise.all(sends).then((answers) => ({ user: u, key, answers }));
        }),
      );
      const outcomes = await Promise.all(purchases);

      const funding = micros(topUpAmount) * BigInt(topUpsPerUser);
      for (let u = 0; u < users; u++) {
        const mine = outcomes.filter((outcome) => outcome.user === u);
        const paid = new Set<string>();
        for (const { answers } of mine) {
          const ids = new Set(
            answers.filter((a) => a.status === 201).map((a) => String(a.body.paymentId)),
          );
          assert.ok(ids.size <= 1, 'one key, one payment');
          for (const id of ids) paid.add(id);
          for (const answer of answers) {
            assert.ok([201, 409].includes(answer.status), JSON.stringify(answer.body));
          }
        }
        // Every purchase the wallet could afford went through, and no more.
        assert.equal(BigInt(paid.size), funding / micros(price), `user ${u} paid ${paid.size}`);
        for (const base of bases) {
          const wallet = await call(base, 'GET', '/v1/wallet', { token: tokens[u] ?? '' });
          assert.equal(wallet.status, 200);
          assert.equal(micros(wallet.body.balance), funding - micros(price) * BigInt(paid.size));
          assert.equal(micros(wallet.body.reserved), 0n);
        }
      }

      const keys = await Promise.all(bases.map((base) => call(base, 'GET', '/v1/keys')));
      assert.deepEqual(keys[0]?.body, keys[1]?.body, 'both nodes sign with one key');

      const verified = await runCliProcess(['verify', '--database-url', databaseUrl]);
      assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
    },
  );
});
