/**
 * Builds the web apps with Vite into packages/web/dist: one HTML page per screen (a multi-page
 * build), their scripts and styles bundled into hashed files under `dist/assets/`. The platform
 * serves the result (packages/server/src/web/web-apps.ts). `npm run build` runs this.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'vite';

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

/**
 * What several pages share, written once: a page says `<!-- mite:NAME -->` where the fragment
 * `apps/<app>/NAME.html` goes (the wallet's header and navigation, on every wallet page that
 * shows it), so that adding a page to the navigation is one edit, not one per page.
 */
const sharedFragments: Readonly<Record<string, string>> = {
  'wallet-header': path.join(webSourceDir, 'wallet', 'wallet-header.html'),
};

export function sharedFragmentsPlugin(): Plugin {
  return {
    name: 'mite-shared-fragments',
    transformIndexHtml(html) {
      return html.replace(/[ ]*<!-- mite:([a-z-]+) -->\n?/g, (_marker, name: string) => {
        const file = sharedFragments[name];
        if (file === undefined) throw new Error(`a page asks for an unknown fragment: ${name}`);
        return readFileSync(file, 'utf8');
      });
    },
  };
}

/**
 * The `<mite-paywall>` element's module, built on its own into `dist/paywall.js`: one file at a
 * stable URL that other sites load (no hash, no shared chunk under /assets/, which is for the
 * platform's own pages only).
 */
export const paywallEntry = path.join(webSourceDir, 'paywall', 'mite-paywall.ts');
export const paywallFileName = 'paywall.js';

/** The `<mite-meter>` player's module (a stream paid by the second), built the same way. */
export const meterEntry = path.join(webSourceDir, 'paywall', 'mite-meter.ts');
export const meterFileName = 'meter.js';

/** The scripts other sites load from the platform, each one file of its own. */
const siteScripts = [
  { name: 'paywall', entry: paywallEntry, fileName: paywallFileName },
  { name: 'meter', entry: meterEntry, fileName: meterFileName },
] as const;

export interface WebBuildOptions {
  readonly outDir?: string;
}

/** Builds every page, then the sites' scripts; quiet unless something goes wrong. */
export async function buildWeb(options: WebBuildOptions = {}): Promise<void> {
  const outDir = options.outDir ?? webDistDir;
  await buildPages(outDir);
  for (const script of siteScripts) await buildSiteScript(outDir, script);
}

/** One site script, alone: no chunk shared with the pages or the other script. */
async function buildSiteScript(
  outDir: string,
  script: (typeof siteScripts)[number],
): Promise<void> {
  await build({
    root: webSourceDir,
    configFile: false,
    logLevel: 'warn',
    envDir: false,
    publicDir: false,
    build: {
      outDir,
      emptyOutDir: false,
      target: 'es2022',
      sourcemap: true,
      reportCompressedSize: false,
      rolldownOptions: {
        input: { [script.name]: script.entry },
        output: { entryFileNames: script.fileName, format: 'es' },
      },
    },
  });
}

async function buildPages(outDir: string): Promise<void> {
  await build({
    root: webSourceDir,
    base: '/',
    configFile: false,
    plugins: [sharedFragmentsPlugin()],
    logLevel: 'warn',
    // No .env files, no public folder: everything the pages load is in the sources.
    envDir: false,
    publicDir: false,
    build: {
      outDir,
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
