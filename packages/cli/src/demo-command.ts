import type { DemoCredentials, Platform } from '@mite/server';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { describeError } from './errors.ts';
import { DEMO_DATA_DIR } from './options.ts';
import {
  type PlatformFlags,
  resolveRunOptions,
  runPlatform,
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
    const options = resolveRunOptions(flags, context, DEMO_DATA_DIR);
    const seed = async (platform: Platform): Promise<readonly string[]> => {
      try {
        return formatDemoCredentials(await context.seedDemo(platform));
      } catch (error) {
        throw startupError(`cannot seed the demo data: ${describeError(error)}`);
      }
    };
    setExitCode(await runPlatform(options, context, seed));
  });
}

/** The demo credentials as banner lines, in aligned columns. */
export function formatDemoCredentials(credentials: DemoCredentials): string[] {
  return [
    'Demo credentials, for a local sandbox only (published, never for real money or real data):',
    '  users (log in with POST /v1/sessions):',
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
