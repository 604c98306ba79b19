/**
 * Queries built and compiled once, run many times with new values.
 *
 * Kysely builds an operation tree and compiles it to SQL on every execution: for the few queries a
 * purchase runs, that cost about as much CPU as SQLite's own work. A prepared query is built once
 * with named placeholders, compiled once for the database's dialect, and then executed with the
 * placeholders' values put in their parameter slots; the SQL text stays the same, so the SQLite
 * driver's statement cache (and PostgreSQL's) is hit every time. Kysely offers no named
 * parameters, hence this small module.
 *
 * Placeholders may stand wherever a value goes (comparisons, inserted or updated values, raw `sql`
 * parameters), not for lists (`in`), which Kysely expands by length at compile time.
 */
import {
  type Compilable,
  type CompiledQuery,
  createQueryId,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { PlatformSchema } from './schema.ts';

/** Where a named value goes in the compiled parameters. */
class Placeholder {
  constructor(readonly name: string) {}
}

type Slot = { readonly fixed: unknown } | { readonly name: string };

export type PreparedQuery<Args, Row> = (
  executor: Kysely<PlatformSchema>,
  args: Args,
) => Promise<QueryResult<Row>>;

type Build<Args, Row> = (
  db: Kysely<PlatformSchema>,
  arg: <Name extends keyof Args & string>(name: Name) => Args[Name],
) => Compilable<Row>;

interface Template {
  readonly compiled: CompiledQuery;
  readonly slots: readonly Slot[];
}

/**
 * A query whose `build` runs once per database (the first time it is executed there), with
 * `arg(name)` standing for the value each execution passes as `args[name]`. Execute it on a
 * database or on one of its transactions. Defined once, at module level, like a statement.
 */
export function preparedQuery<Args extends object, Row>(
  build: Build<Args, Row>,
): PreparedQuery<Args, Row> {
  // Compiled SQL depends only on the dialect: one template per database's adapter, which its
  // transactions share.
  const templates = new WeakMap<object, Template>();
  // Async, so that a query that fails to compile rejects like one that fails to run.
  return async (executor, args) => {
    const adapter = executor.getExecutor().adapter;
    let template = templates.get(adapter);
    if (template === undefined) {
      template = compileTemplate(executor, build);
      templates.set(adapter, template);
    }
    const values = args as Record<string, unknown>;
    const parameters = template.slots.map((slot) =>
      'name' in slot ? values[slot.name] : slot.fixed,
    );
    const compiled: CompiledQuery<Row> = {
      query: template.compiled.query,
      queryId: createQueryId(),
      sql: template.compiled.sql,
      parameters,
    };
    return executor.executeQuery(compiled);
  };
}

function compileTemplate<Args, Row>(db: Kysely<PlatformSchema>, build: Build<Args, Row>): Template {
  const used = new Set<string>();
  const arg = <Name extends keyof Args & string>(name: Name): Args[Name] => {
    used.add(name);
    return new Placeholder(name) as Args[Name];
  };
  const compiled = build(db, arg).compile();
  const slots: Slot[] = compiled.parameters.map((value) =>
    value instanceof Placeholder ? { name: value.name } : { fixed: value },
  );
  const placed = new Set(slots.flatMap((slot) => ('name' in slot ? [slot.name] : [])));
  for (const name of used) {
    // A placeholder Kysely did not pass as a parameter (in a list, say) would be sent as is.
    if (!placed.has(name)) throw new Error(`bug: placeholder ${name} is not a query parameter`);
  }
  return { compiled, slots };
}

/** The first row of a prepared query's result, if any. */
export async function firstRow<Args, Row>(
  query: PreparedQuery<Args, Row>,
  executor: Kysely<PlatformSchema>,
  args: Args,
): Promise<Row | undefined> {
  return (await query(executor, args)).rows[0];
}

/** Rows inserted, updated or deleted by a prepared write. */
export async function affectedRows<Args, Row>(
  query: PreparedQuery<Args, Row>,
  executor: Kysely<PlatformSchema>,
  args: Args,
): Promise<bigint> {
  return (await query(executor, args)).numAffectedRows ?? 0n;
}
