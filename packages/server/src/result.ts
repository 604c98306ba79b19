/**
 * The outcome of an operation that can fail in an expected way (an unknown offer, insufficient
 * funds, an email already taken). Services return these and throw only for bugs and broken
 * infrastructure, so that an expected failure is part of the signature and the HTTP layer maps
 * its code to a problem type without catching anything.
 */
export type Result<T, C extends string> = { readonly ok: true; readonly value: T } | Failure<C>;

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

/** A success carrying `value`. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
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
