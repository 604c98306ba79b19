/**
 * Cursor pagination (DESIGN section 4). A cursor is opaque to clients: base64url of a small JSON
 * value (the sort key of the last item seen, say) that the route defines with a zod schema. A
 * cursor that does not decode to that schema is `validationFailed`. Cursors are not signed: a
 * forged one only moves where a list starts within what the caller may see anyway, since every
 * query filters by the caller.
 *
 *   query: pageQuery(z.object({ createdAt: z.string(), id: z.string() }))
 *   ...fetch `limit + 1` rows after request.query.cursor, then
 *   return page(rows, request.query.limit, (row) => ({ createdAt: row.createdAt, id: row.id }));
 */
import { z } from 'zod';
import { fail, ok, type Result } from '../result.ts';
import { firstUnstorableString } from './input-guards.ts';

/** Most items one page may hold. */
export const pageSizeMax = 100;
/** Items per page when the client does not say. */
export const pageSizeDefault = 20;
/** Longest cursor accepted, in characters: cursors hold a few keys. */
export const cursorLengthMax = 512;

const malformedCursor = 'The cursor is malformed; use a nextCursor as returned.';

export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The value `text` encodes, checked against `schema` (any JSON value without one). */
export function decodeCursor<T = unknown>(
  text: string,
  schema?: z.ZodType<T>,
): Result<T, 'validationFailed'> {
  if (text.length > cursorLengthMax || !/^[A-Za-z0-9_-]+$/.test(text)) {
    return fail('validationFailed', malformedCursor);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return fail('validationFailed', malformedCursor);
  }
  // A forged cursor's strings reach queries as the route's own values would.
  if (firstUnstorableString(json) !== undefined) return fail('validationFailed', malformedCursor);
  if (schema === undefined) return ok(json as T);
  const parsed = schema.safeParse(json);
  return parsed.success ? ok(parsed.data) : fail('validationFailed', malformedCursor);
}

/** The largest integer a cursor holds: PostgreSQL's bigint, and the ledger's timestamps. */
export const cursorIntegerMax = (1n << 63n) - 1n;

/**
 * An integer inside a cursor (a timestamp, a sequence number), as decimal text from `min` to
 * `cursorIntegerMax`, written one way (no sign, no leading zeros): a forged value out of range is
 * a malformed cursor rather than an overflow in the database.
 */
export function cursorInteger(min: bigint = 0n) {
  return z
    .string()
    .regex(/^(0|[1-9][0-9]{0,18})$/)
    .refine((text) => BigInt(text) >= min && BigInt(text) <= cursorIntegerMax);
}

const limitSchema = z.coerce
  .number()
  .int()
  .min(1)
  .max(pageSizeMax)
  .default(pageSizeDefault)
  .describe(`Items per page, 1 to ${pageSizeMax}`);

const cursorTextSchema = z
  .string()
  .min(1)
  .max(cursorLengthMax)
  .describe('Where to continue: the `nextCursor` of the previous page');

/** The query of a list route, cursor left as text (decode it with decodeCursor). */
export const pageQuerySchema = z.object({
  cursor: cursorTextSchema.optional(),
  limit: limitSchema,
});

/**
 * The query of a list route whose cursor is decoded and checked during validation, so that a
 * tampered cursor is a `validationFailed` at `querystring/cursor` like any other bad parameter.
 */
export function pageQuery<T>(cursorSchema: z.ZodType<T>) {
  const cursor = cursorTextSchema.transform((text, context) => {
    const decoded = decodeCursor(text, cursorSchema);
    if (decoded.ok) return decoded.value;
    context.addIssue({ code: 'custom', message: decoded.detail ?? malformedCursor });
    return z.NEVER;
  });
  return z.object({ cursor: cursor.optional(), limit: limitSchema });
}

export interface Page<T> {
  readonly items: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/** The response schema of a list route. */
export function pageSchema<S extends z.ZodType>(itemSchema: S) {
  return z.object({ items: z.array(itemSchema), nextCursor: z.string().nullable() });
}

/**
 * One page from `items`, fetched as `limit + 1` rows: the extra row only tells that there is a
 * next page, which starts after the cursor of the last item returned.
 */
export function page<T>(
  items: readonly T[],
  limit: number,
  cursorOf: (item: T) => unknown,
): Page<T> {
  if (items.length <= limit) return { items: [...items], nextCursor: null };
  const shown = items.slice(0, limit);
  const last = shown.at(-1);
  return { items: shown, nextCursor: last === undefined ? null : encodeCursor(cursorOf(last)) };
}
