/**
 * The absolute URL of what a priced request buys, for whatever shows it to a client: the
 * `mite pay` line of a 402's problem, and the x402 envelope's `resource.url`.
 */
import { isLoopbackHostname } from '@mite/protocol';

// host[:port], a bracketed IPv6 address included; anything else in Host is not echoed back.
const hostPattern = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$/;

/**
 * The absolute URL a client asks for: the resource when the `origin` option made it absolute.
 * Otherwise it is rebuilt from Host, which is only printed back to the client that sent it, never
 * bound into the challenge: https, unless the host is the loopback (a site served elsewhere over
 * plain http cannot be paid for, since Mite's clients refuse to pay there).
 */
export function absoluteUrl(resource: string, host: unknown): string | undefined {
  if (!resource.startsWith('/')) return resource;
  if (typeof host !== 'string' || !hostPattern.test(host)) return undefined;
  const hostname = host.replace(/:[0-9]+$/, '');
  const scheme = isLoopbackHostname(hostname) ? 'http' : 'https';
  return `${scheme}://${host}${resource}`;
}
