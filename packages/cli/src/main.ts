/**
 * The `mite` command's entry point: builds the context from the real process, runs the command and
 * exits with its code. `npm start` builds it (scripts/build.ts) and runs
 * `node packages/cli/dist/mite.mjs demo`; `npm run mite -- ...` and `npx mite ...` (the package's
 * `bin`, bin/mite.js) run it from the sources.
 */
import type { CliContext, ShutdownSignal } from './cli-context.ts';
import { runCli } from './create-program.ts';
import { miteCommandFor } from './invocation.ts';

const SHUTDOWN_SIGNALS: readonly ShutdownSignal[] = ['SIGINT', 'SIGTERM'];

function createProcessContext(): CliContext {
  return {
    env: process.env,
    cwd: process.cwd(),
    miteCommand: miteCommandFor(process.argv[1], process.env.PATH),
    writeOut: (text) => process.stdout.write(text),
    writeErr: (text) => process.stderr.write(text),
    // Loaded on first use, so that `mite --help` works even where the native SQLite module does not,
    // and does not load the server stack.
    openLedger: async (options) => (await import('@mite/ledger')).openLedger(options),
    createPlatform: async (options) => (await import('@mite/server')).createPlatform(options),
    seedDemo: async (platform) => (await import('@mite/server')).seedDemo(platform),
    ask: process.stdin.isTTY && process.stderr.isTTY ? askAtTerminal : undefined,
    waitForShutdownSignal,
  };
}

/** One question on standard error, one line of answer from standard input. */
async function askAtTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}

/**
 * Resolves on the first SIGINT or SIGTERM, then restores the default handlers, so that a second
 * signal stops a shutdown that hangs.
 */
function waitForShutdownSignal(): Promise<ShutdownSignal> {
  return new Promise((resolve) => {
    const onSignal = (signal: ShutdownSignal): void => {
      for (const name of SHUTDOWN_SIGNALS) process.off(name, onSignal);
      resolve(signal);
    };
    for (const name of SHUTDOWN_SIGNALS) process.on(name, onSignal);
  });
}

process.exit(await runCli(process.argv.slice(2), createProcessContext()));
