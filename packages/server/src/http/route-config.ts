/**
 * What a route declares besides its zod schemas, in its `config`:
 *
 *   config: { auth: { kinds: ['user'] }, idempotent: true, rateLimit: { max: 10, timeWindow: 60_000 } }
 *
 * Every route under `/v1` must say who may call it (`auth`), and every mutating one whether it
 * takes an Idempotency-Key (`idempotent`): the app refuses to start otherwise, so that forgetting
 * either is a startup error rather than an open door.
 */
import type { FastifyRequest } from 'fastify';
import type { Result } from '../result.ts';

/** The three kinds of caller (DESIGN section 4): users by session, merchants by API key, operators by admin key. */
export type PrincipalKind = 'user' | 'merchant' | 'operator';

export interface Principal {
  readonly kind: PrincipalKind;
  /** The id within its kind (a user id, a merchant id, an admin key id). */
  readonly id: string;
  /** What a merchant's API key allows; a route's `scopes` must all be here (merchants only). */
  readonly scopes: readonly string[];
  /**
   * The person behind a dashboard or console session (a user id), for the records of who did
   * what; absent for keys, which are a server's, and for wallet sessions, whose id is the user.
   */
  readonly userId?: string;
}

/**
 * `'public'`: anyone, no credential looked at. Otherwise a credential is required and its
 * principal must be of one of `kinds`; a merchant must also hold every scope in `scopes` (see
 * auth/scopes.ts), which a route open to merchants must declare. Operators and users are not
 * scoped.
 */
export type RouteAuth =
  'public' | { readonly kinds: readonly PrincipalKind[]; readonly scopes?: readonly string[] };

/**
 * Identifies the caller from the request's credential (see credentials.ts), built by the auth
 * feature. `ok(undefined)`: no credential presented. `fail('unauthenticated')`: a credential that
 * is unknown, expired or revoked. Deciding whether the principal may call the route is not its
 * job: the app does that from the route's `auth`.
 */
export type Authenticator = (
  request: FastifyRequest,
) => Promise<Result<Principal | undefined, 'unauthenticated'>>;

export const mutatingMethods: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Routes under this prefix are the API, held to the declarations above. */
export const apiPrefix = '/v1/';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; required under /v1. */
    auth?: RouteAuth;
    /**
     * POST/PUT/PATCH/DELETE under /v1 must say: true requires an Idempotency-Key and replays.
     * `inHandler` requires the key too, but the handler makes the request idempotent under it in
     * its own records (a purchase's payment is unique per payer and key, and answers a retry):
     * the plugin only checks the header, and keeps no record.
     */
    idempotent?: boolean | 'inHandler';
  }
  interface FastifyRequest {
    /** Set when the route requires a credential and it was accepted. */
    principal: Principal | undefined;
    /** `<kind>:<id>` of `principal`, unique across kinds: what idempotency keys are scoped by. */
    principalId: string | undefined;
  }
}

/**
 * The caller of an authenticated route, of one of `kinds`: the route rules let no other in, so
 * anything else is a bug (a route whose `auth` and handler disagree), never a client's doing.
 */
export function requirePrincipal<Kind extends PrincipalKind>(
  request: FastifyRequest,
  ...kinds: readonly Kind[]
): Principal & { readonly kind: Kind } {
  const { principal } = request;
  if (principal === undefined || !(kinds as readonly PrincipalKind[]).includes(principal.kind)) {
    throw new Error(`bug: route ${request.routeOptions.url ?? ''} reached by ${principal?.kind}`);
  }
  return principal as Principal & { readonly kind: Kind };
}

/**
 * Whether the caller of a route open to merchants and operators acts for `merchantId`: an
 * operator acts for every merchant, a merchant (key or dashboard session) only for itself.
 */
export function actsForMerchant(request: FastifyRequest, merchantId: string): boolean {
  const principal = requirePrincipal(request, 'merchant', 'operator');
  return principal.kind === 'operator' || principal.id === merchantId;
}
