/**
 * Every error as problem+json: validation issues, bad JSON, bodies too large, unknown routes,
 * wrong methods (405 with `Allow`), rate limits, and anything thrown, which becomes `internal`
 * with nothing of it disclosed and all of it logged.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { problemMediaType } from '@mite/protocol';
import {
  type ProblemCode,
  ProblemError,
  type ProblemExtras,
  problem,
  problemTable,
  sendProblem,
} from './problems.ts';

interface ProblemDescription {
  readonly code: ProblemCode;
  readonly detail?: string | undefined;
  readonly extra?: ProblemExtras | undefined;
}

export interface ValidationIssue {
  /** body, querystring, params or headers. */
  readonly in: string;
  /** A JSON pointer into that part (`/amount`, `/splits/0/share`); empty for the whole of it. */
  readonly path: string;
  readonly message: string;
}

function validationIssues(error: FastifyError): ValidationIssue[] {
  const where = error.validationContext ?? 'request';
  return (error.validation ?? []).map((issue) => ({
    in: where,
    path: issue.instancePath === '/' ? '' : issue.instancePath,
    message: issue.message ?? 'is invalid',
  }));
}

function describeValidation(error: FastifyError): ProblemDescription {
  const issues = validationIssues(error);
  const detail = issues.map((issue) => `${issue.in}${issue.path}: ${issue.message}`).join('; ');
  return { code: 'validationFailed', detail, extra: { issues } };
}

const malformedJsonErrorCodes: ReadonlySet<string> = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
]);

const problemByFrameworkStatus: ReadonlyMap<number, ProblemCode> = new Map([
  [404, 'notFound'],
  [405, 'methodNotAllowed'],
  [413, 'payloadTooLarge'],
  [415, 'unsupportedMediaType'],
  [429, 'rateLimited'],
  [503, 'unavailable'],
]);

/** What problem an error is. Only fastify's own messages (`FST_` codes) are passed on. */
export function describeError(error: unknown): ProblemDescription {
  if (error instanceof ProblemError) {
    return { code: error.problemCode, detail: error.detail, extra: error.extra };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (hasZodFastifySchemaValidationErrors(error) || Array.isArray(fastifyError.validation)) {
    return describeValidation(error as FastifyError);
  }
  const frameworkCode = typeof fastifyError.code === 'string' ? fastifyError.code : '';
  if (malformedJsonErrorCodes.has(frameworkCode)) return { code: 'malformedJson' };
  const status = fastifyError.statusCode ?? 500;
  const detail = frameworkCode.startsWith('FST_') ? fastifyError.message : undefined;
  const mapped = problemByFrameworkStatus.get(status);
  if (mapped !== undefined) return { code: mapped, detail };
  if (status >= 400 && status < 500 && frameworkCode.startsWith('FST_')) {
    return { code: 'badRequest', detail };
  }
  return { code: 'internal' };
}

/** Codes of the errors reading a body fails with when the client hangs up midway. */
const clientAbortErrorCodes: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Whether `error` is the client going away, which is no failure of the platform. Its socket must
 * be gone too: a database connection reset inside a handler has the same code and is a failure.
 */
export function isClientAbort(error: unknown, request: FastifyRequest): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !clientAbortErrorCodes.has(code)) return false;
  return request.raw.destroyed || request.raw.socket.destroyed;
}

function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isClientAbort(error, request)) {
    // Nobody is left to read an answer; an operator need not be woken for it.
    request.log.info({ reason: (error as Error).message }, 'client aborted the request');
    return sendProblem(reply, 'badRequest', 'The client closed the connection.');
  }
  const { code, detail, extra } = describeError(error);
  if (problemTable[code].status >= 500) {
    request.log.error({ err: error }, 'request failed');
  }
  // The client learns what it can act on; an internal error's message may hold anything.
  const shownDetail = code === 'internal' ? undefined : detail;
  return sendProblem(reply, code, shownDetail, extra);
}

/**
 * The methods each route pattern answers, for 405 and `Allow`. Fastify answers an unknown method
 * on a known path with 404, and its router is not public, so patterns are matched here, simply:
 * a parameter (`:id`, with or without a regular expression) matches any one path segment and
 * `*` anything; that only decides between 404 and 405, never which handler runs.
 */
export class RouteMethods {
  private readonly methodsByPattern = new Map<string, { matcher: RegExp; methods: Set<string> }>();

  add(method: string | readonly string[], url: string): void {
    let entry = this.methodsByPattern.get(url);
    if (entry === undefined) {
      entry = { matcher: patternMatcher(url), methods: new Set() };
      this.methodsByPattern.set(url, entry);
    }
    for (const one of typeof method === 'string' ? [method] : method) entry.methods.add(one);
  }

  /** The methods some route answers at `path` (no query string), sorted. */
  allowedAt(path: string): string[] {
    const methods = new Set<string>();
    for (const { matcher, methods: answered } of this.methodsByPattern.values()) {
      if (matcher.test(path)) for (const method of answered) methods.add(method);
    }
    return [...methods].sort();
  }
}

function patternMatcher(url: string): RegExp {
  // `::` is fastify's escaped literal colon; a private-use character stands for it meanwhile.
  const source = url
    .replace(/::/g, '\ue000')
    .split(/(:[A-Za-z0-9_$]+(?:\([^)]*\))?|\*)/)
    .map((part) => {
      if (part === '*') return '.*';
      if (part.startsWith(':')) return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\ue000/g, ':');
    })
    .join('');
  return new RegExp(`^${source}$`);
}

function handleNotFound(routes: RouteMethods, request: FastifyRequest, reply: FastifyReply) {
  const path = request.url.split('?', 1)[0] ?? request.url;
  const allowed = routes.allowedAt(path);
  if (allowed.length > 0 && !allowed.includes(request.method)) {
    reply.header('allow', allowed.join(', '));
    return sendProblem(reply, 'methodNotAllowed', `${request.method} is not allowed here.`);
  }
  return sendProblem(reply, 'notFound');
}

/**
 * Errors the router meets before there is a route: a URL that does not decode, or a path
 * parameter over the length limit. Fastify's own answer echoes the URL (it may be anything the
 * client sent, megabytes of it): only the problem is said.
 */
export function handleUrlError(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  sendProblem(reply, error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uriTooLong' : 'badRequest');
}

/**
 * Errors Node meets before there is a request to answer (headers too large, a request too slow,
 * bytes that are not HTTP), answered as problems on the raw socket, which is then closed.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ProblemCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'requestHeadersTooLarge'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'requestTimeout'
        : 'badRequest';
  const body = JSON.stringify(problem(code));
  const { status } = problemTable[code];
  if (socket.writable) {
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      `Content-Type: ${problemMediaType}; charset=utf-8`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

export function installErrorHandling(app: FastifyInstance): void {
  const routes = new RouteMethods();
  app.addHook('onRoute', (route) => routes.add(route.method, route.url));
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => handleNotFound(routes, request, reply));
}
