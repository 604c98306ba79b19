/**
 * `mite pay --stream`, in process, against the real middleware's session meter and the real
 * platform (packages/server on embedded SQLite) over loopback HTTP
 * (packages/middleware/src/sessions/testing-world.ts): what it says it paid is what the platform
 * settles.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  type MeterWorld,
  settledAtPlatform,
  startMeterWorld,
  userBalanceMicros,
} from '../../middleware/src/sessions/testing-world.ts';
import { runCli } from './create-program.ts';
import { createTestContext } from './test-helpers.ts';
import { defaultBudget, loadSpending, saveWalletSession } from './wallet-session.ts';

describe('mite pay --stream', () => {
  let world: MeterWorld;
  before(async () => {
    world = await startMeterWorld({ voucherWaitMs: 300 }, Date.now());
  });
  after(() => world.close());

  function loggedIn(budget = defaultBudget): { env: Record<string, string>; dir: string } {
    const dir = tempDir('mite-stream-config-');
    saveWalletSession(dir, {
      platformUrl: world.platform.url,
      email: 'listener@example.com',
      token: world.userToken,
      expiresAt: '2099-01-01T00:00:00Z',
      budget,
    });
    return { env: { MITE_CONFIG_DIR: dir }, dir };
  }

  it('prints the stream as it comes, pays as asked, closes, and says what was charged', async () => {
    const { env, dir } = loggedIn();
    const context = createTestContext({ env });
    const url = `${world.url}/songs/11?seconds=5`;
    const code = await runCli(['pay', '--stream', '--deposit', '0.002', url], context);
    assert.equal(code, 0, context.err.join(''));
    const out = context.out.join('');
    for (let index = 0; index < 5; index += 1) assert.ok(out.includes(`data: unit ${index}\n`));
    assert.ok(out.includes('event: payment-need-voucher'));
    const err = context.err.join('').split('\n');
    // The merchant id is the platform's (a uuid: nothing in it is special to a RegExp).
    const merchant = `"radio\\.test" \\(${world.merchantId}\\)`;
    assert.match(
      err[0] ?? '',
      new RegExp(
        `^mite: holding a deposit of 0\\.002 USD with ${merchant} for /songs/11\\?seconds=5 at 0\\.0001 a second`,
      ),
    );
    assert.match(
      err[1] ?? '',
      new RegExp(
        `^mite: 200, paid 0\\.0006 USD to ${merchant} for http://127\\.0\\.0\\.1:\\d+/songs/11\\?seconds=5 ` +
          `\\(session ses_[0-9a-f]{32}, 0\\.0001 a second; 0\\.0014 of the 0\\.002 deposit released\\)$`,
      ),
    );
    assert.deepEqual(
      loadSpending(dir).map((entry) => entry.amountMicros),
      ['600'],
    );
    const sessionId = /session (ses_[0-9a-f]{32})/.exec(err[1] ?? '')?.[1] ?? '';
    assert.equal((await settledAtPlatform(world, sessionId)).settledMicros, 600n);
    // The rest of the deposit went back to the wallet: nothing stays held.
    assert.deepEqual(await world.wallet(), {
      balanceMicros: userBalanceMicros - 600n,
      reservedMicros: 0n,
    });
  });

  it('fails in one line with a non-zero exit when the budget cannot hold a step', async () => {
    const { env } = loggedIn({ ...defaultBudget, maxPerPayment: '0.0001' });
    const context = createTestContext({ env });
    const code = await runCli(['pay', '--stream', `${world.url}/songs/12?seconds=3`], context);
    assert.equal(code, 1);
    assert.equal(context.out.join(''), '');
    const err = context.err.join('');
    assert.match(err, /^mite: overBudget: .*\(nothing was paid\)\n$/);
  });

  it('says so when a URL asks for nothing it can pay', async () => {
    const { env } = loggedIn();
    const context = createTestContext({ env });
    assert.equal(await runCli(['pay', '--stream', `${world.url}/free`], context), 1);
    assert.equal(context.out.join(''), 'not metered');
    assert.equal(context.err.join(''), 'mite: 404, nothing paid\n');
  });

  it('refuses --json with --stream and --deposit without it', async () => {
    const { env } = loggedIn();
    for (const args of [
      ['pay', '--stream', '--json', `${world.url}/songs/1`],
      ['pay', '--deposit', '0.01', `${world.url}/songs/1`],
    ]) {
      const context = createTestContext({ env });
      assert.equal(await runCli(args, context), 2);
      assert.match(context.err.join(''), /^mite: --(json|deposit) /);
    }
  });
});
