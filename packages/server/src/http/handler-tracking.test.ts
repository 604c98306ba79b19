import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { handlersDrainWaitMs, installHandlerTracking } from './handler-tracking.ts';
import { type CapturedLog, captureLog, listenOnLoopback } from './testing.ts';

/**
 * Sends a request and destroys the socket once the handler has started, then waits until the
 * server has seen its end of the connection close (`serverSideClosed`, from the handler).
 */
async function abandonRequest(
  baseUrl: string,
  path: string,
  started: Promise<void>,
  serverSideClosed: Promise<void>,
) {
  const sent = request(`${baseUrl}${path}`);
  sent.on('error', () => {}); // the socket is destroyed on purpose
  sent.end();
  await started;
  sent.destroy();
  await serverSideClosed;
}

function deferred() {
  let resolve = (): void => {};
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/** More turns of the event loop than closing an app with nothing to wait for takes. */
const closingTurnsMax = 10_000;

/** Turns of the event loop until `msg` is logged: waiting on the app, not on time. */
async function logged(log: CapturedLog, msg: string): Promise<void> {
  for (let turn = 0; !log.entries().some((entry) => entry.msg === msg); turn++) {
    assert.ok(turn < closingTurnsMax, `never logged: ${msg}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A few turns of the event loop, for anything already due to happen. */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * An app with handler tracking (at most `drainWaitMs` of waiting) and a route whose handler
 * starts, notes when its client's connection closes, and waits for `release`.
 */
async function appWithHangingRoute(drainWaitMs: number, release: Promise<void>) {
  const log = captureLog('info');
  const app = Fastify({ loggerInstance: log.logger as FastifyBaseLogger });
  installHandlerTracking(app, drainWaitMs);
  const started = deferred();
  const closed = deferred();
  const finished: string[] = [];
  app.get('/slow', async (request) => {
    request.raw.socket.once('close', closed.resolve);
    started.resolve();
    await release;
    finished.push('slow');
    return { ok: true };
  });
  app.get('/sync', (_request, reply) => reply.send({ ok: true }));
  const listening = await listenOnLoopback(app);
  const abandon = () => abandonRequest(listening.baseUrl, '/slow', started.promise, closed.promise);
  return { log, listening, finished, abandon };
}

/** Starts closing; `closed()` says whether it has finished. */
function startClosing(listening: { close(): Promise<void> }) {
  let done = false;
  const closing = listening.close().then(() => {
    done = true;
  });
  return { closing, closed: () => done };
}

test('closing waits for a handler whose client went away, then returns', async (t) => {
  const release = deferred();
  const { log, listening, finished, abandon } = await appWithHangingRoute(
    handlersDrainWaitMs,
    release.promise,
  );
  assert.equal((await fetch(`${listening.baseUrl}/sync`)).status, 200);
  await abandon();
  // The drain wait's timer on a clock the test moves: only the handler can end the wait.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { closing, closed } = startClosing(listening);
  await logged(log, 'waiting for route handlers to finish');
  t.mock.timers.tick(handlersDrainWaitMs - 1);
  await turns();
  assert.equal(closed(), false, 'close waits while the handler runs');
  release.resolve();
  await closing;
  assert.deepEqual(finished, ['slow']);
  assert.ok(log.entries().some((entry) => entry.msg === 'waited for route handlers to finish'));
});

test('closing gives up on a handler that never ends, after the wait, and says so', async (t) => {
  const drainWaitMs = 200;
  const { log, listening, abandon } = await appWithHangingRoute(drainWaitMs, new Promise(() => {}));
  await abandon();
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { closing, closed } = startClosing(listening);
  await logged(log, 'waiting for route handlers to finish');
  t.mock.timers.tick(drainWaitMs - 1);
  await turns();
  assert.equal(closed(), false, 'still waiting just before the wait is over');
  t.mock.timers.tick(1);
  await closing;
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
