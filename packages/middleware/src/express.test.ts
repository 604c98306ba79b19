import { createServer } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { describeAdapterContract, failingOnce, listen } from './adapter-contract.ts';
import { expressPaywall } from './express.ts';

describeAdapterContract('Express', async (paywall) => {
  const flakyFails = failingOnce();
  const crashes = failingOnce();
  const app = express();
  app.use(expressPaywall(paywall));
  app.get('/free', (_request, response) => void response.send('free'));
  app.get('/articles/:id', (request, response) => {
    response.send(`article ${request.params['id']} for ${request.miteReceipt?.payer}`);
  });
  app.get('/api/flaky', (_request, response) => {
    if (flakyFails()) response.status(503).send('down');
    else response.send('ok');
  });
  app.get('/api/crash', (_request, response) => {
    if (crashes()) throw new Error('the backend crashed');
    response.send('ok');
  });
  // Express's default handler would log the stack; this one answers the same 500 quietly.
  app.use((_error: unknown, _request: Request, response: Response, _next: NextFunction) => {
    response.status(500).send('crashed');
  });
  return listen(createServer(app));
});
