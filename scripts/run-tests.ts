/**
 * Runs every `*.test.ts` under packages/*\/src and bench/src with Node's test runner (whose `--test`
 * does not expand globs in Node 20).
 *
 *   node --import tsx scripts/run-tests.ts [FILTER...]
 *
 * A FILTER keeps the files whose path contains it (any of them, when several are given).
 *
 * Unless MITE_PG_URL is set already, one throwaway PostgreSQL cluster is started for the whole run
 * and its URL handed to every test file as MITE_PG_URL; each test creates its own database on it
 * with `freshPgDatabase()`. Without PostgreSQL installed its tests skip, unless MITE_REQUIRE_PG=1,
 * which makes this script fail at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type Dirent, readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPgBin, type PgCluster, startPgCluster } from '../packages/testkit/src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function log(message: string): void {
  process.stderr.write(`[run-tests] ${message}\n`);
}

function testFilesUnder(dir: string, found: string[]): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) testFilesUnder(path, found);
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path);
  }
}

function findTestFiles(): string[] {
  const found: string[] = [];
  const packages = join(root, 'packages');
  let names: string[] = [];
  try {
    names = readdirSync(packages);
  } catch {
    // No packages folder: only bench.
  }
  for (const name of names.sort()) testFilesUnder(join(packages, name, 'src'), found);
  testFilesUnder(join(root, 'bench', 'src'), found);
  return found.map((path) => relative(root, path).split(sep).join('/')).sort();
}

function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 1);
}

/**
 * Longest one test may run: a test that hangs fails with its name, instead of holding the whole
 * run until CI's limit. The slowest tests take about 30 s on 2 cores.
 */
const testTimeoutMs = 180_000;

async function main(): Promise<number> {
  const filters = process.argv.slice(2);
  const all = findTestFiles();
  const files = filters.length === 0 ? all : all.filter((f) => filters.some((x) => f.includes(x)));
  if (files.length === 0) {
    log(
      filters.length === 0
        ? 'no *.test.ts files found'
        : `no test file matches ${filters.map((f) => JSON.stringify(f)).join(' or ')}`,
    );
    return filters.length === 0 ? 0 : 1;
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
  let cluster: PgCluster | undefined;
  if (env.MITE_PG_URL === undefined || env.MITE_PG_URL === '') {
    const bin = findPgBin();
    if (bin !== undefined) {
      const started = performance.now();
      cluster = await startPgCluster();
      env.MITE_PG_URL = cluster.url;
      log(
        `PostgreSQL from ${bin} started at ${cluster.url} in ${Math.round(performance.now() - started)} ms`,
      );
    } else if (env.MITE_REQUIRE_PG === '1') {
      log(
        'MITE_REQUIRE_PG=1 but PostgreSQL is not installed: no initdb along PATH or in ' +
          '/usr/lib/postgresql/*/bin (install the "postgresql" package, or set MITE_PG_URL)',
      );
      return 1;
    } else {
      log(
        'PostgreSQL is not installed: its tests will be skipped (MITE_REQUIRE_PG=1 fails instead)',
      );
    }
  } else {
    log('using the PostgreSQL server at MITE_PG_URL');
  }

  // Whatever happens from here on, the cluster goes away with this process.
  const stopNow = (): void => cluster?.stopSync();
  process.on('exit', stopNow);

  let child: ChildProcess | undefined = undefined;
  let interrupted: NodeJS.Signals | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted !== undefined || child === undefined || child.exitCode !== null) {
        // A second signal, or nothing left to wait for: stop everything now.
        child?.kill('SIGKILL');
        stopNow();
        process.exit(signalExitCode(signal));
      }
      interrupted = signal;
      log(`${signal}: stopping the tests`);
      child.kill(signal);
      setTimeout(() => child?.kill('SIGKILL'), 10_000).unref();
    });
  }

  log(`running ${files.length} test file${files.length === 1 ? '' : 's'}`);
  const running = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      `--test-timeout=${testTimeoutMs}`,
      ...files,
    ],
    { cwd: root, env, stdio: 'inherit' },
  );
  child = running;
  const code = await new Promise<number>((resolve) => {
    running.on('error', (error) => {
      log(`could not start the test runner: ${error.message}`);
      resolve(1);
    });
    running.on('exit', (exitCode, signal) => {
      resolve(exitCode ?? (signal === null ? 1 : signalExitCode(signal)));
    });
  });

  if (cluster !== undefined) {
    await cluster.stop();
    log('PostgreSQL stopped');
  }
  return interrupted === undefined ? code : signalExitCode(interrupted);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
