/**
 * Cross-site request forgery: a browser attaches the session cookie to a request whatever page
 * made it. SameSite=Lax keeps it off other sites' cross-site POSTs, but "same site" ignores ports
 * and subdomains (a merchant site on the same host, another port, is the same site), so a
 * state-changing request authenticated by the cookie must also prove it comes from the platform's
 * own pages: the browser's `Sec-Fetch-Site: same-origin`, or, from a browser that does not send
 * it, an `Origin` equal to the platform's own. Neither header can be set by a page's script.
 * Bearer tokens and API keys are not sent by browsers on their own, so they need no such check,
 * and nor do safe methods, which change nothing.
 */
import type { FastifyRequest } from 'fastify';
import { presentedCredentialWithSource } from './credentials.ts';
import { mutatingMethods } from './route-config.ts';

/** Why a cookie-authenticated request cannot be trusted to come from this origin, if it cannot. */
export function crossSiteCookieRequest(request: FastifyRequest): string | undefined {
  if (!mutatingMethods.has(request.method)) return undefined;
  if (presentedCredentialWithSource(request)?.source !== 'cookie') return undefined;
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite === 'same-origin') return undefined;
  const refusal =
    'A change made with the session cookie must come from the platform\u2019s own pages; ' +
    'programs send the session token as a Bearer token instead.';
  if (typeof fetchSite === 'string') return `${refusal} This request came from: ${fetchSite}.`;
  const origin = request.headers.origin;
  if (origin === undefined) return `${refusal} This request named no origin.`;
  const own = `${request.protocol}://${request.host}`;
  return origin === own ? undefined : `${refusal} This request came from another origin.`;
}
