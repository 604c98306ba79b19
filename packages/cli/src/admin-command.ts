import type { Failure } from '@mite/protocol';
import type { Platform } from '@mite/server';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes } from './errors.ts';
import { DEFAULT_DATA_DIR } from './options.ts';
import { resolveRunOptions, startPlatform } from './run-platform.ts';

interface AdminFlags {
  readonly dataDir?: string;
  readonly json?: boolean;
}

interface KeyLine {
  readonly keyId: string;
  readonly createdAtMs: number;
  readonly lastUsedAtMs: number | null;
  readonly revokedAtMs: number | null;
}

const isoOr = (ms: number | null, otherwise: string) =>
  ms === null ? otherwise : new Date(ms).toISOString();

/** One line a key: id, what it is, created, last used (to the minute), revoked. */
function keyTable<K extends KeyLine>(keys: readonly K[], describe: (key: K) => string): string {
  if (keys.length === 0) return 'No keys.\n';
  return keys
    .map(
      (key) =>
        `${key.keyId}  ${describe(key)}  created ${isoOr(key.createdAtMs, '-')}  ` +
        `last used ${isoOr(key.lastUsedAtMs, 'never')}  ` +
        `${key.revokedAtMs === null ? 'active' : `revoked ${isoOr(key.revokedAtMs, '')}`}\n`,
    )
    .join('');
}

/** Runs `work` on the platform in the data directory (or database), then closes it. */
async function withPlatform(
  flags: AdminFlags,
  context: CliContext,
  work: (platform: Platform) => Promise<string>,
): Promise<number> {
  const options = resolveRunOptions({ host: '127.0.0.1', ...flags }, context, DEFAULT_DATA_DIR);
  const platform = await startPlatform(options, context);
  try {
    context.writeOut(await work(platform));
    return exitCodes.ok;
  } finally {
    await platform.close();
  }
}

function refused(result: Failure<string>): never {
  throw new CliError(`${result.code}: ${result.detail ?? ''}`.trim(), exitCodes.failure);
}

const rotatedText = (keyId: string, secret: string, replaced: string) =>
  `Key ${replaced} is revoked. Its replacement, ${keyId} (shown only now):\n${secret}\n`;

function adminKeysCommand(context: CliContext, setExitCode: (code: number) => void): Command {
  const keys = new Command('keys').description("operators' admin keys");
  const run = (flags: AdminFlags, work: (platform: Platform) => Promise<string>) =>
    withPlatform(flags, context, work).then(setExitCode);
  withStoreOptions(keys.command('list').description('list admin keys, with their last use'))
    .option('--json', 'print them as JSON')
    .action(async (flags: AdminFlags) => {
      await run(flags, async (platform) => {
        const listed = await platform.services.adminKeys.list();
        if (flags.json === true) return `${JSON.stringify(listed, null, 2)}\n`;
        return keyTable(listed, (key) => JSON.stringify(key.label));
      });
    });
  withStoreOptions(
    keys.command('revoke <keyId>').description('revoke an admin key at once'),
  ).action(async (keyId: string, flags: AdminFlags) => {
    await run(flags, async (platform) => {
      const revoked = await platform.services.adminKeys.revoke(keyId);
      if (!revoked.ok) refused(revoked);
      return `Admin key ${keyId} is revoked.\n`;
    });
  });
  withStoreOptions(
    keys.command('rotate <keyId>').description('replace an admin key by a new secret'),
  ).action(async (keyId: string, flags: AdminFlags) => {
    await run(flags, async (platform) => {
      const rotated = await platform.services.adminKeys.rotate(keyId);
      if (!rotated.ok) refused(rotated);
      return rotatedText(rotated.value.keyId, rotated.value.secret, keyId);
    });
  });
  return keys;
}

function apiKeysCommand(context: CliContext, setExitCode: (code: number) => void): Command {
  const keys = new Command('api-keys').description("merchants' API keys");
  const run = (flags: AdminFlags, work: (platform: Platform) => Promise<string>) =>
    withPlatform(flags, context, work).then(setExitCode);
  withStoreOptions(keys.command('list <merchantId>').description("list a merchant's API keys"))
    .option('--json', 'print them as JSON')
    .action(async (merchantId: string, flags: AdminFlags) => {
      await run(flags, async (platform) => {
        const listed = await platform.services.merchants.listApiKeys(merchantId);
        if (!listed.ok) refused(listed);
        if (flags.json === true) return `${JSON.stringify(listed.value, null, 2)}\n`;
        return keyTable(listed.value, (key) => key.scopes.join(',') || '(no scopes)');
      });
    });
  withStoreOptions(
    keys.command('revoke <merchantId> <keyId>').description("revoke a merchant's API key"),
  ).action(async (merchantId: string, keyId: string, flags: AdminFlags) => {
    await run(flags, async (platform) => {
      const revoked = await platform.services.merchants.revokeApiKey(merchantId, keyId);
      if (!revoked.ok) refused(revoked);
      return `API key ${keyId} is revoked.\n`;
    });
  });
  withStoreOptions(
    keys.command('rotate <merchantId> <keyId>').description('replace an API key by a new secret'),
  ).action(async (merchantId: string, keyId: string, flags: AdminFlags) => {
    await run(flags, async (platform) => {
      const rotated = await platform.services.merchants.rotateApiKey(merchantId, keyId);
      if (!rotated.ok) refused(rotated);
      return rotatedText(rotated.value.keyId, rotated.value.secret, keyId);
    });
  });
  return keys;
}

function withStoreOptions(command: Command): Command {
  return command.option('--data-dir <dir>', `data directory (default: ./${DEFAULT_DATA_DIR})`);
}

/**
 * `mite admin keys list|revoke|rotate` and `mite admin api-keys list|revoke|rotate`: key
 * management on the stores directly (MITE_DATABASE_URL, or the data directory's SQLite files),
 * so that an operator who lost every admin key can still act. Against a running server the same
 * is /v1/admin-keys and /v1/merchants/{id}/api-keys with an admin key. A new secret is printed
 * once, by rotate; list shows ids, never secrets.
 */
export function createAdminCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const admin = new Command('admin').description('operator tasks on the stores');
  admin.addCommand(adminKeysCommand(context, setExitCode));
  admin.addCommand(apiKeysCommand(context, setExitCode));
  return admin;
}
