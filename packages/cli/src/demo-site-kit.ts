/**
 * What the demo's merchant sites share (the news site, the game shop, the tip jar): listening on
 * a free port, the challenge secret kept in the data directory, plain-text answers, and pages
 * that load the `<mite-paywall>` element from the platform under a strict policy of their own.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { baseUrl } from './run-platform.ts';

/** Where the platform serves the paywall's script (packages/server/src/web/web-apps.ts). */
const paywallScriptPath = '/paywall.js';

/** Whether a request is a browser's page load: HTML asked for by name, and no payment carried. */
export function wantsPage(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (request.headers.authorization !== undefined) return false;
  if (request.headers['payment-signature'] !== undefined) return false;
  const accept = request.headers.accept ?? '';
  return accept.split(',').some((range) => range.trim().toLowerCase().startsWith('text/html'));
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.codePointAt(0) ?? 0};`);
}

/** The path of a request without its query. */
export function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?', 1)[0] ?? '/';
}

/**
 * The pages' policy: scripts only from the platform (the paywall) and, for a site with a script
 * of its own, from the site; styles from the site (and the element's own constructed stylesheet,
 * which needs no 'unsafe-inline'); fetches to the site only (the element fetches what it sells
 * here; it pays in the platform's window, not by fetch).
 */
function pageHeaders(platformOrigin: string, ownScript: boolean): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      ownScript ? `script-src 'self' ${platformOrigin}` : `script-src ${platformOrigin}`,
      "style-src 'self'",
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    vary: 'Accept, Authorization, Cookie',
    'cache-control': 'no-cache',
  };
}

export interface SitePage {
  /** The site's name, in the header, linking to its home. */
  readonly siteName: string;
  readonly title: string;
  readonly platformUrl: string;
  readonly stylesheetPath: string;
  /** The site's own module script, if it has one. */
  readonly scriptPath?: string;
  /** The platform's element script the page loads (default: the paywall's). */
  readonly platformScriptPath?: string;
  /** The page's main content, as HTML (escaped by the caller). */
  readonly body: string;
}

export function sitePage(page: SitePage): string {
  const paywall = new URL(page.platformScriptPath ?? paywallScriptPath, page.platformUrl).href;
  const own =
    page.scriptPath === undefined
      ? ''
      : `\n<script type="module" src="${page.scriptPath}"></script>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${page.stylesheetPath}">
<script type="module" src="${escapeHtml(paywall)}"></script>${own}</head>
<body><header><a href="/">${escapeHtml(page.siteName)}</a></header>
<main>${page.body}</main></body></html>
`;
}

export function sendSitePage(
  response: ServerResponse,
  page: SitePage,
  headers: Record<string, string> = {},
): void {
  response.writeHead(200, {
    ...pageHeaders(new URL(page.platformUrl).origin, page.scriptPath !== undefined),
    ...headers,
  });
  response.end(sitePage(page));
}

/** A stylesheet or script of the site's own. */
export function sendAsset(
  response: ServerResponse,
  contentType: 'text/css' | 'text/javascript',
  text: string,
): void {
  response.writeHead(200, {
    'content-type': `${contentType}; charset=utf-8`,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
  });
  response.end(text);
}

export function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(text);
}

/** Only GET (and HEAD) is sold or served: another method is no free purchase. Answers whether. */
export function refusedMethod(request: IncomingMessage, response: ServerResponse): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  sendText(response, 405, `${request.method ?? ''} is not allowed here: GET or HEAD\n`, {
    allow: 'GET, HEAD',
  });
  return true;
}

/** A site's challenge secret, kept in the data directory so receipts stay valid across restarts. */
export function loadSecret(dataDir: string, fileName: string): Uint8Array {
  const file = path.join(dataDir, fileName);
  try {
    return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  } catch {
    const secret = randomBytes(32);
    writeFileSync(file, `${secret.toString('base64url')}\n`, { mode: 0o600 });
    return secret;
  }
}

export type SiteHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Starts a site on a free port of `host`. Its handler is made once the site's URL is known (its
 * paywall names full URLs); until then (never in practice) it answers 503.
 */
export async function startSite(
  host: string,
  handlerFor: (url: string) => SiteHandler,
): Promise<{ readonly url: string; close(): Promise<void> }> {
  let handle: SiteHandler = (_request, response) => sendText(response, 503, 'starting\n');
  const server = createServer((request, response) => handle(request, response));
  const url = await new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(baseUrl(host, (server.address() as AddressInfo).port)));
  });
  handle = handlerFor(url);
  return { url, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
