/**
 * Throwaway PostgreSQL clusters for tests and benchmarks: initdb into a fresh temporary directory,
 * start on 127.0.0.1 with a port the OS picked, stop and delete it afterwards.
 *
 * `scripts/run-tests.ts` starts one cluster for a whole test run and hands its URL to every test
 * file as `MITE_PG_URL`; `freshPgDatabase()` then creates one database per call on that server
 * (or, when a test file runs alone, starts its own cluster lazily and stops it at exit).
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  appendFileSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import postgres from 'postgres';

/** A running throwaway cluster. */
export interface PgCluster {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`, superuser, trust authentication. */
  readonly url: string;
  /** The temporary directory holding the data directory, the socket and the server log. */
  readonly dir: string;
  /** `pg_ctl stop -m fast`, then removes the directory. Safe to call more than once. */
  stop(): Promise<void>;
  /** `pg_ctl stop -m immediate` and removal, synchronously: for `process.on('exit')`. */
  stopSync(): void;
}

/** The superuser every throwaway cluster is created with. */
const superuser = 'postgres';

const pgTools = ['initdb', 'pg_ctl', 'postgres'] as const;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory holding initdb, pg_ctl and postgres, with symlinks resolved. */
function binDirOf(dir: string): string | undefined {
  if (!isExecutable(join(dir, 'initdb'))) return undefined;
  const real = dirname(realpathSync(join(dir, 'initdb')));
  for (const candidate of [real, dir]) {
    if (pgTools.every((tool) => isExecutable(join(candidate, tool)))) return candidate;
  }
  return undefined;
}

function compareVersionsDescending(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return Number.isNaN(d) ? b.localeCompare(a) : d;
  }
  return 0;
}

/**
 * The directory of PostgreSQL's server binaries (initdb, pg_ctl, postgres): first along PATH,
 * then the highest version under /usr/lib/postgresql/<version>/bin (Debian and Ubuntu's layout).
 */
export function findPgBin(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = binDirOf(dir);
    if (found !== undefined) return found;
  }
  let versions: string[];
  try {
    versions = readdirSync('/usr/lib/postgresql');
  } catch {
    return undefined;
  }
  for (const version of versions.sort(compareVersionsDescending)) {
    const found = binDirOf(join('/usr/lib/postgresql', version, 'bin'));
    if (found !== undefined) return found;
  }
  return undefined;
}

interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function lookupId(flag: '-u' | '-g', name: string): number | undefined {
  const r = spawnSync('id', [flag, name], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const n = Number.parseInt(r.stdout.trim(), 10);
  return Number.isInteger(n) ? n : undefined;
}

/** PostgreSQL refuses to run as root: as root, run it as `postgres` if present, else `nobody`. */
function runAsUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const uid = lookupId('-u', name);
    const gid = lookupId('-g', name);
    if (uid !== undefined && gid !== undefined && uid !== 0) return { name, uid, gid };
  }
  throw new Error(
    'running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as',
  );
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  // Settings of the caller's own PostgreSQL must not leak into the throwaway cluster.
  for (const key of Object.keys(env)) if (key.startsWith('PG')) delete env[key];
  return env;
}

function spawnOptions(dir: string, user: RunAs | undefined): SpawnOptions {
  return {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of their own: a Ctrl-C meant for the tests does not reach the server
    // (this module stops it), and an interrupted initdb can be killed with its children.
    detached: true,
    ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
  };
}

function run(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
  running?: Set<ChildProcess>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    running?.add(child);
    child.on('exit', () => running?.delete(child));
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

/** A port that was free a moment ago, as the OS picked it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Creates and starts a throwaway cluster: initdb into a fresh temporary directory (trust
 * authentication, fsync on), pg_ctl start on 127.0.0.1 with a free port and the unix socket inside
 * that directory, waits until it accepts connections.
 */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = findPgBin();
  if (bin === undefined) {
    throw new Error(
      'PostgreSQL is not installed: no initdb/pg_ctl/postgres along PATH or in /usr/lib/postgresql/*/bin',
    );
  }
  const user = runAsUser();
  const dir = mkdtempSync(join(tmpdir(), 'mite-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pgCtl = join(bin, 'pg_ctl');
  const options = spawnOptions(dir, user);
  /** `stopping` while stop() waits for the server: stopSync may still be needed meanwhile. */
  let state: 'running' | 'stopping' | 'gone' = 'running';
  let stopping: Promise<void> | undefined;

  /** initdb or pg_ctl while they run: stopSync kills them before removing their files. */
  const running = new Set<ChildProcess>();
  const removeDir = (): void => {
    // Retries: a process killed a moment ago may still be removing or writing files in there.
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  };
  // Until it is gone, the cluster goes away with this process, however the process ends.
  let unregister = (): void => {};
  const stopSync = (): void => {
    if (state === 'gone') return;
    state = 'gone';
    unregister();
    // Each runs in its own process group (initdb's bootstrap backend, pg_ctl's postmaster).
    for (const child of running) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      spawnSync(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], {
        ...options,
        stdio: 'ignore',
      });
    }
    removeDir();
  };

  unregister = onProcessExit(stopSync);
  try {
    if (user !== undefined) chownSync(dir, user.uid, user.gid);
    const init = await run(
      join(bin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        superuser,
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        // Only skips syncing initdb's own files; the server runs with fsync on.
        '--no-sync',
      ],
      options,
      running,
    );
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}):\n${init.output}`);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      appendFileSync(
        join(dataDir, 'postgresql.conf'),
        [
          '',
          '# mite testkit',
          "listen_addresses = '127.0.0.1'",
          `port = ${port}`,
          `unix_socket_directories = '${dir}'`,
          'max_connections = 200',
          'shared_buffers = 256MB',
          'fsync = on',
          'synchronous_commit = on',
          'full_page_writes = on',
          'logging_collector = off',
          '',
        ].join('\n'),
      );
      const start = await run(
        pgCtl,
        ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60', '-s'],
        options,
        running,
      );
      if (start.code === 0) {
        const url = `postgres://${superuser}@127.0.0.1:${port}/postgres`;
        return {
          url,
          dir,
          stopSync,
          stop() {
            if (state === 'gone') return Promise.resolve();
            if (stopping !== undefined) return stopping;
            state = 'stopping';
            const args = ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60', '-s'];
            stopping = run(pgCtl, args, options, running).then(
              () => {
                if (state !== 'stopping') return; // stopSync ran meanwhile and did it all
                state = 'gone';
                unregister();
                removeDir();
              },
              (error: unknown) => {
                stopSync();
                throw error;
              },
            );
            return stopping;
          },
        };
      }
      const log = tail(logFile);
      // Another process may have taken the port between freePort() and the bind: try again.
      if (attempt < 5 && /could not (bind|create listen)|already in use/i.test(log)) continue;
      throw new Error(`pg_ctl start failed (exit ${start.code}):\n${start.output}\n${log}`);
    }
  } catch (error) {
    stopSync();
    throw error;
  }
}

