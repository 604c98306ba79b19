/** A value now, or a promise of it: the cached paths answer without a promise of their own. */
export type Eventually<Value> = Value | Promise<Value>;

export function isPromiseLike<Value>(
  value: Eventually<Value> | PromiseLike<Value>,
): value is PromiseLike<Value> {
  return typeof (value as Partial<PromiseLike<Value>> | null)?.then === 'function';
}
