/**
 * Keeps webhook deliveries off the platform's own network (SSRF): a merchant registers the URL,
 * so without a guard it could make the platform POST to loopback services, cloud metadata
 * endpoints or hosts inside a private network. Only public unicast addresses are allowed, unless
 * the operator allows private networks (tests and local demos, whose receivers are on loopback).
 *
 * The address is checked when the endpoint is created (a literal IP or `localhost`), resolved
 * before every attempt (for a clear error), and, decisively, at connection time: the guarded
 * dispatcher's connections resolve names through a lookup that refuses private addresses, so the
 * address connected to is the address checked. A name that resolves to a public address for the
 * check and to a private one for the connection (DNS rebinding) gets no connection.
 */
import { lookup as systemLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** Addresses a webhook may never reach unless private networks are allowed. */
function blockedAddresses(): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of [
    ['0.0.0.0', 8], // this network
    ['10.0.0.0', 8], // private
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local, cloud metadata
    ['172.16.0.0', 12], // private
    ['192.0.0.0', 24], // protocol assignments
    ['192.168.0.0', 16], // private
    ['198.18.0.0', 15], // benchmarking
    ['224.0.0.0', 3], // multicast and reserved, up to 255.255.255.255
  ] as const) {
    list.addSubnet(network, prefix, 'ipv4');
  }
  for (const [network, prefix] of [
    // (IPv4-mapped addresses are checked as IPv4: a ::ffff:0:0/96 rule here would also match
    // every plain IPv4 address, which BlockList compares in mapped form.)
    ['::', 127], // unspecified and loopback
    ['64:ff9b::', 96], // NAT64
    ['fc00::', 7], // unique local
    ['fe80::', 10], // link-local
    ['ff00::', 8], // multicast
  ] as const) {
    list.addSubnet(network, prefix, 'ipv6');
  }
  return list;
}

const blocked = blockedAddresses();

/** Whether an IP address is public unicast: somewhere a webhook may go. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isPublicAddress(mapped);
  return !blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host of a URL as an address or a name, without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** At creation: a literal private address or `localhost` is refused without any lookup. */
export function literalDestinationProblem(url: URL): string | undefined {
  const host = hostOf(url).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return 'an endpoint URL may not point at this machine';
  }
  if (isIP(host) !== 0 && !isPublicAddress(host)) {
    return 'an endpoint URL may not point at a private, loopback or link-local address';
  }
  return undefined;
}

export type Resolve = (host: string) => Promise<readonly string[]>;

const resolveAll: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** Before an attempt: every address the host resolves to must be public. */
export async function destinationProblem(
  url: string,
  resolve: Resolve = resolveAll,
): Promise<string | undefined> {
  const host = hostOf(new URL(url));
  let addresses: readonly string[];
  try {
    addresses = isIP(host) === 0 ? await resolve(host) : [host];
  } catch {
    return `the endpoint's host ${host} does not resolve`;
  }
  const inside = addresses.find((address) => !isPublicAddress(address));
  return inside === undefined
    ? undefined
    : `the endpoint's host resolves to ${inside}, a private, loopback or link-local address`;
}

/** Every address a name resolves to, as dns.lookup with `all` gives them. */
export type ConnectLookup = (
  hostname: string,
  options: LookupOptions,
  callback: (error: Error | null, addresses: LookupAddress[]) => void,
) => void;

const systemLookupAll: ConnectLookup = (hostname, options, callback) =>
  systemLookup(hostname, { ...options, all: true, verbatim: true }, callback);

/** The error a refused connection fails with; its message names the address, not the URL. */
export class PrivateDestinationError extends Error {
  override readonly name = 'PrivateDestinationError';
}

/**
 * A lookup for net.connect that resolves as `resolve` does and fails if any address is not
 * public: the check and the connection use one resolution.
 */
export function guardedLookup(resolve: ConnectLookup = systemLookupAll): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options, (error, addresses) => {
      if (error !== null) return callback(error, []);
      const inside = addresses.find((entry) => !isPublicAddress(entry.address));
      if (inside !== undefined || addresses.length === 0) {
        const what = inside?.address ?? 'no address';
        const refusal = `the endpoint's host resolved to ${what} when connecting, a private, loopback or link-local address`;
        return callback(new PrivateDestinationError(refusal), []);
      }
      if (options.all === true) return callback(null, addresses);
      const [first] = addresses;
      return callback(null, first?.address ?? '', first?.family);
    });
  };
}

/**
 * fetch through an undici dispatcher whose every connection resolves through guardedLookup.
 * undici is loaded on the first call (it adds about 18 MB to a process that never sends a
 * webhook otherwise). Its fetch types differ from the global ones in name only for what webhook
 * delivery uses: method, headers, a string body, redirect, signal.
 */
export function guardedFetch(resolve?: ConnectLookup): typeof fetch {
  let loaded: Promise<typeof fetch> | undefined;
  const load = async (): Promise<typeof fetch> => {
    const { Agent, fetch: dispatchedFetch } = await import('undici');
    const dispatcher = new Agent({ connect: { lookup: guardedLookup(resolve) } });
    return (async (url: string, init: RequestInit) =>
      dispatchedFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  };
  return (async (url: string, init: RequestInit) =>
    (await (loaded ??= load()))(url, init)) as typeof fetch;
}
