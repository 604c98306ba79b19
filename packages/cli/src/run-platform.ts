/**
 * What `mite serve` and `mite demo` share: options, starting the platform from `@mite/server`,
 * the first admin key, the banner, and a clean shutdown on SIGINT or SIGTERM.
 */
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { firstOperatorEmailDefault, type Platform } from '@mite/server';
import { type Command, InvalidArgumentError } from 'commander';
import pino, { type Logger } from 'pino';
import type { CliContext } from './cli-context.ts';
import {
  platformSqliteUrlFor,
  redactDatabaseUrl,
  resolveDatabaseUrl,
  secretsOf,
  sqliteUrlFor,
} from './database-url.ts';
import { CliError, describeError, errorCode, exitCodes } from './errors.ts';
import {
  DEFAULT_HOST,
  type LogLevel,
  parsePort,
  parseTrustProxy,
  resolveDataDir,
  resolveLogLevel,
  resolvePort,
  resolveTrustProxy,
} from './options.ts';
import { webAppsRoot } from './web-root.ts';

/** How long requests in flight get to finish after SIGINT/SIGTERM before their connections close. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/** File in the data directory that receives the first admin key, readable by its owner only. */
export const ADMIN_KEY_FILE_NAME = 'admin-key';

/** File in the data directory that receives the first operator's console login, owner-only. */
export const OPERATOR_LOGIN_FILE_NAME = 'operator-login';

export interface PlatformFlags {
  readonly dataDir?: string;
  readonly port?: number;
  readonly host: string;
  /** `mite serve --sandbox-funding`. */
  readonly sandboxFunding?: boolean;
  readonly trustProxy?: string;
}

export interface RunOptions {
  readonly dataDir: string;
  /** `MITE_DATABASE_URL` when set; else the platform keeps SQLite files in the data directory. */
  readonly databaseUrl: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  /**
   * Top-ups through the sandbox card processor (fake money) whatever the environment says; else
   * `MITE_FUNDING_PROVIDER` and the Stripe variables decide, and none is the default.
   */
  readonly sandboxFunding: boolean;
  /** Which reverse proxies' X-Forwarded-For to believe; undefined: none. */
  readonly trustProxy: string | undefined;
}

/**
 * A step after the platform has started and before it listens (the demo seeds its data here);
 * returns lines for the banner.
 */
export type PrepareStep = (platform: Platform) => Promise<readonly string[]>;

/**
 * A step once the platform listens at `baseUrl` (the demo starts its merchant site here);
 * returns lines for the banner and what to close before the platform at shutdown.
 */
export type StartedStep = (
  platform: Platform,
  baseUrl: string,
) => Promise<{ readonly lines: readonly string[]; close(): Promise<void> }>;

/** Adds `--data-dir`, `--port`, `--host` and `--trust-proxy`. */
export function withPlatformOptions(command: Command, defaultDataDir: string): Command {
  return command
    .option('--data-dir <dir>', `data directory, created if missing (default: ./${defaultDataDir})`)
    .option(
      '--port <number>',
      'TCP port, 0 for any free port (default: MITE_PORT or 8787)',
      parsePortArgument,
    )
    .option('--host <host>', 'interface to listen on', DEFAULT_HOST)
    .option(
      '--trust-proxy <proxies>',
      'behind a reverse proxy: its addresses or CIDR ranges, separated by commas, whose ' +
        'X-Forwarded-For gives the client address (default: MITE_TRUST_PROXY, else none)',
      (value: string) => asArgument(() => parseTrustProxy(value)),
    );
}

/** `parse()`, its error as commander's invalid-argument error. */
function asArgument<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const reason = describeError(error);
    throw new InvalidArgumentError(`${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`);
  }
}

function parsePortArgument(value: string): number {
  return asArgument(() => parsePort(value));
}

export function resolveRunOptions(
  flags: PlatformFlags,
  context: CliContext,
  defaultDataDir: string,
): RunOptions {
  const dataDir = resolveDataDir(flags.dataDir, context.cwd, defaultDataDir);
  const { url, isDefault } = resolveDatabaseUrl(context.env.MITE_DATABASE_URL, dataDir);
  const port = resolvePort(flags.port, context.env.MITE_PORT);
  const logLevel = resolveLogLevel(context.env.MITE_LOG_LEVEL);
  const trustProxy = resolveTrustProxy(flags.trustProxy, context.env.MITE_TRUST_PROXY);
  return {
    dataDir,
    databaseUrl: isDefault ? undefined : url,
    host: flags.host,
    port,
    logLevel,
    sandboxFunding: flags.sandboxFunding === true,
    trustProxy,
  };
}

