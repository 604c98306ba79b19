/**
 * Purchases through the HTTP API survive a SIGKILL (issue 10): `mite serve` is killed while
 * purchases are under way, then restarted on its data (SQLite), or left to the other of two
 * nodes sharing one PostgreSQL. Every purchase a client was told succeeded is still there; every
 * purchase, acknowledged or cut off, answers its retries with one final outcome (never "in
 * progress" for long, never a second charge); wallets equal funding minus what they bought; and
 * `mite verify` finds the ledger clean.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { postgresSkipReason, requirePgDatabase, tempDir } from '@mite/testkit';
import {
  type ApiAnswer as Answer,
  call,
  created,
  micros,
  noRiskRulesFile,
  type RunningCli,
  runCliProcess,
  startCli,
  waitForUrl,
} from './test-helpers.ts';

/** Long enough for the reconciler: payments pending 30 s, looked for every 10 s. */
const TEST_TIMEOUT_MS = 170_000;
/** How long a cut-off purchase may answer "in progress" after the restart. */
const settleDeadlineMs = 80_000;
const users = 3;
const topUpAmount = '5.00';
const price = '0.25';
/** Concurrent purchase loops per user: more than the wallet can pay for, over time. */
const loopsPerUser = 4;
/** Acknowledged purchases before the kill. */
const acknowledgedBeforeKill = 12;

interface Shop {
  readonly offerId: string;
  readonly tokens: readonly string[];
}

/** A merchant with an offer anyone may buy again and again, and funded users. */
async function setUpShop(base: string, admin: string): Promise<Shop> {
  const merchant = await created(base, '/v1/merchants', {
    token: admin,
    key: 'merchant',
    body: { name: 'Crash Goods', feeBasisPoints: 1000, payoutThreshold: '100.00' },
  });
  const apiKey = await created(base, `/v1/merchants/${String(merchant.merchantId)}/api-keys`, {
    token: admin,
    key: 'api-key',
    body: { scopes: ['offers:write'] },
  });
  const offer = await created(base, '/v1/offers', {
    token: String(apiKey.secret),
    key: 'offer',
    body: { resource: 'item:tea', title: 'Tea', price, category: 'goods', accessPeriodSeconds: 0 },
  });
  const tokens: string[] = [];
  for (let u = 0; u < users; u++) {
    const credentials = { email: `crash-${u}@example.com`, password: `password ${u} long` };
    await created(base, '/v1/users', { body: credentials });
    const token = String((await created(base, '/v1/sessions', { body: credentials })).token);
    const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
    const topUp = await created(base, '/v1/topups', {
      token,
      key: `topup-${u}`,
      body: { amount: topUpAmount, card },
    });
    assert.equal(topUp.state, 'succeeded', JSON.stringify(topUp));
    tokens.push(token);
  }
  return { offerId: String(offer.id), tokens };
}

interface Sent {
  readonly user: number;
  readonly key: string;
  /** The answer before the kill, if one came. */
  answer?: Answer;
}

/**
 * Purchases from every user in concurrent loops, each with its own Idempotency-Key, recorded in
 * `sent` as they go, until `isStopped()`. A request cut off by the kill ends its loop.
 */
async function purchaseLoad(
  sent: Sent[],
  bases: readonly string[],
  shop: Shop,
  isStopped: () => boolean,
  onAcknowledged: () => void,
): Promise<void> {
  const loop = async (user: number, index: number) => {
    for (let n = 0; !isStopped(); n++) {
      const entry: Sent = { user, key: `buy-${user}-${index}-${n}` };
      sent.push(entry);
      const base = bases[(index + n) % bases.length] ?? '';
      try {
        entry.answer = await call(base, 'POST', '/v1/payments', {
          token: shop.tokens[user] ?? '',
          key: entry.key,
          body: { offerId: shop.offerId },
        });
      } catch {
        return; // the node died under this request: its outcome is asked for later
      }
      if (entry.answer.status === 201) onAcknowledged();
      if (entry.answer.status === 402) return; // the wallet is empty
    }
  };
  const loops = [];
  for (let user = 0; user < users; user++) {
    for (let index = 0; index < loopsPerUser; index++) loops.push(loop(user, index));
  }
  await Promise.all(loops);
}

/** Retries one purchase until its answer is final: 201 or 402, not 409 in progress. */
async function finalAnswer(base: string, shop: Shop, entry: Sent): Promise<Answer> {
  const deadline = Date.now() + settleDeadlineMs;
  for (;;) {
    const answer = await call(base, 'POST', '/v1/payments', {
      token: shop.tokens[entry.user] ?? '',
      key: entry.key,
      body: { offerId: shop.offerId },
    });
    if (answer.status === 201 || answer.status === 402) return answer;
    assert.equal(answer.status, 409, `${entry.key}: ${JSON.stringify(answer.body)}`);
    assert.ok(Date.now() < deadline, `${entry.key} still in progress: ${JSON.stringify(answer)}`);
    // A real wait: the purchase is finished by the reconciler of the node in a child process,
    // on that process's own clock, which this test cannot move.
    await sleep(1_000);
  }
}

