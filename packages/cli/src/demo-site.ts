/**
 * The demo's merchant site: a few paid articles behind `@mite/middleware` (node:http), selling
 * for one of the demo merchants, so that `mite pay` and the client SDK have something real to buy.
 * A browser that opens an article gets its page with the `<mite-paywall>` element instead
 * (demo-site-pages.ts); the element then buys the article through the same 402.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createPaywall, pathSegments, withPaywall } from '@mite/middleware';
import {
  articlePage,
  type DemoArticle,
  indexPage,
  sendPage,
  sendStylesheet,
  siteStylesheetPath,
  wantsPage,
} from './demo-site-pages.ts';
import { loadSecret, refusedMethod, sendText, startSite } from './demo-site-kit.ts';

export const demoSiteSecretFileName = 'demo-site-secret';
export const demoArticlePrice = '0.02';
/** An article stays open for a day after it was bought. */
export const demoArticleAccessSeconds = 86_400;

const demoArticles: Readonly<Record<string, DemoArticle>> = {
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
  /**
   * The merchant's API key with the tokens:deposit scope: the site then takes tokens too (a
   * "mite-token" challenge beside "mite"), depositing them with this key before it serves.
   */
  readonly apiKey?: string;
  readonly host: string;
  readonly dataDir: string;
  /** The articles sold, by slug (the demo's own by default; tests sell others, at other prices). */
  readonly articles?: Readonly<Record<string, DemoArticle>>;
}): Promise<DemoSite> {
  const articles = options.articles ?? demoArticles;
  const site = await startSite(options.host, (origin) =>
    siteHandler(articles, { ...options, origin }),
  );
  return { ...site, articleUrl: `${site.url}/articles/${Object.keys(articles)[0] ?? ''}` };
}

/** The site's requests: its pages for browsers, its stylesheet, and the rest behind the paywall. */
function siteHandler(
  articles: Readonly<Record<string, DemoArticle>>,
  options: {
    readonly platformUrl: string;
    readonly merchantId: string;
    readonly apiKey?: string;
    readonly dataDir: string;
    readonly origin: string;
  },
): (request: IncomingMessage, response: ServerResponse) => void {
  const paywall = createPaywall({
    merchantId: options.merchantId,
    ...(options.apiKey === undefined ? {} : { tokens: { apiKey: options.apiKey } }),
    // Challenges name each article by its full URL, so that a payment window checking whose
    // resource it is (resourceIsOnOrigin) pays for this site's articles only when this site asks.
    origin: options.origin,
    realm: 'The Daily Mite (demo)',
    platformUrl: options.platformUrl,
    challengeSecret: loadSecret(options.dataDir, demoSiteSecretFileName),
    // Only what exists is priced, each article by its own route (so the price list names them
    // all): an unknown article matches no route and gets the handler's 404, never a 402. A site
    // whose articles come and go would price `/articles/:slug` with a function that answers
    // undefined ("not priced") for a slug it does not have.
    routes: Object.entries(articles).map(([slug, article]) => ({
      method: 'GET',
      path: `/articles/${slug}`,
      price: article.price ?? demoArticlePrice,
      description: 'One article of The Daily Mite',
      category: 'content',
      accessPeriodSeconds: demoArticleAccessSeconds,
    })),
  });
  const find = (url: string | undefined) => {
    // The paywall's own reading of the path, so that what it priced is what is served here.
    const segments = pathSegments((url ?? '/').split('?', 1)[0] ?? '/');
    const slug =
      segments.length === 2 && segments[0]?.toLowerCase() === 'articles'
        ? articleSlug(articles, segments[1])
        : undefined;
    return {
      isIndex: segments.length === 0,
      slug,
      article: slug === undefined ? undefined : articles[slug],
    };
  };
  const paywalled = withPaywall(paywall, (request, response) => {
    const { isIndex, article } = find(request.url);
    if (!isIndex && article === undefined) {
      sendText(response, 404, 'no such article\n');
      return;
    }
    // Only GET (and HEAD) is sold or served: another method is no free read.
    if (refusedMethod(request, response)) return;
    if (article === undefined) sendIndex(response, articles);
    else sendText(response, 200, `${article.title}\n\n${article.text}\n`);
  });
  return (request, response) => {
    const { isIndex, slug, article } = find(request.url);
    const pathname = (request.url ?? '/').split('?', 1)[0];
    if (pathname === siteStylesheetPath && request.method === 'GET') {
      sendStylesheet(response);
    } else if (wantsPage(request) && isIndex) {
      sendPage(response, indexPage(articles, demoArticlePrice, options.platformUrl));
    } else if (wantsPage(request) && slug !== undefined && article !== undefined) {
      sendPage(response, articlePage(slug, article, options.platformUrl));
    } else {
      paywalled(request, response);
    }
  };
}

/**
 * The slug of a path segment as the paywall matched it (literal segments compare without case);
 * undefined for an article that does not exist.
 */
function articleSlug(
  articles: Readonly<Record<string, DemoArticle>>,
  segment: string | undefined,
): string | undefined {
  const slug = segment?.toLowerCase();
  return slug !== undefined && Object.hasOwn(articles, slug) ? slug : undefined;
}

function sendIndex(
  response: ServerResponse,
  articles: Readonly<Record<string, DemoArticle>>,
): void {
  const lines = Object.entries(articles).map(
    ([slug, article]) =>
      `  /articles/${slug}  ${article.title} (${article.price ?? demoArticlePrice})`,
  );
  sendText(response, 200, `The Daily Mite (demo): paid articles\n${lines.join('\n')}\n`);
}