/** Runs the platform until SIGINT or SIGTERM; returns the exit code. */
export async function runPlatform(
  options: RunOptions,
  context: CliContext,
  prepare?: PrepareStep,
  started?: StartedStep,
): Promise<number> {
  await ensureDataDir(options.dataDir);
  const platform = await startPlatform(options, context);
  let extraLines: readonly string[];
  let adminKeyFile: string | undefined;
  let operatorFile: string | undefined;
  let companion: Awaited<ReturnType<StartedStep>> | undefined;
  try {
    adminKeyFile = await bootstrapAdminKey(platform, options.dataDir);
    extraLines = prepare === undefined ? [] : await prepare(platform);
    // After `prepare`, which may make the first operator itself (the demo's is published).
    operatorFile = await bootstrapOperator(platform, options.dataDir, context.env);
    await listen(platform, options);
    if (started !== undefined) {
      companion = await started(platform, listeningUrl(platform, options));
      extraLines = [...extraLines, '', ...companion.lines];
    }
  } catch (error) {
    await closeQuietly(platform);
    throw error;
  }
  const signal = context.waitForShutdownSignal();
  context.writeOut(banner(platform, options, { adminKeyFile, operatorFile }, extraLines));
  context.writeOut(`\nReceived ${await signal}, shutting down...\n`);
  await companion?.close();
  return shutdown(platform, context);
}

function listeningUrl(platform: Platform, options: RunOptions): string {
  const { port } = platform.app.server.address() as AddressInfo;
  return baseUrl(options.host, port);
}

/** Could not start: exit code 1. */
export function startupError(message: string): CliError {
  return new CliError(message, exitCodes.failure);
}

async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw startupError(`cannot create data directory ${dataDir}: ${describeError(error)}`);
  }
}

/** JSON lines on stderr, at `MITE_LOG_LEVEL`. */
function createLogger(level: LogLevel, context: CliContext): Logger {
  return pino({ level }, { write: (line: string) => context.writeErr(line) });
}

export async function startPlatform(options: RunOptions, context: CliContext): Promise<Platform> {
  const { dataDir, databaseUrl } = options;
  try {
    return await context.createPlatform({
      dataDir,
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
      env: context.env,
      logger: createLogger(options.logLevel, context),
      ...webRootOption(),
      ...(options.sandboxFunding ? { funding: { provider: 'sandbox' } } : {}),
    });
  } catch (error) {
    const detail = describeError(error, databaseUrl === undefined ? [] : secretsOf(databaseUrl));
    throw startupError(`cannot start the platform on ${describeDatabase(options)}: ${detail}`);
  }
}

function webRootOption(): { webRoot?: string } {
  const webRoot = webAppsRoot();
  return webRoot === undefined ? {} : { webRoot };
}

/** The database(s) in use, as they may be shown: passwords replaced by `***`. */
function describeDatabase({ dataDir, databaseUrl }: RunOptions): string {
  if (databaseUrl !== undefined) return redactDatabaseUrl(databaseUrl);
  return `${sqliteUrlFor(dataDir)}, ${platformSqliteUrlFor(dataDir)}`;
}

/**
 * On a fresh platform, creates the first admin key and writes it to the data directory, readable
 * by its owner only; returns the file then, else undefined. The secret is never printed.
 */
async function bootstrapAdminKey(platform: Platform, dataDir: string): Promise<string | undefined> {
  let key: { keyId: string; secret: string } | undefined;
  try {
    key = await platform.bootstrapAdminKey();
  } catch (error) {
    throw startupError(`cannot create the first admin key: ${describeError(error)}`);
  }
  if (key === undefined) return undefined;
  const file = path.join(dataDir, ADMIN_KEY_FILE_NAME);
  await writeOwnerOnly(file, `${key.secret}\n`, key.secret, 'the first admin key');
  return file;
}

/**
 * On a platform without operators, makes the first operator person (email `MITE_OPERATOR_EMAIL`,
 * else operator@mite.local) with a generated password, and writes both to the data directory,
 * readable by its owner only; returns the file then, else undefined. Never printed.
 */
async function bootstrapOperator(
  platform: Platform,
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<string | undefined> {
  const email = env.MITE_OPERATOR_EMAIL ?? firstOperatorEmailDefault;
  let operator: { email: string; password: string } | undefined;
  try {
    operator = await platform.bootstrapOperator(email);
  } catch (error) {
    throw startupError(`cannot create the first operator: ${describeError(error)}`);
  }
  if (operator === undefined) return undefined;
  const file = path.join(dataDir, OPERATOR_LOGIN_FILE_NAME);
  const content = `email: ${operator.email}\npassword: ${operator.password}\n`;
  await writeOwnerOnly(file, content, operator.password, 'the first operator\u2019s login');
  return file;
}

/**
 * Writes a secret beside `file`, then renames it over: a reader never sees half of it, and an
 * older file (from a store since wiped) is replaced whatever its permissions were.
 */
async function writeOwnerOnly(
  file: string,
  content: string,
  secret: string,
  what: string,
): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    const detail = describeError(error, [secret]);
    throw startupError(`cannot write ${what} to ${file}: ${detail}`);
  }
}

