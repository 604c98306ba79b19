/**
 * The paywall benchmark's merchant app (see paywall-bench.ts), run in a child process so that the
 * app and the load generator do not share an event loop:
 *
 *   node --import tsx bench/src/paywall-bench-server.ts '<MerchantConfig as JSON>'
 *
 * A node:http server behind `withPaywall` with two routes answered by the same handler and the
 * same 1 KiB article: `GET /paid/article`, priced (a ticket: `accessPeriodSeconds` above 0, so one
 * credential opens it again and again), and `GET /free/article`, not priced. The platform's keys
 * come from `platformUrl` (the benchmark serves a JWKS on loopback). It listens on 127.0.0.1 (a
 * free port), writes one JSON line (`MerchantReady`) to stdout, then exits on `exit` (or end of
 * input) on stdin.
 *
 * The paywall's options are built by `createBenchPaywall`, which the benchmark also calls to
 * measure `handle()` in its own process with the very same configuration.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createPaywall, type Paywall, withPaywall } from '@mite/middleware';

export interface MerchantConfig {
  /** The (test) platform's base URL; its JWKS is at `/v1/keys`. */
  readonly platformUrl: string;
  /** The challenge secret, hex: the benchmark's in-process paywall shares it. */
  readonly challengeSecretHex: string;
}

export interface MerchantReady {
  readonly type: 'ready';
  readonly baseUrl: string;
  readonly pid: number;
}

export const paidPath = '/paid/article';
export const freePath = '/free/article';
export const merchantId = 'mer_bench';
export const realm = 'bench.mite.test';
export const articlePrice = '0.02';
export const accessPeriodSeconds = 86_400;
/** The article both routes answer. */
export const articleBytes = 1024;

/** The paywall the merchant app runs (and the benchmark measures in process). */
export function createBenchPaywall(config: MerchantConfig): Paywall {
  return createPaywall({
    merchantId,
    realm,
    platformUrl: config.platformUrl,
    challengeSecret: Buffer.from(config.challengeSecretHex, 'hex'),
    routes: [{ method: 'GET', path: paidPath, price: articlePrice, accessPeriodSeconds }],
  });
}

/** A 1 KiB HTML page: the same bytes for the paid and the free route. */
export function articleBody(): Buffer {
  const head = '<!doctype html><html><head><title>Bench article</title></head><body><article><p>';
  const tail = '</p></article></body></html>\n';
  const words = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. ';
  const filler = words.repeat(Math.ceil(articleBytes / words.length));
  const body = `${head}${filler.slice(0, articleBytes - head.length - tail.length)}${tail}`;
  return Buffer.from(body, 'ascii');
}

/** The merchant's handler: the article on both routes, 404 elsewhere. */
function articleHandler(body: Buffer) {
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(body.length),
  };
  return (request: IncomingMessage, response: ServerResponse): void => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (request.method === 'GET' && (path === paidPath || path === freePath)) {
      response.writeHead(200, headers);
      response.end(body);
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('Not Found');
    }
  };
}

async function main(config: MerchantConfig): Promise<void> {
  const handler = articleHandler(articleBody());
  const server = createServer(withPaywall(createBenchPaywall(config), handler));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const ready: MerchantReady = {
    type: 'ready',
    baseUrl: `http://127.0.0.1:${port}`,
    pid: process.pid,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = line.trim();
    if (command === 'exit') break;
    if (command !== '') {
      process.stderr.write(`paywall-bench-server: unknown command ${JSON.stringify(command)}\n`);
    }
  }
  lines.close();
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
}

// The benchmark imports this file for `createBenchPaywall`; only the child runs the server.
const isEntry =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);

if (isEntry) {
  try {
    const arg = process.argv[2];
    if (arg === undefined) throw new Error('usage: paywall-bench-server.ts <config as JSON>');
    await main(JSON.parse(arg) as MerchantConfig);
    process.exit(0);
  } catch (error) {
    process.stderr.write(
      `paywall-bench-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  }
}
