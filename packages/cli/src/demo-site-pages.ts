/**
 * The news demo site's pages for browsers: an index of the articles and, for each article, a page
 * with its title and the `<mite-paywall>` element, which loads from the platform (`/paywall.js`)
 * and reads the article's price from the site's own 402. Programs (`mite pay`, the client SDK,
 * curl) never get these pages: only a request that asks for HTML by name and carries no payment
 * does, and everything else goes through the paywall as before.
 */
import type { ServerResponse } from 'node:http';
import { escapeHtml, sendAsset, sendSitePage, type SitePage } from './demo-site-kit.ts';

export { wantsPage } from './demo-site-kit.ts';

export interface DemoArticle {
  readonly title: string;
  readonly text: string;
  /** The price, when not the site's default. */
  readonly price?: string;
}

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

function page(title: string, platformUrl: string, body: string): SitePage {
  return { siteName, title, platformUrl, stylesheetPath: siteStylesheetPath, body };
}

export function sendPage(response: ServerResponse, page: SitePage): void {
  sendSitePage(response, page);
}

export function sendStylesheet(response: ServerResponse): void {
  sendAsset(response, 'text/css', stylesheet);
}

/** The index: every article with its price. */
export function indexPage(
  articles: Readonly<Record<string, DemoArticle>>,
  defaultPrice: string,
  platformUrl: string,
): SitePage {
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
export function articlePage(slug: string, article: DemoArticle, platformUrl: string): SitePage {
  const src = `/articles/${encodeURIComponent(slug)}`;
  return page(
    `${article.title} · ${siteName}`,
    platformUrl,
    `<article><h1>${escapeHtml(article.title)}</h1>
<mite-paywall platform="${escapeHtml(platformUrl)}" src="${src}"></mite-paywall></article>
<p><a href="/">All articles</a></p>`,
  );
}
