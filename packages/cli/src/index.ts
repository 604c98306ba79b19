export type { CliContext, ShutdownSignal } from './cli-context.ts';
export { createProgram, runCli } from './create-program.ts';
