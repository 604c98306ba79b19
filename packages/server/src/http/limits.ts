/**
 * The HTTP server's limits, as named constants; `createHttpApp` takes them as `HttpLimits` so
 * that tests and benchmarks can change them.
 */

/** Largest request body accepted: API requests are small JSON documents. */
export const requestBodyBytesMax = 64 * 1024;

/** Largest request head (request line and headers) Node accepts; its default, stated. */
export const requestHeadersBytesMax = 16 * 1024;

/**
 * Longest path parameter (an id) the router matches, in characters; longer is 414 `uriTooLong`.
 * Fastify's default, stated: problems.ts says it to clients.
 */
export const pathParameterLengthMax = 100;

/** A client must send its whole request head within this time (slowloris). */
export const headersTimeoutMs = 10_000;

/** A client must send its whole request within this time. */
export const requestTimeoutMs = 30_000;

/** An idle keep-alive connection is closed after this; above common load balancers' 60 s. */
export const keepAliveTimeoutMs = 72_000;

/** A socket with no activity at all is destroyed after this. */
export const socketIdleTimeoutMs = 120_000;

/** The window the rate limits count requests in. */
export const rateLimitWindowMs = 60_000;

/** Requests per window per client: per credential when one is presented, else per IP address. */
export const rateLimitPerClientMax = 1_200;

/**
 * Requests per window per IP address, whatever credentials they carry: without it, a client
 * could get a fresh per-credential budget for every made-up token it sends.
 */
export const rateLimitPerIpMax = 6_000;

export interface HttpLimits {
  readonly requestBodyBytesMax: number;
  readonly requestHeadersBytesMax: number;
  readonly pathParameterLengthMax: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly socketIdleTimeoutMs: number;
  readonly rateLimitWindowMs: number;
  readonly rateLimitPerClientMax: number;
  readonly rateLimitPerIpMax: number;
}

export const defaultHttpLimits: HttpLimits = {
  requestBodyBytesMax,
  requestHeadersBytesMax,
  pathParameterLengthMax,
  headersTimeoutMs,
  requestTimeoutMs,
  keepAliveTimeoutMs,
  socketIdleTimeoutMs,
  rateLimitWindowMs,
  rateLimitPerClientMax,
  rateLimitPerIpMax,
};
