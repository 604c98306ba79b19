import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { installHandlerTracking } from './handler-tracking.ts';
import { captureLog, listenOnLoopback } from './testing.ts';

/** Sends a request and destroys the socket once the handler has started. */
async function abandonRequest(baseUrl: string, path: string, started: Promise<void>) {
  const sent = request(`${baseUrl}${path}`);
  sent.on('error', () => {}); // the socket is destroyed on purpose
  sent.end();
  await started;
  sent.destroy();
  // Let the server see the connection go before it is asked to close.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

function deferred() {
  let resolve = (): void => {};
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

test('closing waits for a handler whose client went away, then returns', async () => {
  const log = captureLog('info');
  const app = Fastify({ loggerInstance: log.logger as FastifyBaseLogger });
  installHandlerTracking(app);
  const started = deferred();
  const release = deferred();
  const finished: string[] = [];
  app.get('/slow', async () => {
    started.resolve();
    await release.promise;
    finished.push('slow');
    return { ok: true };
  });
  app.get('/sync', (_request, reply) => reply.send({ ok: true }));
  const listening = await listenOnLoopback(app);
  assert.equal((await fetch(`${listening.baseUrl}/sync`)).status, 200);
  await abandonRequest(listening.baseUrl, '/slow', started.promise);

  let closed = false;
  const closing = listening.close().then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(closed, false, 'close waits while the handler runs');
  release.resolve();
  await closing;
  assert.deepEqual(finished, ['slow']);
  assert.ok(log.entries().some((entry) => entry.msg === 'waited for route handlers to finish'));
});

test('closing gives up on a handler that never ends, after the wait, and says so', async () => {
  const log = captureLog('info');
  const app = Fastify({ loggerInstance: log.logger as FastifyBaseLogger });
  installHandlerTracking(app, 200);
  const started = deferred();
  app.get('/stuck', async () => {
    started.resolve();
    await new Promise(() => {});
  });
  const listening = await listenOnLoopback(app);
  await abandonRequest(listening.baseUrl, '/stuck', started.promise);
  const closeStarted = performance.now();
  await listening.close();
  assert.ok(performance.now() - closeStarted >= 190);
  const warning = log
    .entries()
    .find((entry) => entry.msg === 'closing with route handlers still running');
  assert.equal(warning?.handlers, 1);
});

test('a handler that throws is no longer counted', async () => {
  const app = Fastify({ logger: false });
  installHandlerTracking(app, 5_000);
  app.get('/throws', () => {
    throw new Error('expected');
  });
  app.get('/rejects', async () => {
    throw new Error('expected');
  });
  const listening = await listenOnLoopback(app);
  assert.equal((await fetch(`${listening.baseUrl}/throws`)).status, 500);
  assert.equal((await fetch(`${listening.baseUrl}/rejects`)).status, 500);
  const closeStarted = performance.now();
  await listening.close();
  assert.ok(performance.now() - closeStarted < 1_000, 'nothing left to wait for');
});
