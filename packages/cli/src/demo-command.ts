import type { DemoCredentials, Platform } from '@mite/server';
import { type DemoSite, startDemoSite } from './demo-site.ts';
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
      const merchant = credentials?.merchants[0];
      const user = credentials?.users[0];
      if (credentials === undefined || merchant === undefined || user === undefined) {
        throw new Error('bug: no demo merchant');
      }
      const walletLogIn = platform.webAppsServed ? `${platformUrl}/wallet/login/` : undefined;
      const dashboardLogIn = platform.webAppsServed ? `${platformUrl}/dashboard/login/` : undefined;
      const site = await startDemoSite({
        platformUrl,
        merchantId: merchant.merchantId,
        host: options.host,
        dataDir: options.dataDir,
      });
      const mite = context.miteCommand ?? 'mite';
      const lines = [
        ...formatDemoCredentials(credentials, walletLogIn, dashboardLogIn),
        '',
        ...demoSiteLines(site, platformUrl, user, mite),
      ];
      return { lines, close: () => site.close() };
    };
    setExitCode(await runPlatform(options, context, seed, startSite));
  });
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
    '  operators (log in to the console with POST /v1/operator-sessions):',
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
