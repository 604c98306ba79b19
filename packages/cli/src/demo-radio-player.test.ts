/**
 * Mite Radio in a real browser (Chromium) against a real platform, the radio on an origin of its
 * own: a listener presses Play on a song, starts paying in the platform's session window, listens
 * for some seconds and stops (on the page, or in the window); the window paid no faster than the
 * clock, and the session settles at exactly the seconds the page received, which is what leaves
 * the wallet and what the merchant sees settled.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { Page } from 'playwright-core';
import { formatAmount, parseAmount } from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import {
  apiCall,
  assertLoadedFast,
  type BrowserTestKit,
  type BrowserWorld,
  describeInBrowser,
  seriousAxeViolations,
  toppedUpUser,
} from '@mite/web/testing';
import { type DemoRadio, demoSecondPrice, startDemoRadio } from './demo-radio.ts';

const password = 'correct horse battery';
let listeners = 0;
/** The price of a second in micro-units, and the deposit the window holds (the radio suggests it). */
const secondMicros = 100n;
const depositMicros = 50_000n;
const topUpMicros = 2_000_000n;
/** The seconds a test listens before it stops. */
const listenSeconds = 5;

let radio: Promise<{ radio: DemoRadio; merchantId: string; apiKey: string }> | undefined;

function radioFor(world: BrowserWorld) {
  radio ??= (async () => {
    const made = await apiCall(world, 'POST', '/v1/merchants', {
      auth: world.adminKey,
      body: { name: 'Mite Radio', feeBasisPoints: 500, payoutThreshold: '10.00' },
    });
    const merchantId = String(made.merchantId);
    const key = await apiCall(world, 'POST', `/v1/merchants/${merchantId}/api-keys`, {
      auth: world.adminKey,
      body: { scopes: ['sessions:read', 'sessions:write'] },
    });
    const apiKey = String(key.secret);
    const started = await startDemoRadio({
      platformUrl: world.baseUrl,
      merchantId,
      apiKey,
      host: '127.0.0.4',
      dataDir: tempDir('radio-'),
    });
    return { radio: started, merchantId, apiKey };
  })();
  return radio;
}

after(async () => {
  await (await radio?.catch(() => undefined))?.radio.close();
});

function micros(text: unknown): bigint {
  const parsed = parseAmount(String(text));
  assert.ok(parsed.ok, `an amount: ${String(text)}`);
  return parsed.value;
}

