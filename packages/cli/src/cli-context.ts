import type { Ledger, LedgerOptions } from '@mite/ledger';
import type { DemoCredentials, Platform, PlatformOptions } from '@mite/server';

/** A signal that asks `mite serve` to stop. */
export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

/**
 * Everything a command touches outside itself. `main.ts` builds it from the real process; tests
 * can build their own.
 */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * How a person runs this same `mite` from any folder (`mite`, or `node /abs/path/mite.mjs`),
   * for the commands the banner prints; `mite` when not given. See invocation.ts.
   */
  readonly miteCommand?: string;
  /** Writes text to standard output as is (add the newline yourself). */
  readonly writeOut: (text: string) => void;
  /** Writes text to standard error as is (add the newline yourself). */
  readonly writeErr: (text: string) => void;
  /** `openLedger` from `@mite/ledger`. */
  readonly openLedger: (options: LedgerOptions) => Promise<Ledger>;
  /** `createPlatform` from `@mite/server`. */
  readonly createPlatform: (options: PlatformOptions) => Promise<Platform>;
  /** `seedDemo` from `@mite/server`. */
  readonly seedDemo: (platform: Platform) => Promise<DemoCredentials>;
  /**
   * Asks the person at the terminal a question and resolves with their line; absent when no one
   * is there to answer (standard input or error is not a terminal), so a command never waits on
   * a pipe.
   */
  readonly ask?: ((question: string) => Promise<string>) | undefined;
  /** Starts listening for SIGINT and SIGTERM; resolves with the first one that arrives. */
  readonly waitForShutdownSignal: () => Promise<ShutdownSignal>;
}
