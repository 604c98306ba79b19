/**
 * Holds every route to the declarations of route-config.ts, at registration, and enforces `auth`
 * on each request.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { crossSiteCookieRequest } from './cross-site-requests.ts';
import { ProblemError } from './problems.ts';
import {
  apiPrefix,
  type Authenticator,
  mutatingMethods,
  type Principal,
  type RouteAuth,
} from './route-config.ts';

export interface RouteRulesOptions {
  readonly authenticator: Authenticator | undefined;
  /** Whether an IdempotencyGuard was given: `idempotent: true` routes need one. */
  readonly idempotencyAvailable: boolean;
  /**
   * Whether the rate limiter and the OpenAPI generator have loaded: a route registered before
   * would be neither limited nor documented.
   */
  readonly foundationReady: () => boolean;
}

function methodsOf(route: RouteOptions): string[] {
  return typeof route.method === 'string' ? [route.method] : [...route.method];
}

/** Why `route` may not be registered, if it may not. */
export function routeDeclarationError(
  route: RouteOptions,
  options: RouteRulesOptions,
): string | undefined {
  const methods = methodsOf(route);
  const isApi = route.url.startsWith(apiPrefix);
  const mutating = methods.some((method) => mutatingMethods.has(method));
  const { auth, idempotent } = route.config ?? {};
  if (!options.foundationReady()) {
    return 'register routes in a plugin, app.register(async (api) => ...), after the app is made';
  }
  if (isApi && auth === undefined) return 'declare config.auth (who may call it)';
  if (isApi && auth !== 'public' && auth?.kinds.includes('merchant') === true) {
    // Every route a merchant key can reach names what the key needs: none is open to every key.
    if ((auth.scopes ?? []).length === 0)
      return 'declare config.auth.scopes (what a merchant key needs)';
  }
  if (isApi && mutating && idempotent === undefined) {
    return 'declare config.idempotent (whether it takes an Idempotency-Key)';
  }
  const takesKey = idempotent === true || idempotent === 'inHandler';
  if (takesKey && !methods.every((method) => mutatingMethods.has(method))) {
    return 'only POST, PUT, PATCH and DELETE can be idempotent';
  }
  if (takesKey && !options.idempotencyAvailable) {
    return 'idempotent routes need the app to be given an IdempotencyGuard';
  }
  return undefined;
}

function checkPrincipal(principal: Principal, auth: Exclude<RouteAuth, 'public'>): void {
  if (!auth.kinds.includes(principal.kind)) {
    throw new ProblemError('forbidden', `A ${principal.kind} may not do this.`);
  }
  // Scopes bind merchants' API keys; admin keys and sessions are not scoped.
  if (principal.kind !== 'merchant') return;
  const missing = (auth.scopes ?? []).filter((scope) => !principal.scopes.includes(scope));
  if (missing.length > 0) {
    throw new ProblemError('forbidden', `The credential lacks the scopes: ${missing.join(', ')}.`);
  }
}

/** Sets request.principal, or throws `unauthenticated` or `forbidden`, as the route's auth says. */
async function authorize(
  request: FastifyRequest,
  authenticator: Authenticator | undefined,
): Promise<void> {
  const auth = request.routeOptions.config.auth;
  if (auth === undefined || auth === 'public') return;
  // Without an authenticator nothing can be verified: refuse rather than let through.
  if (authenticator === undefined) throw new ProblemError('unauthenticated');
  const result = await authenticator(request);
  if (!result.ok) throw new ProblemError('unauthenticated', result.detail);
  if (result.value === undefined) throw new ProblemError('unauthenticated');
  const crossSite = crossSiteCookieRequest(request);
  if (crossSite !== undefined) throw new ProblemError('forbidden', crossSite);
  checkPrincipal(result.value, auth);
  request.principal = result.value;
  request.principalId = `${result.value.kind}:${result.value.id}`;
}

export function installRouteRules(app: FastifyInstance, options: RouteRulesOptions): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('principalId', undefined);
  app.addHook('onRoute', (route) => {
    const error = routeDeclarationError(route, options);
    if (error === undefined) return;
    throw new Error(`${methodsOf(route).join(',')} ${route.url}: ${error}`);
  });
  // preParsing: after the rate limits (onRequest), before the body is read, so that an
  // unauthenticated caller costs no body parsing.
  app.addHook('preParsing', async (request, _reply, payload) => {
    await authorize(request, options.authenticator);
    return payload;
  });
}
