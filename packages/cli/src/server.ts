import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Ledger } from '@mite/ledger';
import { describeError, errorCode } from './errors.ts';
import type { Logger } from './logger.ts';
import { httpProblem, rawProblemResponse, sendJson, sendProblem } from './problem.ts';

/** Largest request head (request line and headers) accepted; larger ones get 431. */
export const MAX_HEADER_BYTES = 16 * 1024;
/** Largest request body accepted; a larger declared Content-Length gets 413. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Time allowed to receive the request head. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time allowed to receive a whole request. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long an idle keep-alive connection stays open. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface ServerDependencies {
  /** Not used by any route yet; the platform's routes will post to it. */
  readonly ledger: Ledger;
  readonly logger: Logger;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
/** Handlers by path, then by method; HEAD is answered wherever GET is. */
type Routes = ReadonlyMap<string, ReadonlyMap<string, Handler>>;

/** The Mite HTTP server, not yet listening. */
export function createServer({ logger }: ServerDependencies): http.Server {
  const routes = createRoutes();
  const server = http.createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
    },
    (request, response) => {
      void handleRequest(routes, logger, request, response);
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on('clientError', (error, socket) => answerClientError(error, socket));
  return server;
}

function createRoutes(): Routes {
  const health: Handler = (_request, response) => sendJson(response, 200, { status: 'ok' });
  return new Map([['/healthz', new Map([['GET', health]])]]);
}

async function handleRequest(
  routes: Routes,
  logger: Logger,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  try {
    const handler = selectHandler(routes, request, response);
    if (handler !== undefined) await handler(request, response);
  } catch (error) {
    logger.error('request failed', {
      method: request.method,
      url: request.url,
      error: describeError(error),
    });
    if (!response.headersSent) {
      sendProblem(response, httpProblem(500, 'The server could not complete the request.'));
    } else {
      response.destroy();
    }
  }
}

/** The handler for the request, or undefined once a problem response has been sent. */
function selectHandler(
  routes: Routes,
  request: IncomingMessage,
  response: ServerResponse,
): Handler | undefined {
  const declaredLength = Number(request.headers['content-length'] ?? 0);
  if (declaredLength > MAX_BODY_BYTES) {
    const detail = `The request body may be at most ${MAX_BODY_BYTES} bytes.`;
    sendProblem(response, httpProblem(413, detail), { connection: 'close' });
    return undefined;
  }
  const pathname = pathnameOf(request.url);
  const methods = pathname === undefined ? undefined : routes.get(pathname);
  if (pathname === undefined || methods === undefined) {
    const detail = `There is nothing at ${pathname ?? 'this path'}.`;
    sendProblem(response, httpProblem(404, detail));
    return undefined;
  }
  const method = request.method === 'HEAD' ? 'GET' : (request.method ?? '');
  const handler = methods.get(method);
  if (handler === undefined) {
    const allow = allowedMethods(methods);
    const detail = `${pathname} accepts ${allow}, not ${request.method}.`;
    sendProblem(response, httpProblem(405, detail), { allow });
  }
  return handler;
}

function pathnameOf(url: string | undefined): string | undefined {
  if (url === undefined || !url.startsWith('/')) return undefined;
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function allowedMethods(methods: ReadonlyMap<string, Handler>): string {
  const names = [...methods.keys()];
  if (methods.has('GET')) names.push('HEAD');
  return names.join(', ');
}

/** Answers requests the HTTP parser rejected (too large, malformed, too slow) with a problem. */
function answerClientError(error: Error, socket: Duplex): void {
  const code = errorCode(error);
  if (code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const problem =
    code === 'HPE_HEADER_OVERFLOW'
      ? httpProblem(431, `The request head may be at most ${MAX_HEADER_BYTES} bytes.`)
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? httpProblem(408, 'The request took too long to arrive.')
        : httpProblem(400, 'The request is not valid HTTP.');
  socket.end(rawProblemResponse(problem));
}
