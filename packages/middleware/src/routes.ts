/**
 * The priced routes: which requests cost what. Matching is deliberately broader than any framework
 * router, because a request the paywall fails to recognise as priced is served for free: literal
 * segments compare case-insensitively (Express's default), empty segments and a trailing slash are
 * ignored (Express's non-strict routing), dot segments are resolved, and percent-escapes of
 * unreserved characters are decoded (RFC 3986 says `%34%32` is `42`).
 */
import {
  accessPeriodSecondsMax,
  currency,
  decodePaymentRequest,
  formatAmount,
  miteAmountDecimals,
  parsePositiveAmount,
  priceListRouteCountMax,
  type PriceListRoute,
  requestCurrency,
  resourceLengthMax,
} from '@mite/protocol';

/** What a price function sees of a request. */
export interface PriceRequest {
  /** Upper case, as received. */
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  /** The path as received, without the query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The values of the route's `:name` segments, and `*` for the rest under a final `*`. */
  readonly params: Readonly<Record<string, string>>;
}

/** A route's price for one request: a decimal amount, or `undefined`/`null` for "not priced". */
export type PriceFunction = (request: PriceRequest) => string | undefined | null;

export interface PricedRoute {
  /** An HTTP method, upper case. A GET route also prices HEAD, which frameworks serve from GET. */
  readonly method: string;
  /** From "/": literal segments, `:name` for one segment, and a final `*` for any rest. */
  readonly path: string;
  /**
   * A decimal amount of USD ("0.02"), or a function of the request that returns one or says "not
   * priced" (`undefined` or `null`): the request then passes through the paywall untouched, as if
   * no route matched, so that the handler answers it (a 404 for an article that does not exist,
   * say). A site whose priced paths are not all real answers 404 rather than sell nothing.
   */
  readonly price: string | PriceFunction;
  readonly description?: string;
  /** A slug for the payer's budgets ("news"). */
  readonly category?: string;
  /**
   * The id of the platform offer this route sells, when the merchant sells it as one
   * (`POST /v1/offers`): the platform charges the offer's price (the route's price must be the
   * same) and shares it by the offer's revenue splits. Without it, a payment goes wholly to
   * `merchantId`, less the platform's fee.
   */
  readonly offer?: string;
  /** How long a purchase keeps the resource open; 0 (the default) makes receipts single-use. */
  readonly accessPeriodSeconds?: number;
}

export interface RouteMatch {
  readonly route: PricedRoute;
  readonly params: Readonly<Record<string, string>>;
}

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'rest' };

interface CompiledRoute {
  readonly route: PricedRoute;
  readonly method: string;
  readonly segments: readonly Segment[];
}

const methodPattern = /^[A-Z]{1,16}$/;
const routePathPattern = /^\/[\x21-\x7e]*$/;
const unreservedEscape = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DdEe]|5[Ff]|7[Ee])/g;

// A path that URL parsing leaves as it is: RFC 3986 path characters without "%" (no escapes to
// decode or "%2e" dot segments) and without "\\" (which URL reads as "/"); nothing URL would
// percent-encode, and no "#" or "?". Such a path still may hold "." or ".." segments.
const plainPath = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const dotSegment = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * The segments a path is matched by (see the module comment); case is kept. Exported so that a
 * handler can read a path exactly as the paywall priced it.
 */
export function pathSegments(path: string): string[] {
  // The common case, answered without a URL parse: what urlPathSegments gives for such a path.
  if (plainPath.test(path) && !dotSegment.test(path)) {
    return path.split('/').filter((segment) => segment !== '');
  }
  return urlPathSegments(path);
}

/** `pathSegments` by URL parsing, for any path. */
export function urlPathSegments(path: string): string[] {
  const slashed = path.replace(/\\/g, '/').replace(/\/{2,}/g, '/');
  let resolved = slashed;
  try {
    // Resolves "." and ".." (also when escaped as %2e), as URL-based routers such as Hono's do.
    resolved = new URL(slashed.startsWith('/') ? slashed : `/${slashed}`, 'http://paywall.invalid')
      .pathname;
  } catch {
    // Not parseable as a URL path: match it as written.
  }
  return resolved
    .replace(unreservedEscape, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)))
    .split('/')
    .filter((segment) => segment !== '');
}

function compileSegments(path: string): Segment[] {
  const texts = pathSegments(path);
  return texts.map((text, index): Segment => {
    if (text === '*' && index === texts.length - 1) return { kind: 'rest' };
    if (text.startsWith(':') && text.length > 1) return { kind: 'param', name: text.slice(1) };
    return { kind: 'literal', text: text.toLowerCase() };
  });
}

function matchSegments(
  pattern: readonly Segment[],
  segments: readonly string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [index, segment] of pattern.entries()) {
    if (segment.kind === 'rest') {
      params['*'] = segments.slice(index).join('/');
      return params;
    }
    const text = segments[index];
    if (text === undefined) return undefined;
    if (segment.kind === 'param') params[segment.name] = text;
    else if (text.toLowerCase() !== segment.text) return undefined;
  }
  return segments.length === pattern.length ? params : undefined;
}

