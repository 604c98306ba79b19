/**
 * The outcome of an operation that can fail in an expected way (an unknown offer, insufficient
 * funds, a malformed header). Every package returns these and throws only for bugs and broken
 * infrastructure, so that an expected failure is part of the signature and the caller handles it
 * by a `switch` on a closed union of codes that the compiler checks. It lives here, in the package
 * every other one depends on, so that the platform, the middleware and the client share one shape.
 */

/** A success carrying `value`. */
export interface Success<T> {
  readonly ok: true;
  readonly value: T;
}

/**
 * An expected failure: a machine-readable `code`, optionally a human-readable detail and members
 * that a problem document carries too (the id of the payment that was made already, say).
 */
export interface Failure<C extends string> {
  readonly ok: false;
  readonly code: C;
  readonly detail?: string;
  readonly extra?: Readonly<Record<string, unknown>>;
}

export type Result<T, C extends string> = Success<T> | Failure<C>;

/**
 * A failure that always says why: what decoders and verifiers answer, whose detail goes into the
 * problem document sent back, so the type does not let a caller forget it.
 */
export type ExplainedFailure<C extends string> = Failure<C> & { readonly detail: string };

/** A success carrying `value`. */
export function ok<T>(value: T): Success<T> {
  return { ok: true, value };
}

/** An expected failure with a machine-readable `code` and, optionally, a human-readable detail. */
export function fail<C extends string>(
  code: C,
  detail?: string,
  extra?: Readonly<Record<string, unknown>>,
): Failure<C> {
  return {
    ok: false,
    code,
    ...(detail === undefined ? {} : { detail }),
    ...(extra === undefined ? {} : { extra }),
  };
}
