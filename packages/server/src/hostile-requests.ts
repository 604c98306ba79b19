/**
 * Hostile requests generated from the OpenAPI document (fast-check arbitraries), for the test
 * that every route refuses them. Each request breaks one thing the route must refuse before it
 * changes anything (its schema, its JSON, its Idempotency-Key, its caller) and is otherwise
 * plausible, so that the refusal comes from that one thing and reaches past the rest.
 */
import fc from 'fast-check';

/** The part of JSON Schema zod's OpenAPI output uses. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: unknown;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly anyOf?: readonly JsonSchema[];
  readonly oneOf?: readonly JsonSchema[];
}

export type PrincipalKind = 'user' | 'merchant' | 'operator';

export interface Operation {
  readonly method: string;
  /** OpenAPI form: `/v1/offers/{offerId}`. */
  readonly path: string;
  readonly pathParams: readonly { readonly name: string; readonly schema: JsonSchema }[];
  readonly queryParams: readonly {
    readonly name: string;
    readonly required: boolean;
    readonly schema: JsonSchema;
  }[];
  readonly body: JsonSchema | undefined;
  readonly needsIdempotencyKey: boolean;
  /** Undefined: public. */
  readonly kinds: readonly PrincipalKind[] | undefined;
}

export type Caller = PrincipalKind | 'none' | 'bogus';

export interface HostileRequest {
  /** What is wrong with it, for failure messages. */
  readonly attack: string;
  readonly caller: Caller;
  /** Path and query, encoded. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** A short description, which fast-check reports counterexamples by. */
  readonly [fc.toStringMethod]: () => string;
}

interface OpenApiParameter {
  readonly in: string;
  readonly name: string;
  readonly required?: boolean;
  readonly schema: JsonSchema;
}

interface OpenApiOperation {
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: { readonly content: Record<string, { readonly schema: JsonSchema }> };
  readonly 'x-mite-auth'?: 'public' | { readonly kinds: readonly PrincipalKind[] };
}

/** The operations of an OpenAPI document. */
export function operationsOf(document: {
  paths: Record<string, Record<string, OpenApiOperation>>;
}): Operation[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const parameters = operation.parameters ?? [];
      const auth = operation['x-mite-auth'];
      return {
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((parameter) => parameter.in === 'path'),
        queryParams: parameters
          .filter((parameter) => parameter.in === 'query')
          .map((parameter) => ({ ...parameter, required: parameter.required === true })),
        body: operation.requestBody?.content['application/json']?.schema,
        needsIdempotencyKey: parameters.some(
          (parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key',
        ),
        kinds: auth === undefined || auth === 'public' ? undefined : auth.kinds,
      };
    }),
  );
}

const shortText = fc.string({ maxLength: 12 });

/** Strings no route may store: a NUL, or a lone surrogate (JSON can carry both). */
export const unstorableString = fc.oneof(
  fc.tuple(shortText, shortText).map(([before, after]) => `${before}\u0000${after}`),
  fc
    .tuple(shortText, fc.integer({ min: 0xd800, max: 0xdfff }), shortText)
    .map(([before, unit, after]) => `${before}${String.fromCharCode(unit)}${after}`),
);

function typesOf(schema: JsonSchema): string[] {
  if (schema.type === undefined) return [];
  return typeof schema.type === 'string' ? [schema.type] : [...schema.type];
}

const valueOfType: Record<string, fc.Arbitrary<unknown>> = {
  string: shortText,
  number: fc.double({ noNaN: true, noDefaultInfinity: true }),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.integer(), { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
};

/** Values of no type the schema accepts; undefined when it accepts any type. */
function wrongType(schema: JsonSchema): fc.Arbitrary<unknown> | undefined {
  const accepted = typesOf(schema);
  if (accepted.length === 0) return undefined;
  const numeric = accepted.includes('number') || accepted.includes('integer');
  const others = Object.entries(valueOfType)
    .filter(([type]) => !accepted.includes(type) && !(numeric && type === 'number'))
    .map(([, arbitrary]) => arbitrary);
  return others.length === 0 ? undefined : fc.oneof(...others);
}

function patternOf(schema: JsonSchema): RegExp | undefined {
  return schema.pattern === undefined ? undefined : new RegExp(schema.pattern, 'u');
}

/** A value that may or may not match `schema`: the plausible rest of a request. */
export function plausibleValue(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches !== undefined) return fc.oneof(...branches.map((b) => plausibleValue(b, depth)));
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum);
  const [type] = typesOf(schema);
  switch (type) {
    case 'string': {
      const pattern = patternOf(schema);
      if (pattern !== undefined) return fc.stringMatching(pattern);
      if (schema.format === 'date-time') {
        return fc.date({ noInvalidDate: true }).map((date) => date.toISOString());
      }
      const minLength = schema.minLength ?? 0;
      return fc.string({ minLength, maxLength: Math.min(schema.maxLength ?? 20, minLength + 20) });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000 });
    case 'number':
      return fc.double({
        min: schema.minimum ?? -1_000,
        max: schema.maximum ?? 1_000,
        noNaN: true,
      });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(schema.maxItems ?? 3, 3));
      return fc.array(plausibleValue(schema.items ?? {}, depth + 1), { minLength, maxLength });
    }
    case 'object':
      return plausibleObject(schema, depth);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function plausibleObject(schema: JsonSchema, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const model = Object.fromEntries(
    Object.entries(properties).map(([name, property]) => [
      name,
      plausibleValue(property, depth + 1),
    ]),
  );
  return fc.record(model, { requiredKeys: [...(schema.required ?? [])] });
}

