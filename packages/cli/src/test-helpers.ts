/** Helpers for the CLI's tests: the real `mite` in a child process, real SQLite ledgers. */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedger } from '@mite/ledger';
import { parseAmount } from '@mite/protocol';
import { createPlatform, noRiskRules, seedDemo } from '@mite/server';
import { tempDir } from '@mite/testkit';
import Database from 'better-sqlite3';
import { bundleToScratch, type ScratchBundle } from './build.ts';
import type { CliContext, ShutdownSignal } from './cli-context.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const BUILD_ROOT = fileURLToPath(new URL('../.build/', import.meta.url));

/** Variables that would make a test depend on the developer's environment. */
const MITE_VARIABLES = ['MITE_DATABASE_URL', 'MITE_PORT', 'MITE_LOG_LEVEL', 'MITE_MASTER_KEY'];

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Builds `mite` as `npm run build` does, into a fresh directory under packages/cli/.build (which
 * tests delete when done), and returns the file.
 */
export function buildCliBundle(): Promise<ScratchBundle> {
  return bundleToScratch(MAIN, BUILD_ROOT);
}

/**
 * Starts `mite ...args` from the repository root: from the sources (`node --import tsx
 * packages/cli/src/main.ts`), or from a built bundle (`buildCliBundle`) when `bundleFile` is set.
 */
export function spawnCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  bundleFile?: string,
): ChildProcess {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of MITE_VARIABLES) if (!(name in env)) delete childEnv[name];
  const entry = bundleFile === undefined ? ['--import', 'tsx', MAIN] : [bundleFile];
  return spawn(process.execPath, [...entry, ...args], {
    cwd: REPO_ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A child process with everything it prints so far, and its outcome once it has exited. */
export interface RunningCli {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  /** Resolves once the process has exited and its output streams are closed. */
  readonly exited: Promise<CliRun>;
}

/** Starts the command and keeps collecting its output. */
export function startCli(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  bundleFile?: string,
): RunningCli {
  const child = spawnCli(args, env, bundleFile);
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
      resolve({ code, signal, ...output }),
    );
  });
  return { child, output, exited };
}

/** Runs the command to completion. */
export function runCliProcess(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<CliRun> {
  return startCli(args, env).exited;
}

/** Time `mite serve` gets to print its banner in tests. */
const READY_TIMEOUT_MS = 20_000;

/**
 * Waits for `mite serve` to print its banner and returns the base URL. Rejects with what the
 * process printed if it exits first or takes too long.
 */
export function waitForUrl(cli: RunningCli): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const stdout = cli.child.stdout;
    // Runs after startCli's own listener has added the chunk to cli.output.
    const check = (): void => {
      const match = /^Mite is running: (http:\/\/\S+)$/m.exec(cli.output.stdout);
      if (match?.[1] === undefined) return;
      done();
      resolve(match[1]);
    };
    const fail = (exited: boolean) => () => {
      done();
      const { stdout: out, stderr } = cli.output;
      reject(new Error(`mite serve did not become ready (exited: ${exited}): ${out}${stderr}`));
    };
    // A timer for a child process that may never print: it runs on its own clock, not ours.
    const timer = setTimeout(fail(false), READY_TIMEOUT_MS);
    const onExit = fail(true);
    const done = (): void => {
      clearTimeout(timer);
      stdout?.off('data', check);
    };
    stdout?.on('data', check);
    cli.exited.then(onExit, onExit);
    check();
  });
}

/** Whether a process with this id still exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Account ids and balances of the ledger `createSqliteLedger` writes. */
export const SAMPLE = { debitAccountId: 1n, creditAccountId: 2n, ledger: 1, amount: 10n } as const;

/**
 * A real SQLite ledger at `file`: two accounts on ledger 1 and one transfer of `SAMPLE.amount`
 * from the first to the second, closed again.
 */
export async function createSqliteLedger(file: string): Promise<void> {
  const ledger = await openLedger({ url: `sqlite:${file}` });
  try {
    const { debitAccountId, creditAccountId, amount, ledger: ledgerId } = SAMPLE;
    const accounts = [debitAccountId, creditAccountId].map((id) => ({
      id,
      ledger: ledgerId,
      code: 1,
    }));
    assert.deepEqual(await ledger.createAccounts(accounts), ['ok', 'ok']);
    const transfer = { id: 1n, debitAccountId, creditAccountId, amount, ledger: ledgerId, code: 1 };
    assert.deepEqual(await ledger.createTransfers([transfer]), ['ok']);
  } finally {
    await ledger.close();
  }
}