async function listen(platform: Platform, options: RunOptions): Promise<void> {
  try {
    await platform.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    throw startupError(describeListenError(error, options));
  }
}

function describeListenError(error: unknown, { host, port }: RunOptions): string {
  switch (errorCode(error)) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use (choose another with --port or MITE_PORT)`;
    case 'EACCES':
      return `not allowed to listen on ${host} port ${port} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on host ${host}: no such local address`;
    default:
      return `cannot listen on ${host} port ${port}: ${describeError(error)}`;
  }
}

function banner(
  platform: Platform,
  options: RunOptions,
  files: { adminKeyFile: string | undefined; operatorFile: string | undefined },
  extraLines: readonly string[],
): string {
  const { adminKeyFile, operatorFile } = files;
  const { port } = platform.app.server.address() as AddressInfo;
  const base = baseUrl(options.host, port);
  const network = isWildcard(options.host) ? networkAddresses() : [];
  return [
    `Mite is running: ${base}`,
    ...network.map((address) => `  network:   ${baseUrl(address, port)}`),
    ...webAppLines(platform, base),
    `  health:    ${base}/healthz`,
    `  API docs:  ${base}/v1/docs`,
    `  OpenAPI:   ${base}/v1/openapi.json`,
    `  database:  ${describeDatabase(options)}`,
    `  data dir:  ${options.dataDir}`,
    ...fundingLines(platform.funding),
    ...(adminKeyFile === undefined
      ? []
      : [`  first admin key written to ${adminKeyFile} (owner-only; shown nowhere else)`]),
    ...(operatorFile === undefined
      ? []
      : [
          `  first operator\u2019s console login written to ${operatorFile} (owner-only; shown nowhere else)`,
        ]),
    ...(extraLines.length === 0 ? [] : ['', ...extraLines, '']),
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}

/**
 * What top-ups do here. The sandbox is said loudly: its wallets hold fake money that anyone can
 * mint with a published test card, which must never be mistaken for a real server's.
 */
export function fundingLines(funding: Platform['funding']): string[] {
  switch (funding.provider) {
    case 'none':
      return ['  top-ups:   off (no card processor: set MITE_FUNDING_PROVIDER, see the README)'];
    case 'stripe':
      return funding.sandbox
        ? ['  top-ups:   Stripe, TEST MODE (sk_test_ key): no real money moves']
        : ['  top-ups:   Stripe'];
    case 'sandbox':
      return [
        '  top-ups:   SANDBOX card processor',
        '',
        '  !!! SANDBOX FUNDING: NO REAL MONEY MOVES. Anyone can top up with the published test',
        '  !!! card 4242 4242 4242 4242; every such top-up is marked "sandbox": true. Never pay',
        '  !!! merchants out from these wallets.',
      ];
  }
}

/** Where the web apps are, or why they are not served. */
export function webAppLines(platform: Pick<Platform, 'webAppsServed'>, base: string): string[] {
  return platform.webAppsServed
    ? [
        `  wallet:    ${base}/wallet/`,
        `  dashboard: ${base}/dashboard/`,
        `  console:   ${base}/console/`,
      ]
    : ['  wallet:    not served: the web apps are not built (run `npm run build`)'];
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The machine's external IPv4 addresses, where a wildcard host is also reachable. */
function networkAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry.address);
}

/** The URL a client on this machine uses; a wildcard host is reached through loopback. */
export function baseUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const bracketed = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `http://${bracketed}:${port}`;
}

/**
 * Closes the platform: the HTTP server stops accepting connections and waits for requests in
 * flight (SHUTDOWN_TIMEOUT_MS at most, then their connections are closed), then the databases.
 */
async function shutdown(platform: Platform, context: CliContext): Promise<number> {
  const timer = setTimeout(() => platform.app.server.closeAllConnections(), SHUTDOWN_TIMEOUT_MS);
  try {
    await platform.close();
    return exitCodes.ok;
  } catch (error) {
    context.writeErr(`mite: error while shutting down: ${describeError(error)}\n`);
    return exitCodes.failure;
  } finally {
    clearTimeout(timer);
  }
}

/** Closes a platform that failed to start; the startup error is the one worth reporting. */
async function closeQuietly(platform: Platform): Promise<void> {
  try {
    await platform.close();
  } catch {
    // Already failing: the first error is reported.
  }
}
