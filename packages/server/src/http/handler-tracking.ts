/**
 * Closing the app waits for every route handler still running, not only for open connections.
 *
 * fastify's close waits for the requests whose connections are open. A client that disconnects
 * mid-purchase leaves its handler running with no connection to wait for: without this, the
 * platform would close its databases under that handler, which then fails halfway ("driver has
 * already been destroyed") and leaves its payment for the reconciler. Handlers are counted from
 * the start of the route handler to the settling of what it returns; `onClose` (which runs once
 * the connections are done) waits for the count to reach zero, `handlersDrainWaitMs` at most.
 * The writes those handlers queued are the database's to finish before it closes (the platform
 * drains its transaction batcher).
 */
import type { FastifyInstance } from 'fastify';

/** How long closing the app waits for handlers whose clients went away. */
export const handlersDrainWaitMs = 10_000;

export function installHandlerTracking(
  app: FastifyInstance,
  drainWaitMs: number = handlersDrainWaitMs,
): void {
  let running = 0;
  const drained: (() => void)[] = [];
  const settle = (): void => {
    running--;
    if (running === 0) for (const resolve of drained.splice(0)) resolve();
  };
  // What a handler returns is sent after it settles, and onSend hooks (the idempotency record's
  // write) start in the microtasks that follow: counted until the next turn of the event loop,
  // a handler's response has queued its writes by the time the count reaches zero.
  const settleNextTurn = (): void => {
    setImmediate(settle);
  };

  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function trackedHandler(this: FastifyInstance, request, reply) {
      running++;
      let result: unknown;
      try {
        result = handler.call(this, request, reply);
      } catch (error) {
        settleNextTurn();
        throw error;
      }
      if (!(result instanceof Promise)) {
        settleNextTurn();
        return result;
      }
      return result.finally(settleNextTurn);
    };
  });

  app.addHook('onClose', async (instance) => {
    if (running === 0) return;
    const stillRunning = running;
    instance.log.info({ handlers: stillRunning }, 'waiting for route handlers to finish');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      new Promise<false>((resolve) => drained.push(() => resolve(false))),
      new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), drainWaitMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      instance.log.warn(
        { handlers: running, waitedMs: drainWaitMs },
        'closing with route handlers still running',
      );
    } else {
      instance.log.info({ handlers: stillRunning }, 'waited for route handlers to finish');
    }
  });
}
