import { currency, formatLedgerAmount } from '@mite/protocol';
import { Command, InvalidArgumentError } from 'commander';
import type { CliContext } from './cli-context.ts';
import { exitCodes } from './errors.ts';
import { DEFAULT_DATA_DIR } from './options.ts';
import { resolveRunOptions, startPlatform } from './run-platform.ts';

/** Named by commander after the flags `--from` and `--to`; both are milliseconds since the epoch. */
interface FeeReportFlags {
  readonly from: number;
  readonly to: number;
  readonly dataDir?: string;
  readonly json?: boolean;
}

function parseDate(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError('Expected a date, like 2026-11-01.');
  return ms;
}

/**
 * `mite fee-report --from DATE --to DATE`: the card fees paid through top-ups in the period,
 * against what the same purchases would have cost as individual card payments.
 */
export function createFeeReportCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  return new Command('fee-report')
    .description('card fees through top-ups against paying each purchase by card')
    .requiredOption('--from <date>', 'start of the period (inclusive)', parseDate)
    .requiredOption('--to <date>', 'end of the period (exclusive)', parseDate)
    .option('--data-dir <dir>', `data directory (default: ./${DEFAULT_DATA_DIR})`)
    .option('--json', 'print the report as JSON')
    .action(async (flags: FeeReportFlags) => {
      setExitCode(await report(flags, context));
    });
}

async function report(flags: FeeReportFlags, context: CliContext): Promise<number> {
  const options = resolveRunOptions({ host: '127.0.0.1', ...flags }, context, DEFAULT_DATA_DIR);
  const platform = await startPlatform(options, context);
  try {
    const result = await platform.services.topUps.feeReport({ fromMs: flags.from, toMs: flags.to });
    if (flags.json === true) {
      const replacer = (_key: string, value: unknown) =>
        typeof value === 'bigint' ? value.toString() : value;
      context.writeOut(`${JSON.stringify(result, replacer, 2)}\n`);
      return exitCodes.ok;
    }
    context.writeOut(
      [
        `From ${new Date(flags.from).toISOString()} to ${new Date(flags.to).toISOString()}:`,
        `  card fees paid on ${result.topUpCount} top-ups:        ${formatLedgerAmount(result.topUpFeeMicros)} ${currency}`,
        `  card fees if ${result.paymentCount} purchases were card payments: ${formatLedgerAmount(result.perPaymentCardFeeMicros)} ${currency}`,
        `  saved by prepaid wallets:                ${formatLedgerAmount(result.savingMicros)} ${currency}`,
        '',
      ].join('\n'),
    );
    return exitCodes.ok;
  } finally {
    await platform.close();
  }
}
