import { createServer } from 'node:http';
import { describeAdapterContract, failingOnce, listen } from './adapter-contract.ts';
import { withPaywall } from './node-http.ts';

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
