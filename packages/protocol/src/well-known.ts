/**
 * Price discovery without a 402: `GET /.well-known/payment` returns a site's price list, so that a
 * client or an agent can plan its budget before it requests anything. The prices are informative;
 * the challenge a route answers with is what binds.
 */
import * as z from 'zod/mini';
import { canonicalJson, parseJsonText } from './canonical-json.ts';
import {
  accessPeriodSecondsSchema,
  amountTextSchema,
  categorySchema,
  currencySchema,
  decodeWithSchema,
  displayTextSchema,
  identifierSchema,
  platformUrlSchema,
  realmLengthMax,
  resourceLengthMax,
} from './fields.ts';
import { type Decoded, refused } from './problems.ts';

/** Where the price list is served. */
export const priceListPath = '/.well-known/payment';
/** The most routes one price list may name. */
export const priceListRouteCountMax = 1000;
/** The longest price list text read. */
export const priceListLengthMax = 1_048_576;

export interface PriceListRoute {
  /** The HTTP method, upper case ("GET"). */
  readonly method: string;
  /** The path, from "/", as the site serves it. */
  readonly path: string;
  /** The price per purchase: a positive decimal amount. */
  readonly price: string;
  readonly description?: string;
  readonly category?: string;
  readonly accessPeriodSeconds: number;
}

export interface PriceList {
  readonly realm: string;
  readonly merchant: string;
  /** The platform's base URL, where the client pays. */
  readonly platform: string;
  readonly currency: string;
  readonly routes: readonly PriceListRoute[];
}

const routeSchema: z.ZodMiniType<PriceListRoute> = z.strictObject({
  method: z.string().check(z.regex(/^[A-Z]{1,16}$/, 'an upper-case HTTP method')),
  path: z
    .string()
    .check(
      z.maxLength(resourceLengthMax),
      z.regex(/^\/[\x21-\x7e]*$/, 'a path from "/", visible ASCII'),
    ),
  price: amountTextSchema,
  description: z.exactOptional(displayTextSchema),
  category: z.exactOptional(categorySchema),
  accessPeriodSeconds: accessPeriodSecondsSchema,
});

function firstDuplicateRoute(routes: readonly PriceListRoute[]): number {
  const seen = new Set<string>();
  for (const [index, route] of routes.entries()) {
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) return index;
    seen.add(key);
  }
  return -1;
}

/** Strict, and one price per method and path: two prices for one route would be ambiguous. */
export const priceListSchema: z.ZodMiniType<PriceList> = z
  .strictObject({
    realm: z
      .string()
      .check(z.maxLength(realmLengthMax), z.regex(/^[\x20-\x7e]+$/, 'printable ASCII')),
    merchant: identifierSchema,
    platform: platformUrlSchema,
    currency: currencySchema,
    routes: z.array(routeSchema).check(z.maxLength(priceListRouteCountMax)),
  })
  .check(
    z.superRefine((list, context) => {
      const duplicate = firstDuplicateRoute(list.routes);
      if (duplicate < 0) return;
      context.addIssue({
        code: 'custom',
        message: 'a method and path appear twice',
        path: ['routes', duplicate],
        params: { protocolCode: 'duplicateEntry' },
      });
    }),
  );

/** Validates a price list, as parsed from its JSON. */
export function decodePriceList(json: unknown): Decoded<PriceList> {
  return decodeWithSchema(priceListSchema, json, 'priceList');
}

/** Reads a price list from the text of a `/.well-known/payment` response. */
export function parsePriceList(text: string): Decoded<PriceList> {
  if (typeof text !== 'string') return refused('wrongType', 'a price list is JSON text');
  if (text.length > priceListLengthMax) {
    return refused('valueTooLong', `a price list is at most ${priceListLengthMax} characters`);
  }
  const json = parseJsonText(text);
  return json.ok ? decodePriceList(json.value) : json;
}

/** The JSON text of a price list; an invalid list is a configuration bug, so it throws. */
export function formatPriceList(list: PriceList): string {
  const checked = decodePriceList(list);
  if (!checked.ok) throw new RangeError(`invalid price list: ${checked.detail}`);
  return canonicalJson(checked.value);
}
