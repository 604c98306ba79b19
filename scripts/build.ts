/**
 * `npm run build`: writes packages/cli/dist/mite.mjs, the `mite` command as one JavaScript file
 * (see packages/cli/src/build.ts), and the web apps into packages/web/dist (packages/web/src/
 * build.ts), which the platform serves. `npm start` runs it; `npm test` too, so that the browser
 * tests run against the apps as they are now.
 */
import { fileURLToPath } from 'node:url';
import { bundle } from '../packages/cli/src/build.ts';
import { buildWeb } from '../packages/web/src/build.ts';

const cliDir = fileURLToPath(new URL('../packages/cli/', import.meta.url));
await bundle({ entry: `${cliDir}src/main.ts`, outfile: `${cliDir}dist/mite.mjs` });
await buildWeb();
