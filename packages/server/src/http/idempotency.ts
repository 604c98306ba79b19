/**
 * What the idempotency plugin needs from the Idempotency-Key store (built in ../idempotency/):
 * the store decides, in the database, which of several concurrent requests with one key runs, and
 * keeps the first response to replay it (DESIGN section 4: at least 24 hours).
 */

export interface IdempotencyBeginInput {
  /** `<kind>:<id>` of the caller, or `anonymous:<ip>`: keys are scoped per principal. */
  readonly principal: string;
  readonly key: string;
  readonly method: string;
  /** The request target: path and query string, as sent. */
  readonly path: string;
  /** sha256 of method, path and canonical body: what a replay must match. */
  readonly requestHash: string;
}

export interface IdempotentResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** The body exactly as sent (the API sends UTF-8 JSON text). */
  readonly body: string;
}

export type IdempotencyBeginOutcome =
  /** First request with this key: run it, then complete or abandon. */
  | { readonly outcome: 'started' }
  /** Completed before with the same request: send its response again. */
  | ({ readonly outcome: 'replay' } & IdempotentResponse)
  /** The key was used for a different request. */
  | { readonly outcome: 'mismatch' }
  /** The first request with this key is still running. */
  | { readonly outcome: 'inProgress' };

export interface IdempotencyRecordKey {
  readonly principal: string;
  readonly key: string;
}

export interface IdempotencyGuard {
  begin(input: IdempotencyBeginInput): Promise<IdempotencyBeginOutcome>;
  /** Keeps the response of a started request for replay. */
  complete(input: IdempotencyRecordKey & IdempotentResponse): Promise<unknown>;
  /**
   * Forgets a started request that failed (5xx), so that a retry runs again. A request whose
   * process died never completes nor abandons: the store should let a later `begin` take over a
   * `started` record older than a lease.
   */
  abandon(input: IdempotencyRecordKey): Promise<unknown>;
}