function checkRoute(route: PricedRoute): void {
  const where = `route ${route.method} ${route.path}`;
  if (!methodPattern.test(route.method)) throw new RangeError(`${where}: method is upper case`);
  if (!routePathPattern.test(route.path) || route.path.length > resourceLengthMax) {
    throw new RangeError(`${where}: a path is visible ASCII from "/"`);
  }
  const period = route.accessPeriodSeconds ?? 0;
  if (!Number.isSafeInteger(period) || period < 0 || period > accessPeriodSecondsMax) {
    throw new RangeError(`${where}: accessPeriodSeconds is 0 to ${accessPeriodSecondsMax}`);
  }
  // The route's own fields, checked by the schema every challenge is written with.
  // The price is checked by checkedPrice, in its own (decimal) terms.
  if (typeof route.price === 'string') checkedPrice(route.price, where);
  const sample = decodePaymentRequest({
    amount: '1',
    currency: requestCurrency(currency),
    recipient: 'm',
    ...(route.description === undefined ? {} : { description: route.description }),
    methodDetails: {
      platform: 'https://platform.invalid',
      resource: route.path,
      accessPeriodSeconds: period,
      decimals: miteAmountDecimals,
      ...(route.category === undefined ? {} : { category: route.category }),
      ...(route.offer === undefined ? {} : { offer: route.offer }),
    },
  });
  if (!sample.ok) throw new RangeError(`${where}: ${sample.detail}`);
}

function checkedPrice(price: string, where: string): string {
  const micros = parsePositiveAmount(price);
  if (!micros.ok)
    throw new RangeError(`${where}: price ${JSON.stringify(price)}: ${micros.detail}`);
  return formatAmount(micros.value);
}

export interface RouteTable {
  /** The first route, in the order given, that prices this request. */
  match(method: string, path: string): RouteMatch | undefined;
  /**
   * The route's price for a request, in canonical form, or undefined when its price function says
   * the request is not priced; a bad price function result throws.
   */
  priceOf(match: RouteMatch, request: PriceRequest): string | undefined;
  /** A route's fixed price, in canonical form; undefined when a function prices it. */
  fixedPriceOf(route: PricedRoute): string | undefined;
  /**
   * The routes as the price list shows them; function prices as they are for a plain request,
   * and a route whose function does not price the plain request left out.
   */
  list(): PriceListRoute[];
}

/** Compiles the routes; a route the wire cannot carry is a configuration error and throws. */
export function createRouteTable(routes: readonly PricedRoute[]): RouteTable {
  if (routes.length > priceListRouteCountMax) {
    throw new RangeError(`at most ${priceListRouteCountMax} priced routes`);
  }
  const seen = new Set<string>();
  // Fixed prices in canonical form, checked once rather than on every request.
  const fixedPrices = new Map<PricedRoute, string>();
  const compiled: CompiledRoute[] = routes.map((route) => {
    checkRoute(route);
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) throw new RangeError(`route ${key} is priced twice`);
    seen.add(key);
    if (typeof route.price === 'string') {
      fixedPrices.set(route, checkedPrice(route.price, `route ${key}`));
    }
    return { route, method: route.method, segments: compileSegments(route.path) };
  });

  function priceOf(match: RouteMatch, request: PriceRequest): string | undefined {
    const { route } = match;
    const fixed = fixedPrices.get(route);
    if (fixed !== undefined) return fixed;
    const price = typeof route.price === 'string' ? route.price : route.price(request);
    // Only these two say "not priced"; anything else that is not an amount is a bug and throws.
    if (price === undefined || price === null) return undefined;
    return checkedPrice(price, `route ${route.method} ${route.path}`);
  }

  function matchMethod(method: string, segments: readonly string[]): RouteMatch | undefined {
    for (const entry of compiled) {
      if (entry.method !== method) continue;
      const params = matchSegments(entry.segments, segments);
      if (params !== undefined) return { route: entry.route, params };
    }
    return undefined;
  }

  return {
    match(method, path) {
      const upper = method.toUpperCase();
      const segments = pathSegments(path);
      return (
        matchMethod(upper, segments) ??
        (upper === 'HEAD' ? matchMethod('GET', segments) : undefined)
      );
    },
    priceOf,
    fixedPriceOf: (route) => fixedPrices.get(route),
    list: () =>
      compiled.flatMap(({ route }) => {
        // A plain request: the route's path as written, no query, no headers, no parameters.
        const plain = { method: route.method, url: route.path, path: route.path };
        const price = priceOf({ route, params: {} }, { ...plain, headers: {}, params: {} });
        if (price === undefined) return [];
        return [
          {
            method: route.method,
            path: route.path,
            price,
            accessPeriodSeconds: route.accessPeriodSeconds ?? 0,
            ...(route.description === undefined ? {} : { description: route.description }),
            ...(route.category === undefined ? {} : { category: route.category }),
          },
        ];
      }),
  };
}
