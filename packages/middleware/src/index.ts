/**
 * @mite/middleware: the merchant side of Mite's HTTP 402 payments. A framework-free core
 * (`createPaywall`) that prices requests, answers 402 challenges and verifies the platform's
 * receipts offline, with thin adapters for node:http, Express, Fastify and Hono; and a session
 * meter (`createSessionMeter`) for routes paid by the unit out of a deposit. See README.md.
 */
export {
  challengeTtlSecondsDefault,
  createPaywall,
  type PaidOutcome,
  type Paywall,
  type PaywallErrorCode,
  type PaywallHeaders,
  type PaywallOptions,
  type PaywallOutcome,
  type PaywallRequest,
  priceListMaxAgeSeconds,
  singleUseRedeemGraceSeconds,
} from './core.ts';
export { x402HintHeaderName, type X402Mode } from './credential-source.ts';
export { expressPaywall } from './express.ts';
export { fastifyPaywall } from './fastify.ts';
export { honoPaywall, type PaywallEnv } from './hono.ts';
export { type NodeHandler, withPaywall } from './node-http.ts';
export {
  jwksFetchTimeoutMs,
  jwksKeyCountMax,
  jwksRefreshIntervalMinMs,
  jwksResponseLengthMax,
} from './receipt-verifier.ts';
export {
  createMemoryReplayStore,
  type MemoryReplayStore,
  type MemoryReplayStoreOptions,
  replayCacheSizeMax,
  type ReplayStore,
} from './replay-store.ts';
export { pathSegments, type PricedRoute, type PriceFunction, type PriceRequest } from './routes.ts';
export { verifiedCacheSizeMax } from './verified-cache.ts';
export {
  eventStreamHeaders,
  formatServerSentEvent,
  type MeteredEventStream,
  meteredEventStream,
} from './sessions/event-stream.ts';
export { expressSessionMeter } from './sessions/express.ts';
export type { SessionPayment } from './sessions/metered-payment.ts';
export type { MeteredRoute } from './sessions/metered-routes.ts';
export { type MeteredNodeHandler, withSessionMeter } from './sessions/node-http.ts';
export type { SessionAnswer, SessionErrorCode } from './sessions/session-answers.ts';
export {
  checkpointIntervalMsDefault,
  sessionIdleTimeoutSecondsDefault,
  type SessionMeterOptions,
  upkeepBatchMax,
  voucherWaitMsDefault,
} from './sessions/session-config.ts';
export {
  createSessionMeter,
  type SessionMeter,
  type SessionOutcome,
} from './sessions/session-meter.ts';
export {
  createSessionPlatform,
  type PlatformAnswer,
  type PlatformSessionView,
  type SessionPlatform,
  type SessionPlatformOptions,
  sessionPlatformTimeoutMs,
} from './sessions/session-platform.ts';
export {
  createMemorySessionStore,
  type GrantUpdate,
  memorySessionsMax,
  type SessionCloseReason,
  type SessionState,
  type SessionStore,
  type StoredSession,
} from './sessions/session-store.ts';
export { voucherPollIntervalMs } from './sessions/session-waiters.ts';
export { paywordStepsPerVoucherMax, voucherKeyCacheSizeMax } from './sessions/voucher-check.ts';
