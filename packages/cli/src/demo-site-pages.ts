/**
 * The news demo site's pages for browsers: an index of the articles and, for each article, a page
 * with its title and the `<mite-paywall>` element, which loads from the platform (`/paywall.js`)
 * and reads the article's price from the site's own 402. Programs (`mite pay`, the client SDK,
 * curl) never get these pages: only a request that asks for HTML by name and carries no payment
 * does, and everything else goes through the paywall as before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface DemoArticle {
  readonly title: string;
  readonly text: string;
  /** The price, when not the site's default. */
  readonly price?: string;
}

/** Where the platform serves the paywall's script (packages/server/src/web/web-apps.ts). */
const paywallScriptPath = '/paywall.js';

/** The site's one stylesheet, served by the site itself. */
export const siteStylesheetPath = '/site.css';

const siteName = 'The Daily Mite';

const stylesheet = `body{font:17px/1.6 Georgia,serif;margin:0;color:#1a1a1a;background:#fbfaf7}
header{border-bottom:3px double #1a1a1a;padding:1rem 1.5rem}
header a{color:#1a1a1a;font-weight:700;font-size:1.4rem;text-decoration:none}
main{max-width:42rem;margin:0 auto;padding:1rem 1.5rem 3rem}
a{color:#0b4fa8}
.standfirst{font-style:italic}
.demo-note{font:14px/1.4 system-ui,sans-serif;color:#4a4a4a}
`;

/** Whether a request is a browser's page load: HTML asked for by name, and no payment carried. */
export function wantsPage(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (request.headers.authorization !== undefined) return false;
  if (request.headers['payment-signature'] !== undefined) return false;
  const accept = request.headers.accept ?? '';
  return accept.split(',').some((range) => range.trim().toLowerCase().startsWith('text/html'));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.codePointAt(0) ?? 0};`);
}

/**
 * The pages' policy: scripts only from the platform (the paywall), styles from this site (and
 * the element's own constructed stylesheet, which needs no 'unsafe-inline'), fetches to this site
 * only (the element fetches the article here; it pays in the platform's window, not by fetch).
 */
function pageHeaders(platformOrigin: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${platformOrigin}`,
      "style-src 'self'",
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    vary: 'Accept, Authorization',
    'cache-control': 'no-cache',
  };
}

function page(title: string, platformUrl: string, body: string): string {
  const script = new URL(paywallScriptPath, platformUrl).href;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${siteStylesheetPath}">
<script type="module" src="${escapeHtml(script)}"></script></head>
<body><header><a href="/">${siteName}</a></header>
<main>${body}</main></body></html>
`;
}

export function sendPage(response: ServerResponse, platformUrl: string, html: string): void {
  response.writeHead(200, pageHeaders(new URL(platformUrl).origin));
  response.end(html);
}

export function sendStylesheet(response: ServerResponse): void {
  response.writeHead(200, {
    'content-type': 'text/css; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
  });
  response.end(stylesheet);
}

/** The index: every article with its price. */
export function indexPage(
  articles: Readonly<Record<string, DemoArticle>>,
  defaultPrice: string,
  platformUrl: string,
): string {
  const items = Object.entries(articles)
    .map(
      ([slug, article]) =>
        `<li><a href="/articles/${encodeURIComponent(slug)}">${escapeHtml(article.title)}</a> ` +
        `($${escapeHtml(article.price ?? defaultPrice)})</li>`,
    )
    .join('\n');
  return page(
    `${siteName} (demo)`,
    platformUrl,
    `<h1>${siteName}</h1><p class="standfirst">Paid articles, a few cents each, paid from a Mite wallet.</p>
<ul>${items}</ul>
<p class="demo-note">A demo site: its articles are sold through the Mite platform at ${escapeHtml(platformUrl)}.</p>`,
  );
}

/** An article's page: its title and the paywall, which opens the text once paid. */
export function articlePage(slug: string, article: DemoArticle, platformUrl: string): string {
  const src = `/articles/${encodeURIComponent(slug)}`;
  return page(
    `${article.title} · ${siteName}`,
    platformUrl,
    `<article><h1>${escapeHtml(article.title)}</h1>
<mite-paywall platform="${escapeHtml(platformUrl)}" src="${src}"></mite-paywall></article>
<p><a href="/">All articles</a></p>`,
  );
}
