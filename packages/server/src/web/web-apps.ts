/**
 * The web apps people use (packages/web, built by `npm run build` into its `dist/`), served by the
 * platform itself under one origin with the API: the wallet at `/wallet/`, the merchant dashboard
 * at `/dashboard/` and the operator console at `/console/`. One origin means the
 * session cookie is first-party and the pages call the API with no CORS.
 *
 * Every page and file is served under a Content-Security-Policy that allows this origin only:
 * no inline script or style, nothing from a CDN, no web fonts from elsewhere, no framing. When
 * the build is missing, the apps' paths answer a page saying how to build them, and the rest of
 * the platform runs as before.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { escapeHtml, htmlPage, sendHtml } from '../http/html.ts';

/**
 * The apps, each a folder of the build served under `/<name>/`: the wallet, the payment window
 * that the `<mite-paywall>` element opens from other sites (`/pay/`), the merchant dashboard and
 * the operator console.
 */
export const webAppNames = ['wallet', 'pay', 'dashboard', 'console'] as const;
export type WebAppName = (typeof webAppNames)[number];

/** Where an app is served: `/wallet/`. */
export function webAppPath(name: WebAppName): string {
  return `/${name}/`;
}

/** The build's shared files (scripts and styles with a content hash in their names). */
const assetsPath = '/assets/';

/** How long a browser may keep a hashed asset: its name changes with its content. */
const assetMaxAgeSeconds = 365 * 24 * 60 * 60;

/**
 * The apps' policy: scripts, styles, images, fonts and API calls from this origin only. Lit
 * renders through the DOM and shares styles through constructable stylesheets, neither of which
 * needs 'unsafe-inline'. Forms are sent by script, so no form may post anywhere.
 */
export const webAppSecurityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
};

/**
 * The scripts of the elements sites use, each at a stable URL that any site loads with one script
 * tag (packages/web/src/paywall): `<mite-paywall>` and the `<mite-meter>` player. They are the
 * only files made for other origins: CORS lets a site load them as module scripts, and their
 * resource policy lets a cross-origin page embed them.
 */
export const paywallScriptPath = '/paywall.js';
export const meterScriptPath = '/meter.js';
const siteScriptPaths: readonly string[] = [paywallScriptPath, meterScriptPath];

/** The headers of the sites' scripts: the apps' own, but loadable from any origin. */
export const paywallScriptHeaders: Readonly<Record<string, string>> = {
  ...webAppSecurityHeaders,
  'cross-origin-resource-policy': 'cross-origin',
  'access-control-allow-origin': '*',
};

/**
 * The payment window's headers. A site's page opens it (window.open) and hears back from it by
 * postMessage, which needs the opener link that `Cross-Origin-Opener-Policy: same-origin` would
 * cut; every other header stays, framing included (`frame-ancestors 'none'`), so that no page can
 * lay the window's Pay button under its own.
 */
export const payWindowHeaders: Readonly<Record<string, string>> = {
  ...webAppSecurityHeaders,
  'cross-origin-opener-policy': 'unsafe-none',
};

/** The headers a path of the build is served with. */
export function webHeadersFor(url: string): Readonly<Record<string, string>> {
  const pathname = url.split('?', 1)[0] ?? url;
  if (siteScriptPaths.includes(pathname)) return paywallScriptHeaders;
  return pathname.startsWith(webAppPath('pay')) ? payWindowHeaders : webAppSecurityHeaders;
}

/** Whether `root` holds a build of the apps (each app's page is there). */
export function webBuildPresent(root: string | undefined): root is string {
  return (
    root !== undefined &&
    webAppNames.every((name) => existsSync(path.join(root, name, 'index.html'))) &&
    siteScriptPaths.every((script) => existsSync(path.join(root, script)))
  );
}

/** Why the apps are not served, for the banner and the placeholder page. */
export const webBuildMissingMessage =
  'the web apps are not built: run `npm run build` (or `npm start`) in the repository';

function sendBuildMissing(reply: FastifyReply): FastifyReply {
  reply.code(503).header('cache-control', 'no-store');
  const body = `<h1>Not built yet</h1><p>${escapeHtml(webBuildMissingMessage)}.</p>`;
  return sendHtml(reply, htmlPage('Mite: web apps not built', body));
}

/**
 * Serves the build in `root` (packages/web/dist), or, without one, a 503 page under each app's
 * path that says how to build it. `/` and each app's path without its slash redirect.
 */
export async function webAppsPlugin(
  app: FastifyInstance,
  { root }: { root: string | undefined },
): Promise<void> {
  // Pages, not API operations: the OpenAPI document leaves them out.
  const route = { schema: { hide: true } };
  for (const name of webAppNames) {
    app.get(`/${name}`, route, async (_request, reply) => reply.redirect(webAppPath(name), 301));
  }
  app.get('/', route, async (_request, reply) => reply.redirect(webAppPath('wallet'), 302));
  if (!webBuildPresent(root)) {
    for (const name of webAppNames) {
      app.get(`${webAppPath(name)}*`, route, async (_request, reply) => sendBuildMissing(reply));
    }
    return;
  }
  app.addHook('onSend', async (request, reply, payload) => {
    reply.headers(webHeadersFor(request.url));
    return payload;
  });
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    // One route per file, listed at start: nothing outside the build can be asked for, and
    // the API's own routes stay unshadowed.
    wildcard: false,
    index: ['index.html'],
    // Source maps and Vite's manifest stay on disk.
    globIgnore: ['**/*.map', '**/.vite/**'],
    setHeaders: (reply, filePath) => {
      const hashed = filePath.startsWith(path.join(root, assetsPath));
      reply.header(
        'cache-control',
        hashed ? `public, max-age=${assetMaxAgeSeconds}, immutable` : 'no-cache',
      );
    },
    cacheControl: false,
  });
}
