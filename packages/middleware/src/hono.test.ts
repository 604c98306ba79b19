import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describeAdapterContract, failingOnce, listen } from './adapter-contract.ts';
import { honoPaywall, type PaywallEnv } from './hono.ts';

describeAdapterContract('Hono', async (paywall) => {
  const flakyFails = failingOnce();
  const crashes = failingOnce();
  const app = new Hono<PaywallEnv>();
  app.use(honoPaywall(paywall));
  app.get('/free', (c) => c.text('free'));
  app.get('/articles/:id', (c) => {
    return c.text(`article ${c.req.param('id')} for ${c.get('miteReceipt')?.payer}`);
  });
  app.get('/api/flaky', (c) => (flakyFails() ? c.text('down', 503) : c.text('ok')));
  app.get('/api/crash', (c) => {
    if (crashes()) throw new Error('the backend crashed');
    return c.text('ok');
  });
  // Hono's default handler would log the error; this one answers the same 500 quietly.
  app.onError((_error, c) => c.text('crashed', 500));
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) =>
    server.listening ? resolve() : server.once('listening', resolve),
  );
  return listen(server);
});
