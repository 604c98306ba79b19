/**
 * @mite/middleware: the merchant side of Mite's HTTP 402 payments. A framework-free core
 * (`createPaywall`) that prices requests, answers 402 challenges and verifies the platform's
 * receipts offline, with thin adapters for node:http, Express, Fastify and Hono. See README.md.
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
