import { Command, CommanderError } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, describeError, exitCodes } from './errors.ts';
import { createAdminCommand } from './admin-command.ts';
import { createDemoCommand } from './demo-command.ts';
import { createFeeReportCommand } from './fee-report-command.ts';
import { createLoginCommand } from './login-command.ts';
import { createPayCommand } from './pay-command.ts';
import { createPayoutsCommand } from './payouts-command.ts';
import { createServeCommand } from './serve-command.ts';
import { createTokensCommand } from './tokens-command.ts';
import { createVerifyCommand } from './verify-command.ts';

export const PROGRAM_NAME = 'mite';
const VERSION = '0.1.0';

/**
 * The `mite` program. Commands report their exit code through `setExitCode`; commander's own
 * errors are thrown (exitOverride) so that `runCli` decides how the process ends.
 */
export function createProgram(context: CliContext, setExitCode: (code: number) => void): Command {
  const program = new Command(PROGRAM_NAME)
    .description('Mite, a self-hostable micropayment platform')
    .version(VERSION, '-v, --version')
    .configureOutput({
      writeOut: context.writeOut,
      writeErr: context.writeErr,
      outputError: (message, write) => write(`${PROGRAM_NAME}: ${message.replace(/^error: /, '')}`),
    })
    .exitOverride();
  for (const command of [
    createServeCommand(context, setExitCode),
    createDemoCommand(context, setExitCode),
    createVerifyCommand(context, setExitCode),
    createPayoutsCommand(context, setExitCode),
    createAdminCommand(context, setExitCode),
    createFeeReportCommand(context, setExitCode),
    createLoginCommand(context, setExitCode),
    createPayCommand(context, setExitCode),
    createTokensCommand(context, setExitCode),
  ]) {
    // addCommand does not pass on the output and exit settings the way .command() does.
    program.addCommand(command.copyInheritedSettings(program));
  }
  return program;
}

/** Runs `mite` with these arguments (without node and the script) and returns the exit code. */
export async function runCli(args: readonly string[], context: CliContext): Promise<number> {
  let exitCode: number = exitCodes.ok;
  const program = createProgram(context, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, context);
  }
}

function reportError(error: unknown, context: CliContext): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help or version it was asked for).
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
  }
  context.writeErr(`${PROGRAM_NAME}: ${describeError(error)}\n`);
  return error instanceof CliError ? error.exitCode : exitCodes.failure;
}
