/**
 * @mite/client/x402: Mite as a scheme client for the stock x402 v2 client `@x402/fetch`, which
 * must be installed beside this package (an optional peer dependency). See README.md.
 */
export { MiteScheme, miteScheme, type MiteSchemeOptions } from './mite-scheme.ts';
