import { isIP } from 'node:net';
import path from 'node:path';
import { describeError, UsageError } from './errors.ts';

export const DEFAULT_DATA_DIR = '.mite';
/**
 * `mite demo`'s data directory: apart from `mite serve`'s, so that demo users with published
 * passwords never land in a real platform's data by accident (inside it, so that what ignores
 * `.mite` ignores the demo too).
 */
export const DEMO_DATA_DIR = '.mite/demo';
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
const PORT_MAX = 65_535;

/**
 * A TCP port from the command line or the environment: an integer from 0 to 65535, 0 meaning
 * "pick a free one". Throws a plain Error with the reason, for the caller to wrap.
 */
export function parsePort(text: string): number {
  const trimmed = text.trim();
  if (!/^\d{1,5}$/.test(trimmed) || Number(trimmed) > PORT_MAX) {
    throw new Error(`expected an integer from 0 to ${PORT_MAX}`);
  }
  return Number(trimmed);
}

/** `--port`, else `MITE_PORT`, else the default. */
export function resolvePort(flag: number | undefined, envValue: string | undefined): number {
  if (flag !== undefined) return flag;
  if (envValue === undefined || envValue.trim() === '') return DEFAULT_PORT;
  try {
    return parsePort(envValue);
  } catch (error) {
    throw new UsageError(`MITE_PORT='${envValue}': ${describeError(error)}`);
  }
}

/** The data directory as an absolute path, relative paths taken from `cwd`. */
export function resolveDataDir(
  flag: string | undefined,
  cwd: string,
  defaultDir: string = DEFAULT_DATA_DIR,
): string {
  if (flag !== undefined && flag.trim() === '') {
    throw new UsageError('--data-dir must not be empty');
  }
  return path.resolve(cwd, flag ?? defaultDir);
}

/** pino's levels, most severe first, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Warnings and errors only: the terminal stays quiet while all is well. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

/** `MITE_LOG_LEVEL` (any case), else the default. */
export function resolveLogLevel(envValue: string | undefined): LogLevel {
  const value = envValue?.trim().toLowerCase() ?? '';
  if (value === '') return DEFAULT_LOG_LEVEL;
  const level = LOG_LEVELS.find((candidate) => candidate === value);
  if (level === undefined) {
    throw new UsageError(`MITE_LOG_LEVEL='${envValue}': expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return level;
}

/** proxy-addr's names for address ranges, which fastify's `trustProxy` accepts in a list. */
const PROXY_RANGE_NAMES: readonly string[] = ['loopback', 'linklocal', 'uniquelocal'];

function isProxyAddress(item: string): boolean {
  if (PROXY_RANGE_NAMES.includes(item)) return true;
  const [address = '', prefix, ...rest] = item.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Which reverse proxies to believe about the client's address: a comma-separated list of
 * addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. Not a hop count, which
 * cannot tell a proxy from a client that sends the header itself (fastify ignores hop counts).
 * Throws a plain Error with the reason, for the caller to wrap.
 */
export function parseTrustProxy(text: string): string {
  const items = text.split(',').map((item) => item.trim());
  const bad = items.find((item) => !isProxyAddress(item));
  if (bad !== undefined) {
    throw new Error(
      `expected proxy addresses, CIDR ranges or loopback, linklocal, uniquelocal, separated by commas; '${bad}' is none of them`,
    );
  }
  return items.join(',');
}

/** `--trust-proxy`, else `MITE_TRUST_PROXY`, else undefined: no proxy is trusted. */
export function resolveTrustProxy(
  flag: string | undefined,
  envValue: string | undefined,
): string | undefined {
  if (flag !== undefined) return flag;
  if (envValue === undefined || envValue.trim() === '') return undefined;
  try {
    return parseTrustProxy(envValue);
  } catch (error) {
    throw new UsageError(`MITE_TRUST_PROXY='${envValue}': ${describeError(error)}`);
  }
}
