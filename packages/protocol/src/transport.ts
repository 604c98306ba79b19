/**
 * Which URLs may carry payments. The Payment scheme's draft says "Servers MUST NOT issue Payment
 * challenges over unencrypted HTTP. Clients MUST NOT send Payment credentials over unencrypted
 * HTTP." Mite's clients hold to that everywhere but on the loopback interface, where nothing
 * leaves the machine and a developer runs the platform and a site without certificates.
 */

const ipv4Loopback = /^127\.(?:\d{1,3})\.(?:\d{1,3})\.(?:\d{1,3})$/;

/**
 * Whether a URL's hostname (as `URL` writes it: lower case, IPv4 in dotted form, IPv6 in brackets)
 * names the loopback: `localhost`, 127.0.0.0/8 or `[::1]`.
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host === '[::1]' || host === '::1' || ipv4Loopback.test(host);
}

/** Whether payments may travel over this URL: https, or plain http to the loopback. */
export function isSecureOrLoopback(url: URL): boolean {
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHostname(url.hostname);
}

/**
 * Whether a challenge's resource (a path, or an absolute URL) is on `origin`, the origin of the
 * page that asks to pay for it: a site may have its readers pay only for its own resources, so
 * that a page cannot spend a reader's money on a purchase it then uses elsewhere. A path is
 * resolved against the origin (a scheme-relative `//host/...` names another host and fails);
 * `origin` is a serialized origin (`https://news.example`, no path).
 */
export function resourceIsOnOrigin(resource: string, origin: string): boolean {
  let url: URL;
  try {
    url = new URL(resource, origin);
  } catch {
    return false;
  }
  return url.origin === origin;
}
