/** The HTTP foundation of the platform API; see create-http-app.ts and route-config.ts. */
export { createHttpApp, type HttpApp, type HttpAppOptions } from './create-http-app.ts';
export {
  apiKeyHeaderName,
  credentialFingerprint,
  presentedCredential,
  sessionCookieName,
} from './credentials.ts';
export type {
  IdempotencyBeginInput,
  IdempotencyBeginOutcome,
  IdempotencyGuard,
  IdempotencyRecordKey,
  IdempotentResponse,
} from './idempotency.ts';
export { idempotencyKeyHeader, idempotentReplayedHeader } from './idempotency-plugin.ts';
export * from './limits.ts';
export { createLogger, redactForLog, withLogRedaction } from './logging.ts';
export { type ApiInfo, defaultApiInfo, docsPagePath, openApiDocumentPath } from './openapi.ts';
export {
  decodeCursor,
  encodeCursor,
  type Page,
  page,
  pageQuery,
  pageQuerySchema,
  pageSchema,
  pageSizeDefault,
  pageSizeMax,
} from './pagination.ts';
export {
  problem,
  type ProblemBody,
  type ProblemCode,
  ProblemError,
  problemTable,
  problemType,
  sendProblem,
  valueOrProblem,
} from './problems.ts';
export type { Authenticator, Principal, PrincipalKind, RouteAuth } from './route-config.ts';
