import { type ServerResponse, STATUS_CODES } from 'node:http';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * An RFC 9457 problem. Plain HTTP errors use the type `about:blank`, whose title is the status
 * phrase (RFC 9457 section 4.2.1); domain errors will get their own stable types.
 */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
}

/** A problem that means no more than its HTTP status. */
export function httpProblem(status: number, detail: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail };
}

export function sendProblem(
  response: ServerResponse,
  problem: Problem,
  headers: Readonly<Record<string, string>> = {},
): void {
  sendJson(response, problem.status, problem, { ...headers, 'content-type': PROBLEM_CONTENT_TYPE });
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...headers,
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

/** A complete raw HTTP/1.1 response carrying a problem, for sockets the parser gave up on. */
export function rawProblemResponse(problem: Problem): string {
  const text = JSON.stringify(problem);
  return [
    `HTTP/1.1 ${problem.status} ${problem.title}`,
    `content-type: ${PROBLEM_CONTENT_TYPE}`,
    `content-length: ${Buffer.byteLength(text)}`,
    'connection: close',
    '',
    text,
  ].join('\r\n');
}
