/**
 * Builds the web apps with Vite into packages/web/dist: one HTML page per screen (a multi-page
 * build), their scripts and styles bundled into hashed files under `dist/assets/`. The platform
 * serves the result (packages/server/src/web/web-apps.ts). `npm run build` runs this.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

/** The apps' sources: one folder per app, each screen a folder with its `index.html`. */
export const webSourceDir = fileURLToPath(new URL('./apps/', import.meta.url));

/** Where the build goes, and where the platform looks for it. */
export const webDistDir = fileURLToPath(new URL('../dist/', import.meta.url));

/** Every `index.html` under the sources, keyed by its path (`wallet/topup`). */
export function pageEntries(sourceDir: string = webSourceDir): Record<string, string> {
  const entries: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === 'index.html') {
        const name = path.relative(sourceDir, dir).split(path.sep).join('/');
        entries[name] = full;
      }
    }
  };
  walk(sourceDir);
  return entries;
}

export interface WebBuildOptions {
  readonly outDir?: string;
}

/** Builds every page; quiet unless something goes wrong. */
export async function buildWeb(options: WebBuildOptions = {}): Promise<void> {
  await build({
    root: webSourceDir,
    base: '/',
    configFile: false,
    logLevel: 'warn',
    // No .env files, no public folder: everything the pages load is in the sources.
    envDir: false,
    publicDir: false,
    build: {
      outDir: options.outDir ?? webDistDir,
      emptyOutDir: true,
      target: 'es2022',
      // The polyfill would be an inline script, which the pages' policy forbids; every browser
      // the apps support has module preloading.
      modulePreload: { polyfill: false },
      // Small files stay files: an inlined data: URL would need a looser policy.
      assetsInlineLimit: 0,
      sourcemap: true,
      reportCompressedSize: false,
      rolldownOptions: { input: pageEntries() },
    },
  });
}
