/**
 * For tests: a merchant's webhook receiver, a real HTTP server on loopback that records what it
 * is sent and answers as told.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

export interface ReceivedWebhook {
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>/hooks`. */
  readonly url: string;
  readonly received: ReceivedWebhook[];
  /** What the next requests are answered: a status, or never (to test timeouts). */
  answer: (request: ReceivedWebhook) => number | 'hang' | Promise<number>;
  /** Resolves once `count` webhooks have been received (on their arrival, not a timer). */
  arrived(count: number): Promise<void>;
}

/** A receiver answering 200 until told otherwise, closed when the test ends. */
export async function startReceiver(t: TestContext): Promise<Receiver> {
  const waiting: { count: number; wake: () => void }[] = [];
  const receiver: Receiver = {
    url: '',
    received: [],
    answer: () => 200,
    arrived: (count) =>
      receiver.received.length >= count
        ? Promise.resolve()
        : new Promise((wake) => waiting.push({ count, wake })),
  };
  const wakeWaiters = (): void => {
    for (const waiter of waiting.filter((w) => receiver.received.length >= w.count)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.wake();
    }
  };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received = {
        headers: flatHeaders(request.headers),
        body: Buffer.concat(chunks).toString('utf8'),
      };
      receiver.received.push(received);
      wakeWaiters();
      void Promise.resolve(receiver.answer(received)).then((status) => {
        if (status === 'hang') return;
        response.writeHead(status, { 'content-type': 'text/plain' }).end('thanks');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, { url: `http://127.0.0.1:${port}/hooks` });
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
