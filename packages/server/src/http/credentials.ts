/**
 * Where a request carries its credential. The auth feature verifies it; the rate limiter only
 * needs to tell clients apart, by a hash of it, so that the raw secret is never kept in memory as
 * a map key nor logged.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** The session cookie browsers send (secure, http-only; set by the auth feature). */
export const sessionCookieName = 'mite_session';

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

/** The secret the request presents and where, in order: bearer token, API key, session cookie. */
export function presentedCredentialWithSource(
  request: FastifyRequest,
): { readonly secret: string; readonly source: CredentialSource } | undefined {
  const { authorization, cookie } = request.headers;
  const bearer = authorization === undefined ? undefined : bearerPattern.exec(authorization)?.[1];
  if (bearer !== undefined) return { secret: bearer, source: 'bearer' };
  const apiKey = request.headers[apiKeyHeaderName];
  if (typeof apiKey === 'string' && apiKey !== '') return { secret: apiKey, source: 'apiKey' };
  const session = cookie === undefined ? undefined : cookieValue(cookie, sessionCookieName);
  return session === undefined ? undefined : { secret: session, source: 'cookie' };
}

/** The secret the request presents, in order: bearer token, API key header, session cookie. */
export function presentedCredential(request: FastifyRequest): string | undefined {
  return presentedCredentialWithSource(request)?.secret;
}

/** A stable, non-reversible name for a credential (the secret has 256 bits of entropy). */
export function credentialFingerprint(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}
