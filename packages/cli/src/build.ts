/**
 * Builds Mite into one JavaScript file per entry point (esbuild), run by plain `node` with no
 * TypeScript loader: the form `npm start` and the API benchmark run.
 *
 * Why a build: running the sources through tsx costs the server about 45 MB of memory (the
 * loader, its compiler and every module compiled at start) and a second of start-up. Mite's own
 * packages are bundled; third-party packages stay external and load from node_modules as they
 * are (native addons such as better-sqlite3 cannot be bundled, and bundling the rest gains
 * little). The ledger's writer-thread script, which a source run bundles when first needed, is
 * built here ahead of time (sqlite-writer-worker-bundle.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { bundleWorkerCode } from '../../ledger/src/sqlite/sqlite-writer-worker-bundle.ts';

export interface BundleOptions {
  /** The TypeScript entry point. */
  readonly entry: string;
  /** The `.mjs` file to write; third-party packages resolve from its directory upwards. */
  readonly outfile: string;
}

/** Mite's packages (`@mite/...`) and relative imports are bundled; every other package is not. */
const thirdPartyExternal: Plugin = {
  name: 'third-party-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('@mite/') ? undefined : { path: args.path, external: true },
    );
  },
};

/** Replaces the module that bundles the writer thread's script at run time with the script. */
function prebuiltLedgerWorker(): Plugin {
  return {
    name: 'prebuilt-ledger-worker',
    setup(builder) {
      builder.onLoad({ filter: /[\\/]sqlite-writer-worker-bundle\.ts$/ }, () => ({
        loader: 'js',
        contents: [
          `import { fileURLToPath } from 'node:url';`,
          `const code = ${JSON.stringify(bundleWorkerCode())};`,
          `export function workerBundle() {`,
          `  return { code, requireFrom: fileURLToPath(import.meta.url) };`,
          `}`,
        ].join('\n'),
      }));
    },
  };
}

export async function bundle(options: BundleOptions): Promise<void> {
  await build({
    entryPoints: [options.entry],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    plugins: [thirdPartyExternal, prebuiltLedgerWorker()],
    logLevel: 'warning',
  });
}

/** A bundle in a directory of its own, and the way to delete both. */
export interface ScratchBundle {
  readonly file: string;
  remove(): void;
}

/**
 * Bundles `entry` into a fresh directory under `parentDir` (which must lie inside the repository,
 * so that third-party packages resolve from its node_modules): for tests and benchmarks, which
 * delete it when done.
 */
export async function bundleToScratch(entry: string, parentDir: string): Promise<ScratchBundle> {
  mkdirSync(parentDir, { recursive: true });
  const dir = mkdtempSync(join(parentDir, `${basename(entry, extname(entry))}-`));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const file = join(dir, `${basename(entry, extname(entry))}.mjs`);
  try {
    await bundle({ entry, outfile: file });
  } catch (error) {
    remove();
    throw error;
  }
  return { file, remove };
}
