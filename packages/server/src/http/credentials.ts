/**
 * Where a request carries its credential. The auth feature verifies it; the rate limiter only
 * needs to tell clients apart, by a hash of it, so that the raw secret is never kept in memory as
 * a map key nor logged.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { PrincipalKind } from './route-config.ts';

/** The session cookie browsers send (secure, http-only; set by the auth feature). */
export const sessionCookieName = 'mite_session';

/**
 * Each app's own session cookie, by the kind of principal its sessions are: the wallet's, the
 * merchant dashboard's and the operator console's. A person logged in to two of them in one
 * browser holds two cookies, and each route is sent the one for the kinds it allows, so that
 * logging in to the dashboard does not log the wallet out, nor does a dashboard session ever
 * reach a wallet route.
 */
export const sessionCookieNames: Readonly<Record<PrincipalKind, string>> = {
  user: sessionCookieName,
  merchant: 'mite_merchant_session',
  operator: 'mite_operator_session',
};

const everyKind: readonly PrincipalKind[] = ['user', 'merchant', 'operator'];

/**
 * Names the one session cookie a page means (`user`, `merchant` or `operator`) when a route
 * takes more than one kind of caller and the browser may hold both cookies: the console says
 * `operator` when it invites a merchant's owner, whom a dashboard cookie would otherwise speak
 * for. It only chooses among the cookies the route takes.
 */
export const sessionKindHeaderName = 'mite-session-kind';

/**
 * The kinds whose cookie the request may be read with, in order: the route's (every kind for a
 * public or unknown route), narrowed to the one the page names, if it names one of them.
 */
function routeKinds(request: FastifyRequest): readonly PrincipalKind[] {
  const auth = request.routeOptions.config?.auth;
  const kinds = auth === undefined || auth === 'public' ? everyKind : auth.kinds;
  const named = request.headers[sessionKindHeaderName];
  const chosen = kinds.find((kind) => kind === named);
  return chosen === undefined ? kinds : [chosen];
}

/** An alternative to `Authorization: Bearer` for merchant API keys. */
export const apiKeyHeaderName = 'x-api-key';

const bearerPattern = /^Bearer[ ]+(\S+)\s*$/i;

function cookieValue(cookieHeader: string, name: string): string | undefined {
  for (const pair of cookieHeader.split(';')) {
    const separator = pair.indexOf('=');
    if (separator < 0 || pair.slice(0, separator).trim() !== name) continue;
    const value = pair.slice(separator + 1).trim();
    return value === '' ? undefined : value;
  }
  return undefined;
}

/** Where a request's credential came from: a browser sends the cookie by itself. */
export type CredentialSource = 'bearer' | 'apiKey' | 'cookie';

/**
 * The secret the request presents and where, in order: bearer token, API key, and then the
 * session cookie of the first kind the route allows that the browser sent (see
 * sessionCookieNames). The cookie's name only chooses which one is looked at: what the session
 * may do is decided by the session itself.
 */
export function presentedCredentialWithSource(
  request: FastifyRequest,
): { readonly secret: string; readonly source: CredentialSource } | undefined {
  const { authorization, cookie } = request.headers;
  const bearer = authorization === undefined ? undefined : bearerPattern.exec(authorization)?.[1];
  if (bearer !== undefined) return { secret: bearer, source: 'bearer' };
  const apiKey = request.headers[apiKeyHeaderName];
  if (typeof apiKey === 'string' && apiKey !== '') return { secret: apiKey, source: 'apiKey' };
  if (cookie === undefined) return undefined;
  for (const kind of routeKinds(request)) {
    const session = cookieValue(cookie, sessionCookieNames[kind]);
    if (session !== undefined) return { secret: session, source: 'cookie' };
  }
  return undefined;
}

/** The secret the request presents, in order: bearer token, API key header, session cookie. */
export function presentedCredential(request: FastifyRequest): string | undefined {
  return presentedCredentialWithSource(request)?.secret;
}

/** A stable, non-reversible name for a credential (the secret has 256 bits of entropy). */
export function credentialFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/**
 * The Set-Cookie that keeps a session of `kind` in the browser until it expires. HttpOnly: no
 * page script reads it. SameSite=Lax keeps other sites' forms from acting with it. Secure:
 * browsers still send it to http://localhost and 127.0.0.1, which they count as secure
 * contexts, and nowhere else without TLS.
 */
export function sessionSetCookie(
  kind: PrincipalKind,
  token: string,
  maxAgeSeconds: number,
): string {
  return `${sessionCookieNames[kind]}=${token}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${maxAgeSeconds}`;
}

/** The Set-Cookie that makes the browser forget its session of `kind`. */
export function sessionClearCookie(kind: PrincipalKind): string {
  return `${sessionCookieNames[kind]}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0`;
}
