/**
 * Structured logs without secrets or personal data (DESIGN sections 4 and 7).
 *
 * Redaction is by key name, at any depth, rather than by pino's path list: a password can sit in
 * a body, in `headers`, or in a nested object someone logs, and a path list would have to foresee
 * every place. Any key whose name, lower-cased without `-` and `_`, contains one of
 * `sensitiveKeyFragments` has its value replaced. IP addresses are not logged either.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

/** Key-name fragments whose values never reach the logs ("set-cookie" holds "cookie"...). */
export const sensitiveKeyFragments: readonly string[] = [
  'authorization',
  'cookie',
  'apikey',
  'password',
  'secret',
  'token',
  'email',
  'cardnumber',
];

export const redactedValue = '[redacted]';

/** Objects nested deeper than this are replaced wholesale: logs are not for deep dumps. */
const redactionDepthMax = 8;

const sensitivityByKey = new Map<string, boolean>();
const sensitivityCacheSizeMax = 10_000;

export function isSensitiveKey(key: string): boolean {
  const known = sensitivityByKey.get(key);
  if (known !== undefined) return known;
  const normalized = key.toLowerCase().replace(/[-_]/g, '');
  const sensitive = sensitiveKeyFragments.some((fragment) => normalized.includes(fragment));
  if (sensitivityByKey.size < sensitivityCacheSizeMax) sensitivityByKey.set(key, sensitive);
  return sensitive;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A copy of `value` with sensitive keys' values replaced. Only plain objects and arrays are walked:
 * other objects (a request, an error) are left to the serializers, which log chosen fields only.
 */
export function redactForLog(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= redactionDepthMax) return '[too deep]';
  if (Array.isArray(value)) return value.map((item: unknown) => redactForLog(item, depth + 1));
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    copy[key] = isSensitiveKey(key) ? redactedValue : redactForLog(item, depth + 1);
  }
  return copy;
}

/** `url` with the values of sensitive query parameters (`?token=...`) replaced. */
export function redactUrl(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const query = new URLSearchParams(url.slice(queryStart + 1));
  let changed = false;
  for (const key of new Set(query.keys())) {
    if (!isSensitiveKey(key)) continue;
    query.set(key, redactedValue);
    changed = true;
  }
  return changed ? `${url.slice(0, queryStart)}?${query.toString()}` : url;
}

interface LoggableRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly routeOptions?: { readonly url?: string | undefined };
}

/** What a request log line says about the request: no headers, no IP address, no body. */
function requestForLog(request: LoggableRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url === undefined ? undefined : redactUrl(request.url),
    route: request.routeOptions?.url,
  };
}

/**
 * An error's fields, redacted. pino's serialized errors (and the errors nested in them) are not
 * plain objects, so they go through JSON first; errors are rare enough for that to cost nothing.
 */
function errorForLog(error: Error): unknown {
  const serialized = pino.stdSerializers.err(error);
  try {
    return redactForLog(JSON.parse(JSON.stringify(serialized)));
  } catch {
    // Not JSON (a bigint, a cycle): the fields that are always there.
    return { type: serialized.type, message: serialized.message, stack: serialized.stack };
  }
}

const redactingOptions = {
  formatters: {
    log: (object: object) => redactForLog(object) as Record<string, unknown>,
  },
  serializers: {
    req: (request: LoggableRequest) => requestForLog(request),
    err: (error: Error) => errorForLog(error),
  },
};

/**
 * A child of `logger` that redacts as described above, whatever `logger` was configured with;
 * createHttpApp logs through it.
 */
export function withLogRedaction(logger: Logger): Logger {
  return logger.child({}, redactingOptions);
}

/** A redacting JSON logger writing to `destination` (stdout by default). */
export function createLogger(
  options: { level?: string; destination?: DestinationStream } = {},
): Logger {
  const { level = 'info', destination = pino.destination(1) } = options;
  return pino({ level, ...redactingOptions }, destination);
}
