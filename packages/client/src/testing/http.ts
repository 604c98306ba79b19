/**
 * Small node:http helpers shared by the loopback test platform and merchant. Test-only code: it
 * may use Node modules, and is not exported from the package.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A clock the tests move by hand, shared by the client, the platform and the merchant. */
export interface TestClock {
  /** Milliseconds since the epoch. */
  readonly nowMs: () => number;
  readonly nowSeconds: () => number;
  advanceSeconds(seconds: number): void;
}

/** 2027-01-15T08:00:00Z, in whole seconds, unless told otherwise. */
export function createTestClock(startMilliseconds = 1_800_000_000_000): TestClock {
  let nowMs = startMilliseconds;
  return {
    nowMs: () => nowMs,
    nowSeconds: () => Math.floor(nowMs / 1000),
    advanceSeconds(seconds: number) {
      nowMs += seconds * 1000;
    },
  };
}

export const bodyLengthMax = 64 * 1024;

/** Reads a request body as text, at most `bodyLengthMax` bytes. */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of request) {
    const bytes = chunk as Uint8Array;
    length += bytes.length;
    if (length > bodyLengthMax) throw new RangeError('body too large');
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

export interface RunningServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 with an ephemeral port. */
export async function listen(
  handler: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<RunningServer> {
  const server = createServer((request, response) => {
    handler(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendJson(response, 500, { title: 'test server failure', detail: String(error) });
      } else {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
}
