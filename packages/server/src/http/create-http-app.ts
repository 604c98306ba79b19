/**
 * The platform API's HTTP app: fastify with zod schemas, OpenAPI and docs, problem+json errors,
 * limits, rate limits, auth and idempotency enforcement, metrics and redacted logs. Domain routes
 * are registered by the features, in plugins:
 *
 *   const app = createHttpApp({
 *     logger, metricsRegistry, limits: defaultHttpLimits, authenticator, idempotency,
 *   });
 *   app.register(paymentRoutes, { payments });   // a FastifyPluginAsyncZod
 *   await app.listen({ port, host });
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawServerDefault,
} from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { handleClientError, handleUrlError, installErrorHandling } from './error-handling.ts';
import { installHandlerTracking } from './handler-tracking.ts';
import type { IdempotencyGuard } from './idempotency.ts';
import { installInputGuards } from './input-guards.ts';
import { installIdempotency } from './idempotency-plugin.ts';
import type { HttpLimits } from './limits.ts';
import { withLogRedaction } from './logging.ts';
import { installMetrics } from './metrics.ts';
import { type ApiInfo, defaultApiInfo, installOpenApi } from './openapi.ts';
import { problemPagesPlugin } from './problem-pages.ts';
import { installRateLimits } from './rate-limits.ts';
import type { Authenticator } from './route-config.ts';
import { installRouteRules } from './route-rules.ts';

export interface HttpAppOptions {
  /** Logged through a redacting child (see logging.ts). */
  readonly logger: Logger;
  /** Where `/metrics` reads from; the app adds the default and HTTP metrics to it, once. */
  readonly metricsRegistry: Registry;
  /** `defaultHttpLimits`, or a variation of it. */
  readonly limits: HttpLimits;
  /** Identifies callers; without it, every route that is not public answers 401. */
  readonly authenticator?: Authenticator;
  /** The Idempotency-Key store; required as soon as one route is `idempotent: true`. */
  readonly idempotency?: IdempotencyGuard;
  /** Behind a proxy, which of its `X-Forwarded-For` to trust (rate limits go by client IP). */
  readonly trustProxy?: FastifyServerOptions['trustProxy'];
  readonly apiInfo?: ApiInfo;
}

export type HttpApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

function fastifyOptions(options: HttpAppOptions): FastifyHttpOptions<RawServerDefault> {
  const { limits } = options;
  return {
    loggerInstance: withLogRedaction(options.logger),
    bodyLimit: limits.requestBodyBytesMax,
    routerOptions: { maxParamLength: limits.pathParameterLengthMax },
    http: {
      maxHeaderSize: limits.requestHeadersBytesMax,
      headersTimeout: limits.headersTimeoutMs,
    },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.socketIdleTimeoutMs,
    // Ids that do not repeat across nodes and restarts; a problem's `instance` names one.
    genReqId: () => randomUUID(),
    trustProxy: options.trustProxy ?? false,
    clientErrorHandler: handleClientError,
    // URLs the router cannot take (bad percent-encoding, a parameter too long), as problems.
    frameworkErrors: handleUrlError,
  };
}

export function createHttpApp(options: HttpAppOptions): HttpApp {
  const app: FastifyInstance = Fastify(fastifyOptions(options));
  // First: it wraps the handler of every route registered after it.
  installHandlerTracking(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  installInputGuards(app);
  // Both plugins act on the routes registered after them: they come first.
  installRateLimits(app, options.limits);
  installOpenApi(app, options.apiInfo ?? defaultApiInfo);
  installRouteRules(app, {
    authenticator: options.authenticator,
    idempotencyAvailable: options.idempotency !== undefined,
    foundationReady: () => app.hasDecorator('createRateLimit') && app.hasDecorator('swagger'),
  });
  if (options.idempotency !== undefined) installIdempotency(app, options.idempotency);
  installMetrics(app, options.metricsRegistry);
  void app.register(async (api) => problemPagesPlugin(api));
  return app.withTypeProvider<ZodTypeProvider>();
}
