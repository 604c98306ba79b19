/**
 * Where the web apps' build is: packages/web/dist, found through the `@mite/web` workspace
 * package, so that the answer is the same from the sources, from `npm run build`'s bundle and from
 * a test's scratch bundle. Undefined when the package is not installed; the platform then serves a
 * page that says how to build the apps.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function webAppsRoot(): string | undefined {
  try {
    const manifest = fileURLToPath(import.meta.resolve('@mite/web/package.json'));
    return path.join(path.dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}
