/**
 * autocannon (CommonJS, untyped): the part of its API the benchmarks use, typed once.
 */
import { createRequire } from 'node:module';

export type RequestContext = Record<string, unknown>;

export interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest, context: RequestContext) => CannonRequest;
  onResponse?: (status: number, body: string, context: RequestContext) => void;
}

export interface CannonOptions {
  url: string;
  connections: number;
  duration: number;
  overallRate?: number;
  requests: CannonRequest[];
}

export interface CannonHistogram {
  readonly average: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly total: number;
}

export interface CannonResult {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly statusCodeStats: Record<string, { count: number }>;
  readonly requests: CannonHistogram;
  readonly latency: CannonHistogram;
}

export interface CannonInstance {
  on(
    event: 'response',
    listener: (client: unknown, status: number, bytes: number, responseTimeMs: number) => void,
  ): unknown;
}

export type Autocannon = (
  options: CannonOptions,
  done: (error: Error | null, result: CannonResult) => void,
) => CannonInstance;

export const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
