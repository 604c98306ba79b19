/**
 * The V8 options Mite's server runs with, wherever Mite starts it: `npm start` (package.json),
 * the `mite` command (bin/mite.js's first line) and the API and cold-start benchmarks, which run
 * the server as Mite runs it. A test holds package.json and bin/mite.js to this list.
 *
 * Why: under a steady stream of purchases V8 grows the young generation to its largest size,
 * 16 MB per semi-space on a 64-bit machine, and keeps it. Each purchase's objects live until its
 * commits are durable, a few milliseconds, so far smaller semi-spaces collect them as well: at
 * 8 MB the server's resident memory under load fell by about 20-30 MB in our measurements,
 * with no loss of purchases per second (docs/ARCHITECTURE.md, "Memory").
 */
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=8'];
