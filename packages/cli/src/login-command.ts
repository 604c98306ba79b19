import { isSecureOrLoopback } from '@mite/protocol';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import { configDir, defaultBudget, saveWalletSession } from './wallet-session.ts';

interface LoginFlags {
  readonly platform: string;
  readonly email: string;
  readonly maxPerPayment?: string;
  readonly maxPerOriginPerDay?: string;
  readonly maxTotal?: string;
}

/** The password and then the session travel to the platform: https, or plain http on the loopback. */
function checkPlatformUrl(platformUrl: string): void {
  let url: URL;
  try {
    url = new URL(platformUrl);
  } catch {
    throw new UsageError(`--platform: not a URL: ${platformUrl}`);
  }
  if (!isSecureOrLoopback(url)) {
    throw new UsageError(
      `--platform ${platformUrl} is not https: Mite sends passwords and payments over https only ` +
        '(plain http only on the loopback: localhost, 127.0.0.0/8, [::1])',
    );
  }
}

/**
 * `mite login`: logs in to a platform and stores the wallet session (and the budget) for
 * `mite pay`. The password comes from MITE_PASSWORD, never from an argument, which other users
 * of the machine could read in the process list.
 */
export function createLoginCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  return new Command('login')
    .description('log in to a Mite platform and keep the wallet session for `mite pay`')
    .requiredOption('--platform <url>', 'the platform, e.g. http://127.0.0.1:8080')
    .requiredOption('--email <email>', 'the account to log in as (password: MITE_PASSWORD)')
    .option(
      '--max-per-payment <amount>',
      `largest single payment (default ${defaultBudget.maxPerPayment})`,
    )
    .option(
      '--max-per-origin-per-day <amount>',
      `most spent at one site in a day (default ${defaultBudget.maxPerOriginPerDay})`,
    )
    .option('--max-total <amount>', `most spent in all (default ${defaultBudget.maxTotal})`)
    .action(async (flags: LoginFlags) => {
      const password = context.env.MITE_PASSWORD;
      if (password === undefined || password === '') {
        throw new UsageError('set MITE_PASSWORD to the account password');
      }
      const platformUrl = flags.platform.replace(/\/+$/, '');
      checkPlatformUrl(platformUrl);
      const response = await fetch(`${platformUrl}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: flags.email, password }),
      }).catch((error: unknown) => {
        throw new CliError(`cannot reach ${platformUrl}: ${String(error)}`, exitCodes.failure);
      });
      const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
      if (response.status !== 201 || typeof body.token !== 'string') {
        throw new CliError(
          `login refused (${response.status}): ${String(body.title ?? body.detail ?? 'unknown')}`,
          exitCodes.failure,
        );
      }
      const dir = configDir(context.env);
      saveWalletSession(dir, {
        platformUrl,
        email: flags.email,
        token: body.token,
        expiresAt: String(body.expiresAt),
        budget: {
          maxPerPayment: flags.maxPerPayment ?? defaultBudget.maxPerPayment,
          maxPerOriginPerDay: flags.maxPerOriginPerDay ?? defaultBudget.maxPerOriginPerDay,
          maxTotal: flags.maxTotal ?? defaultBudget.maxTotal,
        },
      });
      context.writeOut(`logged in to ${platformUrl} as ${flags.email}; session kept in ${dir}\n`);
      setExitCode(exitCodes.ok);
    });
}
