/**
 * `npm run build`: writes packages/cli/dist/mite.mjs, the `mite` command as one JavaScript file
 * (see packages/cli/src/build.ts). `npm start` runs it.
 */
import { fileURLToPath } from 'node:url';
import { bundle } from '../packages/cli/src/build.ts';

const cliDir = fileURLToPath(new URL('../packages/cli/', import.meta.url));
await bundle({ entry: `${cliDir}src/main.ts`, outfile: `${cliDir}dist/mite.mjs` });
