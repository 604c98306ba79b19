import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  describeAdapterContract,
  failingOnce,
  listen,
  type RunningApp,
} from './adapter-contract.ts';
import type { PaidOutcome } from './core.ts';
import { trackPaidResponse, withPaywall } from './node-http.ts';

describeAdapterContract('node:http', async (paywall) => {
  const flakyFails = failingOnce();
  const crashes = failingOnce();
  const server = createServer(
    withPaywall(paywall, (request, response, paid) => {
      const path = new URL(request.url ?? '/', 'http://localhost').pathname;
      const article = /^\/articles\/([^/]+)$/.exec(path);
      if (path === '/free') return void response.end('free');
      if (article !== null) {
        return void response.end(`article ${article[1]} for ${paid?.receipt.payer}`);
      }
      if (path === '/api/flaky' && flakyFails()) return void response.writeHead(503).end('down');
      if (path === '/api/crash' && crashes()) throw new Error('the backend crashed');
      response.end('ok');
    }),
  );
  return listen(server);
});

describe('trackPaidResponse', () => {
  const responseHeaders = Object.freeze({
    'Payment-Receipt': 'receipt-value',
    'Cache-Control': 'private',
  });
  const settled: number[] = [];
  const paid: PaidOutcome = {
    kind: 'paid',
    receipt: {} as PaidOutcome['receipt'],
    singleUse: false,
    responseHeaders,
    settle: (status) => void settled.push(status),
  };
  const heads: Record<string, (response: ServerResponse) => void> = {
    '/object': (response) => response.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok'),
    '/reason': (response) => response.writeHead(200, 'Fine', { 'X-Mine': '1' }).end('ok'),
    '/raw': (response) => response.writeHead(200, ['X-Raw', '1']).end('ok'),
    '/implicit': (response) => response.end('ok'),
    '/own-cache-control': (response) => {
      response.setHeader('Cache-Control', 'no-cache');
      response.end('ok');
    },
    '/own-in-head': (response) => response.writeHead(200, { 'cache-control': 'max-age=60' }).end(),
    '/not-found': (response) => response.writeHead(404, { 'Content-Type': 'text/plain' }).end(),
  };
  let app: RunningApp;
  before(async () => {
    const server = createServer((request, response) => {
      trackPaidResponse(response, paid);
      heads[request.url ?? '']?.(response);
    });
    app = await listen(server);
  });
  after(() => app.close());

  async function head(path: string): Promise<Response> {
    const response = await fetch(`${app.url}${path}`);
    await response.body?.cancel();
    return response;
  }

  it('adds the paid headers to every form of head the handler writes', async () => {
    for (const path of ['/object', '/reason', '/raw', '/implicit']) {
      const response = await head(path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('payment-receipt'), 'receipt-value', path);
      assert.equal(response.headers.get('cache-control'), 'private', path);
    }
    const reason = await head('/reason');
    assert.equal(reason.statusText, 'Fine');
    assert.equal(reason.headers.get('x-mine'), '1');
    assert.equal((await head('/raw')).headers.get('x-raw'), '1');
    assert.equal((await head('/object')).headers.get('content-type'), 'text/plain');
  });

  it("lets the handler's own header win, set before the head or in it", async () => {
    const set = await head('/own-cache-control');
    assert.equal(set.headers.get('cache-control'), 'no-cache');
    assert.equal(set.headers.get('payment-receipt'), 'receipt-value');
    const inHead = await head('/own-in-head');
    assert.equal(inHead.headers.get('cache-control'), 'max-age=60');
    assert.equal(inHead.headers.get('payment-receipt'), 'receipt-value');
  });

  it('keeps the receipt off an error, and settles with the status of the head', async () => {
    settled.length = 0;
    const response = await head('/not-found');
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('payment-receipt'), null);
    assert.equal(response.headers.get('cache-control'), 'private');
    assert.deepEqual(settled, [404]);
  });
});
