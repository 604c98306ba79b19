/**
 * Payment sessions through a SIGKILL (issue 16 item 6): `mite serve` is killed while merchants
 * close sessions, after other sessions' vouchers were checkpointed and before they were closed,
 * then restarted on its data (SQLite, or the same PostgreSQL database). After the restart every
 * checkpointed voucher is still there, every close (cut off or not) ends in one settlement at
 * exactly its last voucher, wallets hold what they were funded less what was settled (nothing
 * still reserved), the merchant has its share of every settlement once, and `mite verify` finds
 * the ledger clean.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  issueSessionChallenge,
  paywordChain,
  sessionChallengeEcho,
  sessionRequest,
  sessionVoucherWire,
} from '@mite/protocol';
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
const unitPriceMicros = 1_000n;
const depositMicros = 200_000n;
/** Sessions whose closes are under way at the kill, and sessions only checkpointed before it. */
const closedAtKill = 8;
const openAcrossKill = 4;
const funding = '5.00';

interface World {
  readonly apiKey: string;
  readonly token: string;
  readonly sessions: { id: string; units: number; voucher: (units: number) => unknown }[];
}

async function setUp(base: string, admin: string): Promise<World> {
  const merchant = await created(base, '/v1/merchants', {
    token: admin,
    key: 'merchant',
    body: { name: 'Crash Radio', feeBasisPoints: 1000, payoutThreshold: '100.00' },
  });
  const merchantId = String(merchant.merchantId);
  const key = await created(base, `/v1/merchants/${merchantId}/api-keys`, {
    token: admin,
    key: 'api-key',
    body: { scopes: ['sessions:write', 'sessions:read'] },
  });
  const credentials = { email: 'listener@example.com', password: 'a long passphrase' };
  await created(base, '/v1/users', { body: credentials });
  const token = String((await created(base, '/v1/sessions', { body: credentials })).token);
  const card = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
  await created(base, '/v1/topups', { token, key: 'topup', body: { amount: funding, card } });
  const secret = new Uint8Array(randomBytes(32));
  const sessions = [];
  for (let index = 0; index < closedAtKill + openAcrossKill; index++) {
    const challenge = issueSessionChallenge({
      secret,
      realm: 'radio.example',
      expiresAtSeconds: Math.floor(Date.now() / 1000) + 600,
      request: sessionRequest({
        unitPriceMicros,
        currency: 'usd',
        recipient: merchantId,
        platform: base,
        resource: `/songs/${index}`,
        unitType: 'second',
        minVoucherDeltaMicros: unitPriceMicros,
        idleTimeoutSeconds: 3_600,
        vouchers: ['payword'],
      }),
    });
    const chain = paywordChain(new Uint8Array(randomBytes(32)), 1_000);
    const opened = await created(base, '/v1/payment-sessions', {
      token,
      key: `open-${index}`,
      body: {
        challenge: sessionChallengeEcho(challenge),
        deposit: depositMicros.toString(),
        voucher: {
          kind: 'payword',
          anchor: Buffer.from(chain.anchor).toString('base64url'),
          chainLength: 1_000,
        },
      },
    });
    const id = String((opened.session as Record<string, unknown>).id);
    const voucher = (units: number) =>
      sessionVoucherWire({
        channelId: id,
        cumulativeMicros: BigInt(units) * unitPriceMicros,
        proof: { kind: 'payword', word: chain.word(units) },
      });
    sessions.push({ id, units: 10 + index * 3, voucher });
  }
  return { apiKey: String(key.secret), token, sessions };
}