/** Every purchase's final answer, checked against what the client was told before the kill. */
async function checkOutcomes(base: string, shop: Shop, sent: readonly Sent[]): Promise<void> {
  const finals = await Promise.all(sent.map((entry) => finalAnswer(base, shop, entry)));
  const funding = micros(topUpAmount);
  for (let user = 0; user < users; user++) {
    const paid = new Set<string>();
    sent.forEach((entry, index) => {
      if (entry.user !== user) return;
      const final = finals[index];
      assert.ok(final);
      if (entry.answer?.status === 201) {
        assert.equal(final.status, 201, `${entry.key} was acknowledged, then lost`);
        assert.equal(final.body.paymentId, entry.answer.body.paymentId, entry.key);
      }
      if (final.status === 201) paid.add(String(final.body.paymentId));
    });
    const wallet = await call(base, 'GET', '/v1/wallet', { token: shop.tokens[user] ?? '' });
    assert.equal(wallet.status, 200);
    assert.equal(micros(wallet.body.balance), funding - micros(price) * BigInt(paid.size));
    assert.equal(micros(wallet.body.reserved), 0n);
  }
}

function nodeEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { MITE_FUNDING_PROVIDER: 'sandbox', MITE_RISK_RULES_FILE: noRiskRulesFile(), ...extra };
}

async function stopAll(nodes: readonly RunningCli[]): Promise<void> {
  for (const node of nodes) node.child.kill('SIGTERM');
  await Promise.all(nodes.map((node) => node.exited));
}

/**
 * Runs the purchase load until `acknowledgedBeforeKill` purchases are acknowledged, SIGKILLs the
 * victim at once, and returns every purchase sent once the load has stopped.
 */
async function loadThenKill(
  bases: readonly string[],
  shop: Shop,
  victim: RunningCli,
): Promise<Sent[]> {
  let stopped = false;
  const sent: Sent[] = [];
  // The kill comes on the answers, not after a time: once enough purchases were acknowledged.
  let acknowledged = 0;
  let enough = (): void => {};
  const enoughAcknowledged = new Promise<void>((resolve) => (enough = resolve));
  const load = purchaseLoad(
    sent,
    bases,
    shop,
    () => stopped,
    () => {
      if (++acknowledged === acknowledgedBeforeKill) enough();
    },
  );
  await Promise.race([
    enoughAcknowledged,
    load.then(() => {
      if (acknowledged < acknowledgedBeforeKill) {
        assert.fail(`the purchase load ended after ${acknowledged} purchases`);
      }
    }),
  ]);
  victim.child.kill('SIGKILL');
  stopped = true;
  await load;
  const exit = await victim.exited;
  assert.equal(exit.signal, 'SIGKILL');
  return sent;
}

describe('purchases through a SIGKILL', { timeout: TEST_TIMEOUT_MS }, () => {
  it('on SQLite: restarted on its data, nothing acknowledged is lost or doubled', async (t) => {
    const dataDir = tempDir('mite-crash-');
    const nodes: RunningCli[] = [];
    t.after(() => stopAll(nodes));
    const start = () => {
      const node = startCli(['serve', '--port', '0', '--data-dir', dataDir], nodeEnv());
      nodes.push(node);
      return node;
    };
    const first = start();
    const base = await waitForUrl(first);
    const admin = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const shop = await setUpShop(base, admin);
    const sent = await loadThenKill([base], shop, first);
    t.diagnostic(
      `${sent.length} purchases sent, ${sent.filter((e) => e.answer?.status === 201).length} acknowledged before the kill`,
    );
    const restarted = await waitForUrl(start());
    await checkOutcomes(restarted, shop, sent);
    await stopAll(nodes);
    const verified = await runCliProcess(['verify', '--data-dir', dataDir]);
    assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
  });

  it(
    'on two nodes sharing PostgreSQL: the survivor answers for the one killed',
    { skip: postgresSkipReason() },
    async (t) => {
      const databaseUrl = await requirePgDatabase();
      const env = nodeEnv({
        MITE_DATABASE_URL: databaseUrl,
        MITE_MASTER_KEY: randomBytes(32).toString('base64'),
        MITE_RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      });
      const dataDir = tempDir('mite-crash-a-');
      const nodes: RunningCli[] = [];
      t.after(() => stopAll(nodes));
      // The first node up writes the ledger (and makes the first admin key): killing it makes
      // the other take over.
      const writer = startCli(['serve', '--port', '0', '--data-dir', dataDir], env);
      nodes.push(writer);
      const writerBase = await waitForUrl(writer);
      const survivor = startCli(
        ['serve', '--port', '0', '--data-dir', tempDir('mite-crash-b-')],
        env,
      );
      nodes.push(survivor);
      const survivorBase = await waitForUrl(survivor);
      const admin = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
      const shop = await setUpShop(writerBase, admin);
      const sent = await loadThenKill([writerBase, survivorBase], shop, writer);
      t.diagnostic(
        `${sent.length} purchases sent, ${sent.filter((e) => e.answer?.status === 201).length} acknowledged before the kill`,
      );
      await checkOutcomes(survivorBase, shop, sent);
      await stopAll(nodes);
      const verified = await runCliProcess(['verify', '--database-url', databaseUrl]);
      assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
    },
  );
});
