/**
 * The demo's merchant site: a few paid articles behind `@mite/middleware` (node:http), selling
 * for one of the demo merchants, so that `mite pay` and the client SDK have something real to buy.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createPaywall, withPaywall } from '@mite/middleware';
import { baseUrl } from './run-platform.ts';

export const demoSiteSecretFileName = 'demo-site-secret';
export const demoArticlePrice = '0.02';
/** An article stays open for a day after it was bought. */
export const demoArticleAccessSeconds = 86_400;

const articles: Readonly<Record<string, { title: string; text: string }>> = {
  'mites-in-the-machine': {
    title: 'Mites in the machine',
    text: 'How a payment of two cents can cost less than the card fee it used to carry.',
  },
  'the-402-comeback': {
    title: 'The 402 comeback',
    text: 'HTTP reserved a status code for payments in 1997. It is finally being used.',
  },
  'budgets-not-subscriptions': {
    title: 'Budgets, not subscriptions',
    text: 'Readers set a daily budget; the wallet pays inside it, and never twice for a page.',
  },
};

export interface DemoSite {
  readonly url: string;
  /** One article's URL, for the banner. */
  readonly articleUrl: string;
  close(): Promise<void>;
}

export async function startDemoSite(options: {
  readonly platformUrl: string;
  readonly merchantId: string;
  readonly host: string;
  readonly dataDir: string;
}): Promise<DemoSite> {
  const paywall = createPaywall({
    merchantId: options.merchantId,
    realm: 'The Daily Mite (demo)',
    platformUrl: options.platformUrl,
    challengeSecret: loadSecret(options.dataDir),
    routes: [
      {
        method: 'GET',
        path: '/articles/:slug',
        price: demoArticlePrice,
        description: 'One article of The Daily Mite',
        category: 'content',
        accessPeriodSeconds: demoArticleAccessSeconds,
      },
    ],
  });
  const server = createServer(
    withPaywall(paywall, (request, response) => {
      const slug = /^\/articles\/([a-z0-9-]+)$/.exec(request.url ?? '')?.[1];
      const article = slug === undefined ? undefined : articles[slug];
      if (request.url === '/' || request.url === '') {
        sendIndex(response);
        return;
      }
      if (article === undefined) {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        response.end('no such article\n');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      response.end(`${article.title}\n\n${article.text}\n`);
    }),
  );
  const url = await listen(server, options.host);
  return {
    url,
    articleUrl: `${url}/articles/${Object.keys(articles)[0] ?? ''}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function sendIndex(response: ServerResponse): void {
  const lines = Object.entries(articles).map(
    ([slug, article]) => `  /articles/${slug}  ${article.title} (${demoArticlePrice})`,
  );
  response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  response.end(`The Daily Mite (demo): paid articles\n${lines.join('\n')}\n`);
}

/** Kept in the data directory, so receipts stay valid across restarts of the demo. */
function loadSecret(dataDir: string): Uint8Array {
  const file = path.join(dataDir, demoSiteSecretFileName);
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  } catch {
    const secret = randomBytes(32);
    writeFileSync(file, `${secret.toString('base64url')}\n`, { mode: 0o600 });
    return secret;
  }
}

function listen(server: Server, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(baseUrl(host, (server.address() as AddressInfo).port)));
  });
}
