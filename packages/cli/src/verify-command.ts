import { access } from 'node:fs/promises';
import type { Ledger, VerifyReport } from '@mite/ledger';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { redactDatabaseUrl, resolveDatabaseUrl, secretsOf } from './database-url.ts';
import { CliError, describeError, exitCodes, UsageError } from './errors.ts';
import { resolveDataDir } from './options.ts';

interface VerifyFlags {
  readonly dataDir?: string;
  readonly databaseUrl?: string;
  readonly json?: boolean;
}

/** `mite verify`: checks the ledger's invariants; exit 0 when clean, 1 with problems, 2 on errors. */
export function createVerifyCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  return new Command('verify')
    .description("check the ledger's invariants (exit 0: ok, 1: problems, 2: cannot check)")
    .option('--data-dir <dir>', 'data directory of the embedded SQLite ledger (default: ./.mite)')
    .option('--database-url <url>', 'database to check (default: MITE_DATABASE_URL, else SQLite)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: VerifyFlags) => {
      setExitCode(await verify(flags, context));
    });
}

async function verify(flags: VerifyFlags, context: CliContext): Promise<number> {
  const dataDir = resolveDataDir(flags.dataDir, context.cwd);
  const explicitUrl = flags.databaseUrl ?? context.env.MITE_DATABASE_URL;
  const { url, isDefault } = resolveDatabaseUrl(explicitUrl, dataDir);
  if (isDefault) await requireExistingFile(url.slice('sqlite:'.length));
  const ledger = await openLedgerForVerify(context, url);
  let report: VerifyReport;
  try {
    report = await ledger.verify();
  } catch (error) {
    const detail = describeError(error, secretsOf(url));
    throw new CliError(`cannot verify the ledger: ${detail}`, exitCodes.usage);
  } finally {
    await ledger.close();
  }
  context.writeOut(formatReport(report, redactDatabaseUrl(url), flags.json === true));
  return report.ok ? exitCodes.ok : exitCodes.failure;
}

/** Refuses to verify a ledger that does not exist, rather than creating an empty one. */
async function requireExistingFile(file: string): Promise<void> {
  try {
    await access(file);
  } catch {
    throw new UsageError(
      `no ledger at ${file} (start one with \`mite serve\`, or pass --data-dir or --database-url)`,
    );
  }
}

/**
 * Opens the ledger without its own check on open, which would refuse a store whose balances
 * disagree: reporting exactly those problems is what `mite verify` is for.
 */
async function openLedgerForVerify(context: CliContext, url: string): Promise<Ledger> {
  try {
    return await context.openLedger({ url, verifyOnOpen: false });
  } catch (error) {
    const detail = describeError(error, secretsOf(url));
    const message = `cannot open the ledger at ${redactDatabaseUrl(url)}: ${detail}`;
    throw new CliError(message, exitCodes.usage);
  }
}

function formatReport(report: VerifyReport, database: string, json: boolean): string {
  if (json) {
    return `${JSON.stringify({ ok: report.ok, database, problems: report.problems }, null, 2)}\n`;
  }
  if (report.ok) return 'ok\n';
  const count = `${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`;
  return [`${count} in ${database}:`, ...report.problems.map((p) => `- ${p}`), ''].join('\n');
}