/**
 * Strings just outside `pattern`: each bounded repetition may run a little longer or shorter
 * (`[0-9]{0,11}` becomes `[0-9]{0,13}`), where limits written into patterns are off by one.
 */
function nearPattern(pattern: RegExp): fc.Arbitrary<string> {
  const relaxed = pattern.source.replace(
    /\{(\d+)(?:,(\d+))?\}/g,
    (_whole, low: string, high: string | undefined) =>
      `{${Math.max(0, Number(low) - 1)},${Number(high ?? low) + 2}}`,
  );
  return fc.stringMatching(new RegExp(relaxed, pattern.flags));
}

function stringViolations(schema: JsonSchema): fc.Arbitrary<unknown>[] {
  const found: fc.Arbitrary<unknown>[] = [];
  const { minLength, maxLength } = schema;
  if (maxLength !== undefined) {
    found.push(fc.string({ minLength: maxLength + 1, maxLength: maxLength + 20 }));
  }
  if (minLength !== undefined && minLength > 0) found.push(fc.string({ maxLength: minLength - 1 }));
  const pattern = patternOf(schema);
  if (pattern !== undefined) {
    const nearMisses = fc.oneof(fc.string(), nearPattern(pattern));
    found.push(nearMisses.filter((text) => !pattern.test(text)));
  }
  const members = schema.enum;
  if (members !== undefined) found.push(fc.string().filter((text) => !members.includes(text)));
  return found;
}

function numberViolations(schema: JsonSchema): fc.Arbitrary<unknown>[] {
  const found: fc.Arbitrary<unknown>[] = [];
  const { minimum, maximum } = schema;
  if (minimum !== undefined) found.push(fc.integer({ min: minimum - 1_000_000, max: minimum - 1 }));
  if (maximum !== undefined) found.push(fc.integer({ min: maximum + 1, max: maximum + 1_000_000 }));
  if (typesOf(schema).includes('integer')) {
    const low = minimum ?? -1_000;
    const high = maximum ?? 1_000;
    found.push(fc.double({ min: low, max: high, noNaN: true }).filter((x) => !Number.isInteger(x)));
  }
  return found;
}

function objectViolations(schema: JsonSchema, depth: number): fc.Arbitrary<unknown>[] {
  const found: fc.Arbitrary<unknown>[] = [];
  const plausible = plausibleObject(schema, depth);
  const required = schema.required ?? [];
  if (required.length > 0) {
    found.push(
      fc.tuple(plausible, fc.constantFrom(...required)).map(([value, missing]) => {
        const { [missing]: _dropped, ...rest } = value;
        return rest;
      }),
    );
  }
  if (schema.additionalProperties === false) {
    found.push(plausible.map((value) => ({ ...value, unexpectedProperty: 1 })));
  }
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    found.push(
      fc.tuple(plausible, violatingValue(property, depth + 1)).map(([value, bad]) => ({
        ...value,
        [name]: bad,
      })),
    );
  }
  return found;
}

function arrayViolations(schema: JsonSchema, depth: number): fc.Arbitrary<unknown>[] {
  const found: fc.Arbitrary<unknown>[] = [];
  const item = plausibleValue(schema.items ?? {}, depth + 1);
  if (schema.maxItems !== undefined) {
    found.push(fc.array(item, { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 3 }));
  }
  if (schema.minItems !== undefined && schema.minItems > 0) found.push(fc.constant([]));
  if (schema.items !== undefined) {
    found.push(violatingValue(schema.items, depth + 1).map((bad) => [bad]));
  }
  return found;
}