// --- process-exit cleanup --------------------------------------------------------------------

const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

function runExitCleanups(): void {
  const cleanups = [...exitCleanups].reverse();
  exitCleanups.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is going away.
    }
  }
}

/**
 * Runs `cleanup` synchronously when the process exits: normally, or on SIGINT/SIGTERM/SIGHUP
 * (after which the signal is raised again when nothing else handles it, so the process still
 * dies of it). Returns a function that cancels the registration.
 */
function onProcessExit(cleanup: () => void): () => void {
  exitCleanups.add(cleanup);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', runExitCleanups);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const handler = (): void => {
        runExitCleanups();
        process.off(signal, handler);
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      };
      process.on(signal, handler);
    }
  }
  return () => {
    exitCleanups.delete(cleanup);
  };
}

/** A fresh directory under the OS temporary directory, removed when the process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// --- one database per test -------------------------------------------------------------------

let processCluster: Promise<PgCluster> | undefined;

function pgRequired(): boolean {
  return process.env.MITE_REQUIRE_PG === '1';
}

export interface FreshPgDatabaseOptions {
  /**
   * The URL of a database on the same server (one this function made) to copy with `CREATE
   * DATABASE ... TEMPLATE`, instead of starting empty. Nothing may be connected to it meanwhile.
   */
  readonly template?: string;
}

/** A database name this module makes: the only kind it copies as a template. */
const testDatabaseName = /^mite_test_[0-9a-f]{16}$/;

/**
 * The URL of a new database, empty or a copy of `options.template`. The server is `MITE_PG_URL`
 * when set, else a throwaway cluster started once per process (lazily) and stopped when the
 * process exits. Without PostgreSQL installed, returns undefined so that the caller can skip, or
 * throws when `MITE_REQUIRE_PG=1`.
 */
export async function freshPgDatabase(
  options: FreshPgDatabaseOptions = {},
): Promise<string | undefined> {
  const template =
    options.template === undefined ? undefined : new URL(options.template).pathname.slice(1);
  if (template !== undefined && !testDatabaseName.test(template)) {
    throw new Error(`not a test database to copy: ${JSON.stringify(template)}`);
  }
  let base = process.env.MITE_PG_URL;
  if (base === undefined || base === '') {
    if (findPgBin() === undefined) {
      if (pgRequired()) {
        throw new Error(
          'MITE_REQUIRE_PG=1 but PostgreSQL is not installed (no initdb along PATH or in ' +
            '/usr/lib/postgresql/*/bin) and MITE_PG_URL is not set',
        );
      }
      return undefined;
    }
    // Stopped by startPgCluster's own exit hook when this process ends.
    processCluster ??= startPgCluster();
    base = (await processCluster).url;
  }
  const name = `mite_test_${randomBytes(8).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {}, connect_timeout: 30 });
  try {
    // The name is ours (testDatabaseName): nothing from outside reaches this SQL.
    await admin.unsafe(
      template === undefined
        ? `create database ${name}`
        : `create database ${name} template ${template}`,
    );
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Why a test that needs PostgreSQL is skipped on this machine, for node:test's `skip` option, so
 * that it is reported as skipped rather than passing after an early return; undefined when it
 * runs. Required (MITE_REQUIRE_PG=1) but missing, it runs, and freshPgDatabase's error fails it.
 */
export function postgresSkipReason(): string | undefined {
  return postgresSkipReasonFor(process.env, findPgBin());
}

/** postgresSkipReason for a given environment and PostgreSQL binary folder (for its own test). */
export function postgresSkipReasonFor(
  env: Readonly<Record<string, string | undefined>>,
  pgBinDir: string | undefined,
): string | undefined {
  if ((env.MITE_PG_URL ?? '') !== '' || pgBinDir !== undefined) return undefined;
  if (env.MITE_REQUIRE_PG === '1') return undefined;
  return 'PostgreSQL is not installed (set MITE_REQUIRE_PG=1 to fail)';
}

/** A fresh database for a test registered with `skip: postgresSkipReason()`; never undefined. */
export async function requirePgDatabase(options: FreshPgDatabaseOptions = {}): Promise<string> {
  const url = await freshPgDatabase(options);
  if (url === undefined)
    throw new Error('PostgreSQL is not installed: skip with postgresSkipReason');
  return url;
}
