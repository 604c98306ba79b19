import { mkdir } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Ledger } from '@mite/ledger';
import { Command, InvalidArgumentError } from 'commander';
import type { CliContext } from './cli-context.ts';
import { redactDatabaseUrl, resolveDatabaseUrl, secretsOf } from './database-url.ts';
import { CliError, describeError, errorCode, exitCodes } from './errors.ts';
import { createLineLogger } from './logger.ts';
import { DEFAULT_HOST, parsePort, resolveDataDir, resolvePort } from './options.ts';
import { createServer } from './server.ts';

/** How long requests in flight get to finish after SIGINT/SIGTERM before their connections close. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

interface ServeFlags {
  readonly dataDir?: string;
  readonly port?: number;
  readonly host: string;
}

interface ServeOptions {
  readonly dataDir: string;
  readonly databaseUrl: string;
  readonly host: string;
  readonly port: number;
}

/** `mite serve`: runs the platform until SIGINT or SIGTERM. */
export function createServeCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  return new Command('serve')
    .description('run the Mite platform (embedded SQLite unless MITE_DATABASE_URL is set)')
    .option('--data-dir <dir>', 'data directory, created if missing (default: ./.mite)')
    .option(
      '--port <number>',
      'TCP port, 0 for any free port (default: MITE_PORT or 8787)',
      parsePortArgument,
    )
    .option('--host <host>', 'interface to listen on', DEFAULT_HOST)
    .action(async (flags: ServeFlags) => {
      setExitCode(await serve(resolveServeOptions(flags, context), context));
    });
}

function parsePortArgument(value: string): number {
  try {
    return parsePort(value);
  } catch (error) {
    const reason = describeError(error);
    throw new InvalidArgumentError(`${reason.charAt(0).toUpperCase()}${reason.slice(1)}.`);
  }
}

function resolveServeOptions(flags: ServeFlags, context: CliContext): ServeOptions {
  const dataDir = resolveDataDir(flags.dataDir, context.cwd);
  const { url } = resolveDatabaseUrl(context.env.MITE_DATABASE_URL, dataDir);
  const port = resolvePort(flags.port, context.env.MITE_PORT);
  return { dataDir, databaseUrl: url, host: flags.host, port };
}

async function serve(options: ServeOptions, context: CliContext): Promise<number> {
  await ensureDataDir(options.dataDir);
  const ledger = await openLedgerForServe(context, options.databaseUrl);
  const server = createServer({ ledger, logger: createLineLogger({ write: context.writeErr }) });
  try {
    await listen(server, options.host, options.port);
  } catch (error) {
    await ledger.close();
    throw startupError(describeListenError(error, options));
  }
  const signal = context.waitForShutdownSignal();
  context.writeOut(banner(server, options));
  context.writeOut(`\nReceived ${await signal}, shutting down...\n`);
  return shutdown(server, ledger, context);
}

/** `mite serve` could not start: exit code 1. */
function startupError(message: string): CliError {
  return new CliError(message, exitCodes.failure);
}

async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw startupError(`cannot create data directory ${dataDir}: ${describeError(error)}`);
  }
}

async function openLedgerForServe(context: CliContext, url: string): Promise<Ledger> {
  try {
    return await context.openLedger({ url });
  } catch (error) {
    const detail = describeError(error, secretsOf(url));
    throw startupError(`cannot open the ledger at ${redactDatabaseUrl(url)}: ${detail}`);
  }
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function describeListenError(error: unknown, { host, port }: ServeOptions): string {
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

function banner(server: http.Server, options: ServeOptions): string {
  const { port } = server.address() as AddressInfo;
  const base = baseUrl(options.host, port);
  const network = isWildcard(options.host) ? networkAddresses() : [];
  return [
    `Mite is running: ${base}`,
    ...network.map((address) => `  network:  ${baseUrl(address, port)}`),
    `  health:   ${base}/healthz`,
    `  database: ${redactDatabaseUrl(options.databaseUrl)}`,
    `  data dir: ${options.dataDir}`,
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
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
function baseUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const bracketed = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `http://${bracketed}:${port}`;
}

async function shutdown(server: http.Server, ledger: Ledger, context: CliContext): Promise<number> {
  try {
    // Requests in flight may still use the ledger: close it only once the server has closed.
    await closeServer(server);
    await ledger.close();
    return exitCodes.ok;
  } catch (error) {
    context.writeErr(`mite: error while shutting down: ${describeError(error)}\n`);
    return exitCodes.failure;
  }
}

/**
 * Stops accepting connections and closes idle ones; requests in flight get SHUTDOWN_TIMEOUT_MS to
 * finish before their connections are closed too.
 */
function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_TIMEOUT_MS);
    server.close((error) => {
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    });
    server.closeIdleConnections();
  });
}
