// A configuration for the stock `mppx` command-line tool (mppx@0.11.0) that pays Mite's 402s
// from the wallet `mite login` keeps, within the budget set there:
//
//   npx mppx http://127.0.0.1:40123/articles/mites-in-the-machine -c examples/mppx/mppx.config.mjs
//
// See README.md beside this file. Mite's packages are TypeScript sources, so the tsx loader is
// registered first and they are imported after it, as packages/cli/bin/mite.js does.
import { register } from 'tsx/esm/api';

register();
const { mite } = await import('@mite/client/mppx');
const { walletMethodOptions } = await import('@mite/cli/mppx-wallet');

// What `defineConfig` from 'mppx/cli' would return: it returns its argument unchanged. It is not
// imported because 'mppx/cli' fails to load in mppx 0.11.0: its account.js imports the package
// `incur`, which mppx bundles into its command line but does not declare as a dependency.
export default {
  // The only method: a challenge of another method is not paid with this configuration.
  methods: [mite(walletMethodOptions())],
};
