/**
 * The outcome of an operation that can fail in an expected way (an unknown offer, insufficient
 * funds, an email already taken). Services return these and throw only for bugs and broken
 * infrastructure, so that an expected failure is part of the signature and the HTTP layer maps
 * its code to a problem type without catching anything.
 */
export type Result<T, C extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: C; readonly detail?: string };

/** A success carrying `value`. */
export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

/** An expected failure with a machine-readable `code` and, optionally, a human-readable detail. */
export function fail<C extends string>(
  code: C,
  detail?: string,
): { readonly ok: false; readonly code: C; readonly detail?: string } {
  return detail === undefined ? { ok: false, code } : { ok: false, code, detail };
}
