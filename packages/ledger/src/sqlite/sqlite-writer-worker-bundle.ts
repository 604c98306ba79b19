/**
 * The SQLite writer thread's code, bundled into one CommonJS script (see workerWriter).
 *
 * Run from sources, esbuild bundles the TypeScript entry and what it imports, once per process.
 * Mite's built bundle (packages/cli/src/build.ts) replaces this module with one that holds the
 * script built ahead of time, so a built process loads neither esbuild nor a TypeScript loader.
 * Both give the same shape; better-sqlite3 stays outside the script (a native addon) and is
 * required from `requireFrom`.
 */
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

export interface WorkerBundle {
  /** The worker's code as CommonJS, expecting `require`. */
  readonly code: string;
  /** A file path from which the worker's `require` resolves packages. */
  readonly requireFrom: string;
}

/** The worker's entry. */
const workerEntryPath = fileURLToPath(new URL('./sqlite-writer-worker.ts', import.meta.url));

let built: WorkerBundle | undefined;

export function workerBundle(): WorkerBundle {
  built ??= { code: bundleWorkerCode(), requireFrom: workerEntryPath };
  return built;
}

/** esbuild's bundle of the worker entry; the build calls this too. */
export function bundleWorkerCode(): string {
  const result = buildSync({
    entryPoints: [workerEntryPath],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['better-sqlite3'],
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text;
  if (code === undefined) throw new Error('bug: esbuild produced no worker bundle');
  return code;
}
