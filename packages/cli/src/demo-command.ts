import {
  type DemoCredentials,
  demoGameShopName,
  demoRadioName,
  demoTipJar,
  type Platform,
} from '@mite/server';
import { type DemoRadio, startDemoRadio } from './demo-radio.ts';
import { gameShopItems, startGameShop } from './demo-game-shop.ts';
import { type DemoSite, startDemoSite } from './demo-site.ts';
import { startTipJar, tipJarTips } from './demo-tip-jar.ts';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { describeError } from './errors.ts';
import { DEMO_DATA_DIR } from './options.ts';
import {
  type PlatformFlags,
  resolveRunOptions,
  runPlatform,
  type StartedStep,
  startupError,
  withPlatformOptions,
} from './run-platform.ts';

/**
 * `mite demo`: `mite serve` on a platform filled with demo users, merchants and offers (once; later
 * starts show the same ones), printing their credentials. A local sandbox, not for real money.
 */
export function createDemoCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const command = new Command('demo').description(
    'run a local sandbox platform with demo users, merchants and offers, and print their credentials',
  );
  return withPlatformOptions(command, DEMO_DATA_DIR).action(async (flags: PlatformFlags) => {
    // The demo's wallets are funded through the sandbox, whatever the environment configures.
    const options = { ...resolveRunOptions(flags, context, DEMO_DATA_DIR), sandboxFunding: true };
    let credentials: DemoCredentials | undefined;
    const seed = async (platform: Platform): Promise<readonly string[]> => {
      try {
        credentials = await context.seedDemo(platform);
        // Printed once the platform listens, with the wallet's URL.
        return [];
      } catch (error) {
        throw startupError(`cannot seed the demo data: ${describeError(error)}`);
      }
    };
    const startSite: StartedStep = async (platform, platformUrl) => {
      const user = credentials?.users[0];
      if (credentials === undefined || user === undefined) throw new Error('bug: no demo user');
      const walletLogIn = platform.webAppsServed ? `${platformUrl}/wallet/login/` : undefined;
      const dashboardLogIn = platform.webAppsServed ? `${platformUrl}/dashboard/login/` : undefined;
      const consoleLogIn = platform.webAppsServed ? `${platformUrl}/console/login/` : undefined;
      const sites = await startDemoSites(credentials, {
        platformUrl,
        host: options.host,
        dataDir: options.dataDir,
      });
      const mite = context.miteCommand ?? 'mite';
      const lines = [
        ...formatDemoCredentials(credentials, walletLogIn, dashboardLogIn, consoleLogIn),
        '',
        ...demoSiteLines(sites.news, platformUrl, user, mite),
        '',
        ...demoShopLines(sites),
        '',
        ...demoRadioLines(sites.radio, mite),
      ];
      return { lines, close: () => sites.close() };
    };
    setExitCode(await runPlatform(options, context, seed, startSite));
  });
}

interface DemoSites {
  readonly news: DemoSite;
  readonly gameShop: { readonly url: string };
  readonly tipJar: { readonly url: string };
  readonly radio: DemoRadio;
  close(): Promise<void>;
}

/** The news site, the game shop and the tip jar, each selling for its demo merchant. */
async function startDemoSites(
  credentials: DemoCredentials,
  where: { readonly platformUrl: string; readonly host: string; readonly dataDir: string },
): Promise<DemoSites> {
  const merchantOf = (name: string) => {
    const merchant = credentials.merchants.find((seeded) => seeded.name === name);
    if (merchant === undefined) throw new Error(`bug: no demo merchant ${name}`);
    return merchant;
  };
  const merchantId = (name: string) => merchantOf(name).merchantId;
  const offersOf = (name: string) => credentials.offers.filter((offer) => offer.merchant === name);
  // The news site takes tokens (privacy mode's purchases). The game shop and the tip jar sell
  // platform offers, the tip jar's shared between two creators: a token deposit pays the
  // depositing merchant alone and names no offer, so they take receipts only.
  const news = await startDemoSite({
    ...where,
    merchantId: merchantId('The Daily Mite'),
    apiKey: merchantOf('The Daily Mite').apiKey,
  });
  const gameShop = await startGameShop({
    ...where,
    merchantId: merchantId(demoGameShopName),
    items: gameShopItems(offersOf(demoGameShopName)),
  });
  const tipJar = await startTipJar({
    ...where,
    merchantId: merchantId(demoTipJar.seller),
    tips: tipJarTips(offersOf(demoTipJar.seller)),
    creators: demoTipJar,
  });
  const radio = await startDemoRadio({
    ...where,
    merchantId: merchantId(demoRadioName),
    apiKey: merchantOf(demoRadioName).apiKey,
  });
  return {
    news,
    gameShop,
    tipJar,
    radio,
    close: async () => {
      await Promise.all([news.close(), gameShop.close(), tipJar.close(), radio.close()]);
    },
  };
}

