import assert from 'node:assert/strict';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Ledger, openLedger } from '@mite/ledger';
import { tempDir } from '@mite/testkit';
import type { Logger } from './logger.ts';
import { createServer, MAX_BODY_BYTES, MAX_HEADER_BYTES } from './server.ts';

const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };

describe('createServer', () => {
  let ledger: Ledger;
  let server: http.Server;
  let base: string;

  before(async () => {
    ledger = await openLedger({ url: `sqlite:${tempDir('mite-server-')}/ledger.sqlite` });
    server = createServer({ ledger, logger: silentLogger });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await ledger.close();
  });

  it('answers GET /healthz with 200 {"status":"ok"}', async () => {
    const response = await fetch(`${base}/healthz`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(await response.json(), { status: 'ok' });
  });

  it('ignores the query string and answers HEAD without a body', async () => {
    assert.equal((await fetch(`${base}/healthz?probe=1`)).status, 200);
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('answers an unknown path with a problem+json 404', async () => {
    const response = await fetch(`${base}/nope`);
    assert.equal(response.status, 404);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(await response.json(), {
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'There is nothing at /nope.',
    });
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const response = await fetch(`${base}/healthz`, { method: 'POST', body: '{}' });
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'GET, HEAD');
    const problem = (await response.json()) as { status: number; title: string };
    assert.equal(problem.status, 405);
    assert.equal(problem.title, 'Method Not Allowed');
  });

  it('refuses a body larger than the limit with 413', async () => {
    const response = await rawRequest(
      base,
      `POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /application\/problem\+json/);
  });

  it('refuses headers larger than the limit with a problem+json 431', async () => {
    const big = 'a'.repeat(MAX_HEADER_BYTES + 1);
    const response = await rawRequest(
      base,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${big}\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 431 /);
    assert.match(response, /"status":431/);
  });

  it('answers malformed HTTP with a problem+json 400', async () => {
    const response = await rawRequest(base, 'NOT HTTP AT ALL\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 400 /);
    assert.match(response, /"type":"about:blank"/);
  });
});

/** Sends raw bytes and returns everything the server answers until it closes the connection. */
function rawRequest(base: string, request: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}