/** A value `schema` refuses, whatever else the request holds. */
export function violatingValue(schema: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  // Refused by every route whatever its schema (see http/input-guards.ts).
  const found: fc.Arbitrary<unknown>[] = [unstorableString];
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches === undefined) {
    const wrong = wrongType(schema);
    if (wrong !== undefined) found.push(wrong);
    const [type] = typesOf(schema);
    if (type === 'string') found.push(...stringViolations(schema));
    if (type === 'integer' || type === 'number') found.push(...numberViolations(schema));
    if (type === 'object') found.push(...objectViolations(schema, depth));
    if (type === 'array') found.push(...arrayViolations(schema, depth));
  }
  return fc.oneof(...found);
}

/** Path and query text; a lone surrogate cannot be percent-encoded as UTF-8, so its bytes are. */
function encodeComponent(text: string): string {
  return text
    .split(/(\p{Cs})/u)
    .map((part) => {
      if (!/^\p{Cs}$/u.test(part)) return encodeURIComponent(part);
      const unit = part.charCodeAt(0);
      const bytes = [0xe0 | (unit >> 12), 0x80 | ((unit >> 6) & 0x3f), 0x80 | (unit & 0x3f)];
      return bytes.map((byte) => `%${byte.toString(16).toUpperCase()}`).join('');
    })
    .join('');
}

/** Longest path parameter the router matches (http/limits.ts). */
const pathParameterLengthMax = 100;

/** Path parameters no route may take: NUL, bytes that are not UTF-8, too long, or unknown. */
function hostilePathParameter(schema: JsonSchema): fc.Arbitrary<string> {
  const tooLong = Math.min(schema.maxLength ?? pathParameterLengthMax, pathParameterLengthMax) + 1;
  return fc.oneof(
    fc.tuple(shortText, shortText).map(([before, after]) => `${before}\u0000${after}`),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => `id${String.fromCharCode(unit)}`),
    fc.string({ minLength: tooLong, maxLength: tooLong + 50 }),
    // An id nothing has: "." and ".." would be resolved away by the URL parser.
    fc.string({ minLength: 1, maxLength: 40 }).filter((text) => text !== '.' && text !== '..'),
  );
}

/** Query text `schema` refuses, `z.coerce` included (a number is whatever Number() makes). */
function violatingQueryText(schema: JsonSchema): fc.Arbitrary<string> {
  const nul = fc.tuple(shortText, shortText).map(([before, after]) => `${before}\u0000${after}`);
  const [type] = typesOf(schema);
  if (type === 'integer' || type === 'number') {
    const { minimum = -Infinity, maximum = Infinity } = schema;
    const numeric = numberViolations(schema).map((value) => value.map(String));
    return fc.oneof(fc.string(), ...numeric).filter((text) => {
      const value = Number(text);
      return !(Number.isInteger(value) && value >= minimum && value <= maximum);
    });
  }
  const strings = stringViolations(schema).map((value) => value.map(String));
  return fc.oneof(nul, ...strings);
}

function plausibleQueryText(schema: JsonSchema): fc.Arbitrary<string> {
  return plausibleValue(schema).map((value) =>
    typeof value === 'string' ? value : JSON.stringify(value),
  );
}

interface RequestParts {
  readonly attack: string;
  readonly caller: Caller;
  readonly pathValues: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly idempotencyKey: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string | undefined;
}

function assemble(operation: Operation, parts: RequestParts): HostileRequest {
  const path = operation.path.replace(/\{([^}]+)\}/g, (_whole, name: string) =>
    encodeComponent(parts.pathValues[name] ?? ''),
  );
  const query = Object.entries(parts.query)
    .map(([name, value]) => `${encodeComponent(name)}=${encodeComponent(value)}`)
    .join('&');
  const headers: Record<string, string> = {};
  if (parts.idempotencyKey !== undefined) headers['idempotency-key'] = parts.idempotencyKey;
  if (parts.contentType !== undefined) headers['content-type'] = parts.contentType;
  const url = query === '' ? path : `${path}?${query}`;
  const summary = `${parts.attack} as ${parts.caller}: ${url.slice(0, 300)} ${
    parts.body === undefined ? '' : `body ${parts.body.slice(0, 300)} (${parts.body.length} chars)`
  }`;
  // Counterexamples are reported by this summary: a hostile body can be megabytes.
  return {
    attack: parts.attack,
    caller: parts.caller,
    url,
    headers,
    body: parts.body,
    [fc.toStringMethod]: () => summary,
  };
}

/** Ids of things that exist, by path parameter name: the rest of a request reaches them. */
export type KnownIds = Readonly<Record<string, string>>;

