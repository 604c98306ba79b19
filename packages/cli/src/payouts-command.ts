import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { exitCodes } from './errors.ts';
import { DEFAULT_DATA_DIR } from './options.ts';
import { resolveRunOptions, startPlatform } from './run-platform.ts';

interface PayoutsFlags {
  readonly dataDir?: string;
  readonly json?: boolean;
}

/** Micro-units as a decimal string of dollars; the CLI prints, it does not compute. */
function dollars(micros: bigint): string {
  const cents = micros / 10_000n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/**
 * `mite payouts run`: pays every merchant past its payout threshold in one batch and writes the
 * bank files (ISO 20022 pain.001 and CSV), finishing first any batch a crash left half done.
 * It opens the stores itself, so it runs while `mite serve` is stopped; against a running
 * server the same is `POST /v1/payout-runs` with an admin key.
 */
export function createPayoutsCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const payouts = new Command('payouts').description('merchant payouts');
  payouts
    .command('run')
    .description('pay every merchant past its threshold, and write the bank files')
    .option('--data-dir <dir>', `data directory (default: ./${DEFAULT_DATA_DIR})`)
    .option('--json', 'print the result as JSON')
    .action(async (flags: PayoutsFlags) => {
      setExitCode(await run(flags, context));
    });
  return payouts;
}

async function run(flags: PayoutsFlags, context: CliContext): Promise<number> {
  const options = resolveRunOptions({ host: '127.0.0.1', ...flags }, context, DEFAULT_DATA_DIR);
  const platform = await startPlatform(options, context);
  try {
    const result = await platform.services.payouts.runPayouts({
      onProgress: ({ batchId, done, total }) =>
        context.writeErr(`${batchId}: ${done}/${total} payouts\n`),
    });
    if (flags.json === true) {
      context.writeOut(
        `${JSON.stringify(result, (_key, value) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`,
      );
    } else if (result.nothingDue) {
      context.writeOut('No merchant is due a payout.\n');
    } else {
      const paid = result.payouts.filter((payout) => payout.state === 'paid').length;
      context.writeOut(
        `Payout batch ${result.batchId}: ${paid} of ${result.payouts.length} payouts paid, ` +
          `${dollars(result.totalMicros)} USD in all.\n` +
          `Bank files: GET /v1/payout-batches/${result.batchId}/pain.001.xml and /payouts.csv\n`,
      );
    }
    if (flags.json !== true) {
      for (const held of result.held) {
        context.writeOut(
          `Held: ${held.merchantId}, whose bank details changed at ` +
            `${new Date(held.bankDetailsChangedAtMs).toISOString()}, is paid from ` +
            `${new Date(held.heldUntilMs).toISOString()} (MITE_BANK_CHANGE_HOLD_HOURS).\n`,
        );
      }
      for (const frozen of result.frozen) {
        context.writeOut(
          `Frozen: ${frozen.merchantId}, frozen at ${new Date(frozen.frozenAtMs).toISOString()} ` +
            'after a confirmed fraud, keeps its balance until the freeze is lifted.\n',
        );
      }
    }
    for (const batchId of result.resumedBatchIds) {
      context.writeOut(`Finished batch ${batchId}, which an earlier run had left half done.\n`);
    }
    return exitCodes.ok;
  } finally {
    await platform.close();
  }
}