async function checkpoint(base: string, world: World, session: World['sessions'][number]) {
  const answer = await call(base, 'POST', `/v1/payment-sessions/${session.id}/vouchers`, {
    token: world.apiKey,
    body: session.voucher(session.units),
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

async function closeAll(base: string, world: World): Promise<void> {
  for (const session of world.sessions) {
    const closed = await call(base, 'POST', `/v1/payment-sessions/${session.id}/close`, {
      token: world.apiKey,
      body: { voucher: session.voucher(session.units) },
    });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    const view = closed.body.session as Record<string, unknown>;
    assert.equal(view.state, 'settled', session.id);
    assert.equal(view.settledAmount, (BigInt(session.units) * unitPriceMicros).toString());
  }
}

async function checkBalances(base: string, world: World): Promise<void> {
  const settled = world.sessions.reduce(
    (sum, session) => sum + BigInt(session.units) * unitPriceMicros,
    0n,
  );
  const wallet = await call(base, 'GET', '/v1/wallet', { token: world.token });
  assert.equal(micros(wallet.body.balance), micros(funding) - settled);
  assert.equal(micros(wallet.body.reserved), 0n);
  const listed = await call(base, 'GET', '/v1/users/me/payment-sessions?limit=100', {
    token: world.token,
  });
  const states = (listed.body.items as Record<string, unknown>[]).map((item) => item.state);
  assert.deepEqual(new Set(states), new Set(['settled']));
}

/**
 * Closes the first sessions concurrently and kills the node as soon as one close is answered:
 * the others are then cut off somewhere between arriving and being answered.
 */
async function killDuringCloses(base: string, world: World, node: RunningCli): Promise<number> {
  let killed = false;
  const kill = () => {
    if (!killed) node.child.kill('SIGKILL');
    killed = true;
  };
  const closes = world.sessions.slice(0, closedAtKill).map((session) =>
    call(base, 'POST', `/v1/payment-sessions/${session.id}/close`, {
      token: world.apiKey,
      body: { voucher: session.voucher(session.units) },
    }).then(
      (answer) => {
        if (answer.status === 200) kill();
        return killed ? undefined : answer.status;
      },
      () => undefined,
    ),
  );
  const statuses = await Promise.all(closes);
  kill();
  const exit = await node.exited;
  assert.equal(exit.signal, 'SIGKILL');
  return statuses.filter((status) => status !== undefined).length + 1;
}

function run(env: Record<string, string>, dataDir: string, nodes: RunningCli[]): RunningCli {
  const node = startCli(['serve', '--port', '0', '--data-dir', dataDir], {
    MITE_FUNDING_PROVIDER: 'sandbox',
    MITE_RISK_RULES_FILE: noRiskRulesFile(),
    ...env,
  });
  nodes.push(node);
  return node;
}

async function stopAll(nodes: readonly RunningCli[]): Promise<void> {
  for (const node of nodes) node.child.kill('SIGTERM');
  await Promise.all(nodes.map((node) => node.exited));
}

async function killAndRestart(
  t: TestContext,
  env: Record<string, string>,
  verifyArgs: readonly string[],
) {
  const dataDir = tempDir('mite-crash-sessions-');
  const nodes: RunningCli[] = [];
  try {
    const first = run(env, dataDir, nodes);
    const base = await waitForUrl(first);
    const admin = readFileSync(join(dataDir, 'admin-key'), 'utf8').trim();
    const world = await setUp(base, admin);
    for (const session of world.sessions) await checkpoint(base, world, session);
    const answered = await killDuringCloses(base, world, first);
    t.diagnostic(`${answered} of ${closedAtKill} closes answered before the kill`);
    const restarted = await waitForUrl(run(env, dataDir, nodes));
    const found = await call(restarted, 'GET', '/v1/users/me/payment-sessions?limit=100', {
      token: world.token,
    });
    const states = (found.body.items as Record<string, unknown>[]).map((item) => item.state);
    t.diagnostic(`after the restart: ${states.sort().join(', ')}`);
    // Every session, closed at the kill or not, closes once more: each settles exactly once.
    await closeAll(restarted, world);
    await closeAll(restarted, world);
    await checkBalances(restarted, world);
    await stopAll(nodes);
    const where = verifyArgs.length === 0 ? ['--data-dir', dataDir] : verifyArgs;
    const verified = await runCliProcess(['verify', ...where]);
    assert.deepEqual([verified.code, verified.stdout], [0, 'ok\n'], verified.stderr);
  } finally {
    await stopAll(nodes);
  }
}

describe('payment sessions through a SIGKILL', { timeout: TEST_TIMEOUT_MS }, () => {
  it('on SQLite: restarted on its data, every session settles once at its voucher', async (t) => {
    await killAndRestart(t, {}, []);
  });

  it(
    'on PostgreSQL: restarted on the same database, the same',
    { skip: postgresSkipReason() },
    async (t) => {
      const databaseUrl = await requirePgDatabase();
      await killAndRestart(
        t,
        {
          MITE_DATABASE_URL: databaseUrl,
          MITE_MASTER_KEY: randomBytes(32).toString('base64'),
          MITE_RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519')
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        },
        ['--database-url', databaseUrl],
      );
    },
  );
});
