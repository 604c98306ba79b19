import Fastify from 'fastify';
import { describeAdapterContract, failingOnce } from './adapter-contract.ts';
import { fastifyPaywall } from './fastify.ts';

describeAdapterContract('Fastify', async (paywall) => {
  const flakyFails = failingOnce();
  const crashes = failingOnce();
  const app = Fastify();
  await app.register(fastifyPaywall(paywall));
  app.get('/free', async () => 'free');
  app.get<{ Params: { id: string } }>('/articles/:id', async (request) => {
    return `article ${request.params.id} for ${request.miteReceipt?.payer}`;
  });
  app.get('/api/flaky', async (_request, reply) => {
    if (flakyFails()) return reply.code(503).send('down');
    return 'ok';
  });
  app.get('/api/crash', async () => {
    if (crashes()) throw new Error('the backend crashed');
    return 'ok';
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
});
