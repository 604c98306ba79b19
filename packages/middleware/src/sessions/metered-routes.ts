/**
 * The metered routes: which requests are paid by the unit out of a session, at what price per
 * unit. Matching is the priced routes' (routes.ts), deliberately broad; each route's terms are
 * checked once, by the protocol's own schema, so that a route the wire cannot carry throws at
 * creation rather than on a request.
 */
import {
  currency,
  parsePositiveAmount,
  type SessionRequest,
  sessionRequest,
  sessionRequestSchema,
  type SessionUnitType,
  sessionUnitTypes,
  type VoucherKind,
  voucherKinds,
} from '@mite/protocol';
import { createRouteTable, type PricedRoute } from '../routes.ts';

export interface MeteredRoute {
  /** An HTTP method, upper case; a GET route also meters HEAD (where vouchers are delivered). */
  readonly method: string;
  /** As a priced route's: literal segments, `:name`, a final `*`. */
  readonly path: string;
  /** The price of one unit: a decimal amount of USD ("0.0001"). */
  readonly unitPrice: string;
  /** `request`: one unit per request, charged before the handler runs; the others are streams,
   * which the handler charges as it writes. */
  readonly unitType: SessionUnitType;
  /** The smallest step between two vouchers, decimal (default: one unit); whole units when
   * PayWord vouchers are taken. */
  readonly minVoucherDelta?: string;
  /** What the merchant suggests a client holds, decimal. */
  readonly suggestedDeposit?: string;
  /** The voucher kinds taken, the preferred first (default: PayWord, then Ed25519). */
  readonly vouchers?: readonly VoucherKind[];
  readonly description?: string;
}

/** A metered route with its terms in micro-units. */
export interface MeteredTerms {
  readonly route: MeteredRoute;
  readonly unitPriceMicros: bigint;
  readonly minVoucherDeltaMicros: bigint;
  readonly suggestedDepositMicros: bigint | undefined;
  readonly vouchers: readonly VoucherKind[];
}

export interface MeteredRouteTable {
  match(method: string, path: string): MeteredTerms | undefined;
}

function micros(where: string, name: string, text: string): bigint {
  const parsed = parsePositiveAmount(text);
  if (!parsed.ok)
    throw new RangeError(`${where}: ${name} ${JSON.stringify(text)}: ${parsed.detail}`);
  return parsed.value;
}

/** The session request a route's challenge carries for `resource`. */
export function meteredRequest(
  terms: MeteredTerms,
  context: {
    readonly merchantId: string;
    readonly platformUrl: string;
    readonly idleTimeoutSeconds: number;
  },
  resource: string,
): SessionRequest {
  const { route } = terms;
  return sessionRequest({
    unitPriceMicros: terms.unitPriceMicros,
    currency,
    recipient: context.merchantId,
    platform: context.platformUrl,
    resource,
    unitType: route.unitType,
    minVoucherDeltaMicros: terms.minVoucherDeltaMicros,
    idleTimeoutSeconds: context.idleTimeoutSeconds,
    vouchers: terms.vouchers,
    ...(terms.suggestedDepositMicros === undefined
      ? {}
      : { suggestedDepositMicros: terms.suggestedDepositMicros }),
    ...(route.description === undefined ? {} : { description: route.description }),
  });
}

function compile(route: MeteredRoute, context: Parameters<typeof meteredRequest>[1]): MeteredTerms {
  const where = `metered route ${route.method} ${route.path}`;
  if (!sessionUnitTypes.includes(route.unitType)) {
    throw new RangeError(`${where}: unitType is one of ${sessionUnitTypes.join(', ')}`);
  }
  const vouchers = route.vouchers ?? voucherKinds;
  const unitPriceMicros = micros(where, 'unitPrice', route.unitPrice);
  const terms: MeteredTerms = {
    route,
    unitPriceMicros,
    minVoucherDeltaMicros:
      route.minVoucherDelta === undefined
        ? unitPriceMicros
        : micros(where, 'minVoucherDelta', route.minVoucherDelta),
    suggestedDepositMicros:
      route.suggestedDeposit === undefined
        ? undefined
        : micros(where, 'suggestedDeposit', route.suggestedDeposit),
    vouchers,
  };
  // The protocol's schema and PayWord rule, on a sample request: a bad route throws here.
  const sample = sessionRequestSchema.safeParse(meteredRequest(terms, context, route.path));
  if (!sample.success) throw new RangeError(`${where}: ${sample.error.message}`);
  if (vouchers.includes('payword') && terms.minVoucherDeltaMicros % unitPriceMicros !== 0n) {
    throw new RangeError(`${where}: minVoucherDelta must be whole units when PayWord is taken`);
  }
  return terms;
}

/** Compiles the routes; a route the wire cannot carry is a configuration error and throws. */
export function createMeteredRouteTable(
  routes: readonly MeteredRoute[],
  context: Parameters<typeof meteredRequest>[1],
): MeteredRouteTable {
  const byPriced = new Map<PricedRoute, MeteredTerms>();
  const priced = routes.map((route) => {
    const terms = compile(route, context);
    const entry: PricedRoute = {
      method: route.method,
      path: route.path,
      price: route.unitPrice,
      ...(route.description === undefined ? {} : { description: route.description }),
    };
    byPriced.set(entry, terms);
    return entry;
  });
  const table = createRouteTable(priced);
  return {
    match(method, path) {
      const found = table.match(method, path);
      return found === undefined ? undefined : byPriced.get(found.route);
    },
  };
}
