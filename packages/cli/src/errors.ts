/** Exit codes of the `mite` command. */
export const exitCodes = {
  ok: 0,
  /** `mite serve` or `mite demo` could not start; `mite verify` found problems. */
  failure: 1,
  /** Bad arguments or environment; `mite verify` could not open or read the ledger. */
  usage: 2,
} as const;

/** An expected failure: reported as one line on stderr, then the process exits with `exitCode`. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  readonly exitCode: number;

  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Bad arguments or environment variables: exit code 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super(message, exitCodes.usage);
  }
}

/**
 * One line for the terminal: the error's message without its stack, newlines folded, and every
 * secret replaced by `***`.
 */
export function describeError(error: unknown, secrets: readonly string[] = []): string {
  const message = error instanceof Error ? error.message : String(error);
  let line = message.replace(/\s*\n\s*/g, ' ').trim();
  for (const secret of secrets) {
    if (secret !== '') line = line.replaceAll(secret, '***');
  }
  return line === '' ? 'unknown error' : line;
}

/** The `code` of a Node.js system error (`EADDRINUSE`, `ENOTDIR`...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