function plausibleParts(operation: Operation, known: KnownIds): fc.Arbitrary<RequestParts> {
  const pathValues = Object.fromEntries(
    operation.pathParams.map(({ name, schema }) => {
      const id = known[name];
      const value = plausibleValue(schema).map(String);
      return [name, id === undefined ? value : fc.oneof(fc.constant(id), value)];
    }),
  );
  const query = Object.fromEntries(
    operation.queryParams.map(({ name, schema }) => [name, plausibleQueryText(schema)]),
  );
  const body = operation.body;
  return fc.record({
    attack: fc.constant('none'),
    caller:
      operation.kinds === undefined
        ? fc.constant<Caller>('none')
        : fc.constantFrom(...operation.kinds),
    pathValues: fc.record(pathValues),
    query: fc.record(query, {
      requiredKeys: operation.queryParams.filter((p) => p.required).map((p) => p.name),
    }),
    idempotencyKey: operation.needsIdempotencyKey
      ? fc.uuid().map((uuid) => `hostile-${uuid}`)
      : fc.constant(undefined),
    contentType: fc.constant(body === undefined ? undefined : 'application/json'),
    body:
      body === undefined
        ? fc.constant(undefined)
        : plausibleValue(body).map((v) => JSON.stringify(v)),
  });
}

/** JSON text that does not parse, or parses into something no route should walk. */
const badJsonBodies = fc.oneof(
  fc.string().filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
  fc.integer({ min: 33, max: 5_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc
    .integer({ min: 33, max: 5_000 })
    .map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
);

/** What an attack changes in a plausible request; `dropQuery` leaves a query parameter out. */
type Attack = Partial<RequestParts> & { readonly dropQuery?: string };

/** Ways to break one part of a request of `operation`, each refused whatever the rest. */
function attacks(operation: Operation): fc.Arbitrary<Attack>[] {
  const found: fc.Arbitrary<Attack>[] = [];
  for (const { name, schema } of operation.pathParams) {
    found.push(
      hostilePathParameter(schema).map((value) => ({
        attack: `path ${name}`,
        pathValues: { [name]: value },
      })),
    );
  }
  for (const { name, required, schema } of operation.queryParams) {
    found.push(
      violatingQueryText(schema).map((value) => ({
        attack: `query ${name}`,
        query: { [name]: value },
      })),
    );
    if (required) found.push(fc.constant({ attack: `query ${name} missing`, dropQuery: name }));
  }
  if (operation.body !== undefined) {
    found.push(
      violatingValue(operation.body).map((value) => ({
        attack: 'body',
        body: JSON.stringify(value),
      })),
    );
    found.push(
      badJsonBodies.map((body) => ({ attack: 'body not JSON, or nested too deep', body })),
    );
    found.push(fc.constant({ attack: 'body not JSON media type', contentType: 'application/xml' }));
    found.push(
      fc.constant({
        attack: 'body too large',
        body: JSON.stringify({ padding: 'x'.repeat(70_000) }),
      }),
    );
  }
  if (operation.needsIdempotencyKey) {
    const badKeys = fc.oneof(
      fc.constantFrom('a b', '\u00e9t\u00e9', ' '),
      fc
        .string({ minLength: 256, maxLength: 300 })
        .filter((key) => key.trim().length === key.length),
    );
    found.push(badKeys.map((key) => ({ attack: 'idempotency key', idempotencyKey: key })));
  }
  if (operation.kinds !== undefined) {
    const kinds = operation.kinds;
    const refused: Caller[] = [
      'none',
      'bogus',
      ...(['user', 'merchant', 'operator'] as const).filter((kind) => !kinds.includes(kind)),
    ];
    found.push(
      fc.constantFrom(...refused).map((caller) => ({ attack: `caller ${caller}`, caller })),
    );
  }
  return found;
}

/** Hostile requests to `operation`; undefined when it takes nothing that could be wrong. */
export function hostileRequests(
  operation: Operation,
  known: KnownIds,
): fc.Arbitrary<HostileRequest> | undefined {
  const ways = attacks(operation);
  if (ways.length === 0) return undefined;
  return fc.tuple(plausibleParts(operation, known), fc.oneof(...ways)).map(([parts, attack]) => {
    const { dropQuery, ...changes } = attack;
    const query: Record<string, string> = { ...parts.query, ...attack.query };
    if (dropQuery !== undefined) delete query[dropQuery];
    return assemble(operation, {
      ...parts,
      ...changes,
      pathValues: { ...parts.pathValues, ...attack.pathValues },
      query,
    });
  });
}