/** Where the metered site is, and how to pay it by the second from a terminal. */
export function demoRadioLines(radio: DemoRadio, mite: string): string[] {
  return [
    `Demo radio (songs paid by the second, an API by the call, through payment sessions): ${radio.url}`,
    `  listen from a terminal (logged in as above): ${mite} pay --stream '${radio.songUrl}'`,
    `  the metered API: ${radio.apiUrl}`,
  ];
}

/** Where the game shop and the tip jar are. */
export function demoShopLines(sites: {
  readonly gameShop: { readonly url: string };
  readonly tipJar: { readonly url: string };
}): string[] {
  return [
    `Demo game shop (items and gem packs, bought in the platform's payment window): ${sites.gameShop.url}`,
    `Demo tip jar (tips shared by two creators through a revenue split): ${sites.tipJar.url}`,
  ];
}

/**
 * Where the paid articles are, and the two commands that buy one from a terminal, written with
 * `mite` (how this very command runs from any folder: invocation.ts) so that they work as printed.
 */
export function demoSiteLines(
  site: DemoSite,
  platformUrl: string,
  user: { email: string; password: string },
  mite: string,
): string[] {
  const lines = [
    `Demo merchant site (paid articles behind the HTTP 402 middleware): ${site.url}`,
    `  an article:  ${site.articleUrl}`,
    '  read it in a browser: open that URL and press Pay (the paywall pays from the wallet)',
    '  buy it from a terminal (from any folder):',
    `    MITE_PASSWORD='${user.password}' ${mite} login --platform ${platformUrl} --email ${user.email}`,
    `    ${mite} pay ${site.articleUrl}`,
  ];
  if (mite !== 'mite') {
    lines.push(
      '  (to type just `mite`, put it on your PATH: `npm link -w packages/cli`, see README.md)',
    );
  }
  return lines;
}

/**
 * The demo credentials as banner lines, in aligned columns; users log in to the wallet at
 * `walletLogIn` (undefined when the web apps are not built) or through the API.
 */
export function formatDemoCredentials(
  credentials: DemoCredentials,
  walletLogIn: string | undefined,
  dashboardLogIn?: string,
  consoleLogIn?: string,
): string[] {
  return [
    'Demo credentials, for a local sandbox only (published, never for real money or real data):',
    walletLogIn === undefined
      ? '  users (log in with POST /v1/sessions):'
      : `  users (log in to the wallet at ${walletLogIn}, or with POST /v1/sessions):`,
    ...columns([
      ['email', 'password', 'starting balance'],
      ...credentials.users.map((user) => [user.email, user.password, user.balance]),
    ]),
    '  merchants (API key as a Bearer token):',
    ...columns([
      ['name', 'merchant id', 'API key'],
      ...credentials.merchants.map((merchant) => [
        merchant.name,
        merchant.merchantId,
        merchant.apiKey,
      ]),
    ]),
    dashboardLogIn === undefined
      ? '  merchants\u2019 owners (log in to a merchant\u2019s dashboard with POST /v1/merchant-sessions):'
      : `  merchants\u2019 owners (log in to the dashboard at ${dashboardLogIn}, or with POST /v1/merchant-sessions):`,
    ...columns([
      ['email', 'password', 'merchant'],
      ...credentials.merchantPeople.map((person) => [
        person.email,
        person.password,
        person.merchant,
      ]),
    ]),
    consoleLogIn === undefined
      ? '  operators (log in to the console with POST /v1/operator-sessions):'
      : `  operators (log in to the console at ${consoleLogIn}, or with POST /v1/operator-sessions):`,
    ...columns([
      ['email', 'password'],
      ...credentials.operators.map((operator) => [operator.email, operator.password]),
    ]),
    '  offers:',
    ...columns([
      ['offer id', 'price', 'title', 'merchant'],
      ...credentials.offers.map((offer) => [
        offer.offerId,
        offer.price,
        offer.title,
        offer.merchant,
      ]),
    ]),
  ];
}

/** Rows as lines indented by four spaces, each column padded to its widest cell. */
function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    `    ${row.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ')}`.trimEnd(),
  );
}
