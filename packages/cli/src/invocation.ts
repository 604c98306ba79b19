/**
 * How a person runs this very `mite` from any folder, for the commands the banner prints: `mite`
 * when the `mite` on the PATH is this package's (after `npm link -w packages/cli`, say), else
 * `node` and the absolute path of the script that runs now (the bundle `dist/mite.mjs` that
 * `npm start` builds, or `bin/mite.js`, which loads the sources through tsx). Never `npm run mite`
 * or `npx mite`: those work only inside the repository.
 */
import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';

/** Characters a POSIX shell takes literally in a word. */
const shellSafe = /^[A-Za-z0-9_/.,+@%=:-]+$/;

/** A word for a POSIX shell, single-quoted when it has to be. */
export function shellWord(text: string): string {
  return shellSafe.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

function realpathOrUndefined(file: string): string | undefined {
  try {
    accessSync(file, constants.X_OK);
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

/** The first `mite` on the PATH, its links followed; undefined when there is none. */
function miteOnPath(pathVariable: string | undefined): string | undefined {
  for (const dir of (pathVariable ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const found = realpathOrUndefined(path.join(dir, 'mite'));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The command that runs this `mite`, given the script that runs now (`process.argv[1]`: the
 * bundle, `bin/mite.js` or `src/main.ts`, each one folder below the package) and the PATH.
 */
export function miteCommandFor(
  scriptPath: string | undefined,
  pathVariable: string | undefined,
): string {
  if (scriptPath === undefined) return 'mite';
  const script = realpathOrUndefined(scriptPath) ?? path.resolve(scriptPath);
  const packageDir = path.dirname(path.dirname(script));
  const bin = path.join(packageDir, 'bin', 'mite.js');
  const onPath = miteOnPath(pathVariable);
  if (onPath !== undefined && (onPath === bin || onPath === script)) return 'mite';
  // The sources run through `node --import tsx`, which resolves tsx from the working folder:
  // bin/mite.js registers tsx from its own place instead, so it runs from anywhere.
  const runnable = script.endsWith('.ts') ? bin : script;
  return `node ${shellWord(runnable)}`;
}
