/**
 * The demo's merchant site: a few paid articles behind `@mite/middleware` (node:http), selling
 * for one of the demo merchants, so that `mite pay` and the client SDK have something real to buy.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createPaywall, pathSegments, withPaywall } from '@mite/middleware';
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
    // Only what exists is priced, each article by its own route (so the price list names them
    // all): an unknown article matches no route and gets the handler's 404, never a 402. A site
    // whose articles come and go would price `/articles/:slug` with a function that answers
    // undefined ("not priced") for a slug it does not have.
    routes: Object.keys(articles).map((slug) => ({
      method: 'GET',
      path: `/articles/${slug}`,
      price: demoArticlePrice,
      description: 'One article of The Daily Mite',
      category: 'content',
      accessPeriodSeconds: demoArticleAccessSeconds,
    })),
  });
  const server = createServer(
    withPaywall(paywall, (request, response) => {
      // The paywall's own reading of the path, so that what it priced is what is served here.
      const segments = pathSegments((request.url ?? '/').split('?', 1)[0] ?? '/');
      const isIndex = segments.length === 0;
      const article =
        segments.length === 2 && segments[0]?.toLowerCase() === 'articles'
          ? articleOf(segments[1])
          : undefined;
      if (!isIndex && article === undefined) {
        sendText(response, 404, 'no such article\n');
        return;
      }
      // Only GET (and HEAD) is sold or served: another method is no free read.
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        sendText(response, 405, `${request.method ?? ''} is not allowed here: GET or HEAD\n`, {
          allow: 'GET, HEAD',
        });
        return;
      }
      if (article === undefined) sendIndex(response);
      else sendText(response, 200, `${article.title}\n\n${article.text}\n`);
    }),
  );
  const url = await listen(server, options.host);
  return {
    url,
    articleUrl: `${url}/articles/${Object.keys(articles)[0] ?? ''}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * The article of a path segment as the paywall matched it (literal segments compare without
 * case); undefined for one that does not exist.
 */
function articleOf(segment: string | undefined): { title: string; text: string } | undefined {
  const slug = segment?.toLowerCase();
  return slug !== undefined && Object.hasOwn(articles, slug) ? articles[slug] : undefined;
}

function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(text);
}

function sendIndex(response: ServerResponse): void {
  const lines = Object.entries(articles).map(
    ([slug, article]) => `  /articles/${slug}  ${article.title} (${demoArticlePrice})`,
  );
  sendText(response, 200, `The Daily Mite (demo): paid articles\n${lines.join('\n')}\n`);
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