/** Micro-units as the window shows them: "$0.0005". */
function dollars(amountMicros: bigint): string {
  const [whole = '0', fraction = ''] = formatAmount(amountMicros).split('.');
  return `$${whole}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

/** A logged-in listener with $2.00 (a sandbox top-up); answers how to read the balance. */
async function listener(kit: BrowserTestKit): Promise<() => Promise<bigint>> {
  const email = `listener${++listeners}-${process.pid}@example.com`;
  const { balance } = await toppedUpUser(kit, { email, password });
  return async () => micros(await balance());
}

/** Opens the radio, presses Play on its first song and starts paying in the window it opens. */
async function startListening(kit: BrowserTestKit, url: string) {
  kit.allowOrigin(new URL(url).origin);
  await kit.page.goto(`${url}/`, { waitUntil: 'load' });
  const player = kit.page.locator('mite-meter[label="Morning Mites"]');
  await player.getByRole('button', { name: 'Play' }).waitFor();
  const [popup] = await Promise.all([
    kit.context.waitForEvent('page'),
    player.getByRole('button', { name: 'Play' }).click(),
  ]);
  await popup.waitForLoadState('load');
  assert.equal(new URL(popup.url()).origin, kit.world.baseUrl);
  await popup.getByRole('heading', { name: 'Pay $0.0001 a second?' }).waitFor();
  assert.match(await popup.getByTestId('pay-summary').innerText(), /Mite Radio/);
  await kit.screenshot('session-window', popup);
  const start = popup.getByRole('button', { name: 'Start paying $0.0001 a second' });
  await start.click();
  return { player, popup, startedAtMs: Date.now() };
}

/** Waits until the player stopped; answers the seconds it received and what it says it paid. */
async function stoppedAt(player: ReturnType<Page['locator']>) {
  const line = player.getByRole('status').filter({ hasText: /^Stopped after \d+ s/ });
  await line.waitFor({ timeout: 15_000 });
  const match = /^Stopped after (\d+) s: (\S+) paid\.$/.exec((await line.textContent()) ?? '');
  assert.ok(match !== null, 'the player says what it heard and paid');
  return { seconds: BigInt(match[1] ?? '0'), paid: match[2] };
}

/** The settlement the window shows, and the platform's record of it, at exactly `seconds`. */
async function assertSettled(
  kit: BrowserTestKit,
  popup: Page,
  context: { seconds: bigint; balance: () => Promise<bigint>; merchantId: string; apiKey: string },
): Promise<void> {
  const paidMicros = context.seconds * secondMicros;
  const settlement = popup.getByTestId('settlement').filter({ hasText: /Settled:/ });
  await settlement.waitFor({ timeout: 30_000 });
  const back = depositMicros - paidMicros;
  assert.equal(
    (await settlement.textContent())?.replace(/\s+/g, ' ').trim(),
    `Settled: ${dollars(paidMicros)} paid to Mite Radio; ${dollars(back)} of the deposit is ` +
      'back in your balance.',
  );
  assert.equal(
    await context.balance(),
    topUpMicros - paidMicros,
    'the wallet paid the seconds heard',
  );
  const listed = await apiCall(
    kit.world,
    'GET',
    `/v1/merchants/${context.merchantId}/payment-sessions?state=settled`,
    { auth: context.apiKey },
  );
  const settled = (listed.items as { settledAmount: string; payer: string }[])[0];
  assert.equal(settled?.settledAmount, paidMicros.toString(), 'the merchant sees it settled');
}

/** The radio's pages load from two origins: no added header (see BrowserTestOptions). */
const crossOrigin = { ownClientAddress: false } as const;

describeInBrowser('Mite Radio: a song paid by the second', (test) => {
  test(
    'a listener plays a song, stops on the page after some seconds, and pays exactly the seconds heard, no faster than the clock',
    async (kit) => {
      const { radio: site, merchantId, apiKey } = await radioFor(kit.world);
      const balance = await listener(kit);
      assert.equal(demoSecondPrice, '0.0001');
      const { player, popup, startedAtMs } = await startListening(kit, site.url);
      await player
        .getByRole('status')
        .filter({ hasText: `Playing: ${listenSeconds} s` })
        .waitFor();
      // The window pays a second when it begins (one ahead): the fifth at 3 s at the earliest.
      assert.ok(Date.now() - startedAtMs >= (listenSeconds - 2) * 1000 - 250, 'paid at pace');
      await popup
        .getByTestId('running-cost')
        .filter({ hasText: /So far:\s+\$0\.000\d\s+for\s+\d\s+seconds/ })
        .waitFor();
      await assertLoadedFast(kit.page, 'the radio');
      assert.deepEqual(await seriousAxeViolations(kit.page), [], 'the radio');
      await kit.screenshot('radio-playing');
      await kit.screenshot('session-window-paying', popup);
      assert.match(
        (await kit.page.locator('#now-morning-mites').textContent()) ?? '',
        /^Morning Mites: second \d+$/,
      );

      await player.getByRole('button', { name: 'Stop' }).click();
      const stopped = await stoppedAt(player);
      assert.ok(stopped.seconds >= BigInt(listenSeconds), `heard ${stopped.seconds} s`);
      // Never ahead of the clock: a second once it began, and one more.
      const elapsedSeconds = BigInt(Math.floor((Date.now() - startedAtMs) / 1000));
      assert.ok(
        stopped.seconds <= elapsedSeconds + 2n,
        `${stopped.seconds} s paid in ${elapsedSeconds} s`,
      );
      assert.equal(micros((stopped.paid ?? '').slice(1)), stopped.seconds * secondMicros);
      await assertSettled(kit, popup, { ...stopped, balance, merchantId, apiKey });
      await kit.screenshot('session-window-settled', popup);
      // Nothing more comes or is paid once stopped.
      await kit.page.waitForTimeout(1_500);
      assert.equal(
        await kit.page.locator('#now-morning-mites').textContent(),
        `Stopped after ${stopped.seconds} s.`,
      );
      assert.equal(await balance(), topUpMicros - stopped.seconds * secondMicros);
    },
    crossOrigin,
  );

  test(
    'stopping in the wallet\u2019s window stops the player and settles exactly what it received',
    async (kit) => {
      const { radio: site, merchantId, apiKey } = await radioFor(kit.world);
      const balance = await listener(kit);
      const { player, popup } = await startListening(kit, site.url);
      await player.getByRole('status').filter({ hasText: 'Playing: 3 s' }).waitFor();
      await popup.getByRole('button', { name: 'Stop paying' }).click();
      const stopped = await stoppedAt(player);
      assert.ok(stopped.seconds >= 3n, `heard ${stopped.seconds} s`);
      await popup
        .getByTestId('running-cost')
        .filter({
          hasText: `Paid: ${dollars(stopped.seconds * secondMicros)} for ${stopped.seconds} seconds.`,
        })
        .waitFor();
      await assertSettled(kit, popup, { ...stopped, balance, merchantId, apiKey });
    },
    crossOrigin,
  );

  test(
    'closing the radio\u2019s page stops the window, and the session settles at what the site took',
    async (kit) => {
      const { radio: site } = await radioFor(kit.world);
      const balance = await listener(kit);
      const { player, popup } = await startListening(kit, site.url);
      await player.getByRole('status').filter({ hasText: 'Playing: 3 s' }).waitFor();
      await kit.page.close();
      await popup
        .getByTestId('stop-reason')
        .filter({ hasText: 'The site\u2019s page was closed.' })
        .waitFor();
      const shown = /Paid:\s+\S+\s+for\s+(\d+)\s+seconds?/.exec(
        await popup.getByTestId('running-cost').innerText(),
      );
      const handedSeconds = BigInt(shown?.[1] ?? '0');
      assert.ok(handedSeconds >= 3n, `the window paid ${handedSeconds} s`);
      // Nobody closes at the site: the payer's close settles after the platform's grace, at
      // the highest voucher the site took (the page may have died holding the last one).
      const settlement = popup.getByTestId('settlement').filter({ hasText: /Settled:/ });
      await settlement.waitFor({ timeout: 40_000 });
      const settled = /Settled: (\S+) paid/.exec((await settlement.textContent()) ?? '');
      const settledMicros = micros((settled?.[1] ?? '').slice(1));
      assert.ok(settledMicros <= handedSeconds * secondMicros, 'never more than was handed');
      assert.ok(settledMicros >= (handedSeconds - 1n) * secondMicros, 'all but the last at most');
      assert.equal(await balance(), topUpMicros - settledMicros);
    },
    crossOrigin,
  );
});