/**
 * Overwrites an account's stored `credits_posted` behind the ledger's back, the way a bad disk or
 * a stray hand-written UPDATE would. The ledger must be closed.
 */
export function tamperCreditsPosted(file: string, accountId: bigint, creditsPosted: bigint): void {
  const db = new Database(file);
  try {
    const result = db
      .prepare('UPDATE accounts SET credits_posted = ? WHERE id = ?')
      .run(sqlU128(creditsPosted), sqlU128(accountId));
    assert.equal(result.changes, 1, `no account ${accountId} in ${file}`);
  } finally {
    db.close();
  }
}

/**
 * A u128 as the ledger's SQLite schema stores it: an INTEGER below 2^63, else 16 bytes,
 * big-endian (written out here rather than imported, so the test pins the stored format).
 */
function sqlU128(value: bigint): bigint | Buffer {
  if (value < 1n << 63n) return value;
  const bytes = Buffer.alloc(16);
  bytes.writeBigUInt64BE(value >> 64n, 0);
  bytes.writeBigUInt64BE(value & 0xffff_ffff_ffff_ffffn, 8);
  return bytes;
}

/**
 * A context for running `runCli` in process with the real `openLedger`, `createPlatform` and
 * `seedDemo`, recording what the command
 * prints and delivering shutdown signals on request.
 */
export interface TestContext extends CliContext {
  readonly out: string[];
  readonly err: string[];
  /** Delivers a shutdown signal to a `mite serve` waiting for one. */
  readonly sendSignal: (signal: ShutdownSignal) => void;
  /** Resolves once the command has printed `text` to standard output (on its writing, not a timer). */
  readonly printed: (text: string) => Promise<void>;
}

export function createTestContext(
  options: { readonly env?: Readonly<Record<string, string>>; readonly cwd?: string } = {},
): TestContext {
  const out: string[] = [];
  const err: string[] = [];
  let deliver: ((signal: ShutdownSignal) => void) | undefined;
  const waiting: { text: string; wake: () => void }[] = [];
  const wakeWhoseTextCame = (): void => {
    const all = out.join('');
    for (const waiter of waiting.filter((w) => all.includes(w.text))) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.wake();
    }
  };
  return {
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    out,
    err,
    writeOut: (text) => {
      out.push(text);
      wakeWhoseTextCame();
    },
    printed: (text) =>
      out.join('').includes(text)
        ? Promise.resolve()
        : new Promise((wake) => waiting.push({ text, wake })),
    writeErr: (text) => err.push(text),
    openLedger,
    createPlatform,
    seedDemo,
    waitForShutdownSignal: () =>
      new Promise((resolve) => {
        deliver = resolve;
      }),
    sendSignal: (signal) => deliver?.(signal),
  };
}

type Json = Record<string, unknown>;

/** An API answer: its status and JSON body. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: Json;
}

/** One call to a running platform's API, as a client makes it. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; key?: string } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.key !== undefined) headers['idempotency-key'] = options.key;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** A POST that must answer 201; its body. */
export async function created(
  base: string,
  path: string,
  options: { token?: string; body?: unknown; key?: string },
): Promise<Json> {
  const { status, body } = await call(base, 'POST', path, options);
  assert.equal(status, 201, `POST ${path}: ${JSON.stringify(body)}`);
  return body;
}

/** An amount from the wire, in micro-units. */
export function micros(amount: unknown): bigint {
  const parsed = parseAmount(String(amount));
  assert.ok(parsed.ok, `not an amount: ${String(amount)}`);
  return parsed.value;
}

/**
 * A file holding a rule set that stops nothing, for `MITE_RISK_RULES_FILE`: load tests of
 * `mite serve` pay many times a minute from one address, which the default risk rules rightly
 * challenge (the rules have their own tests, in packages/server/src/risk/).
 */
export function noRiskRulesFile(): string {
  const file = path.join(tempDir('mite-risk-rules-'), 'no-risk-rules.json');
  writeFileSync(file, JSON.stringify(noRiskRules));
  return file;
}
