import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { DEFAULT_DATA_DIR } from './options.ts';
import {
  type PlatformFlags,
  resolveRunOptions,
  runPlatform,
  withPlatformOptions,
} from './run-platform.ts';

/** `mite serve`: runs the platform until SIGINT or SIGTERM. */
export function createServeCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const command = new Command('serve').description(
    'run the Mite platform (embedded SQLite unless MITE_DATABASE_URL is set)',
  );
  return withPlatformOptions(command, DEFAULT_DATA_DIR)
    .option(
      '--sandbox-funding',
      'take top-ups through the sandbox card processor: test cards, no real money (also MITE_FUNDING_PROVIDER=sandbox)',
    )
    .action(async (flags: PlatformFlags) => {
      setExitCode(await runPlatform(resolveRunOptions(flags, context, DEFAULT_DATA_DIR), context));
    });
}
