/**
 * The V8 options Mite's server runs with, wherever Mite starts it: `npm start` (package.json),
 * the `mite` command (bin/mite.js's first line) and the API and cold-start benchmarks, which run
 * the server as Mite runs it. A test holds package.json and bin/mite.js to this list.
 *
 * Why: under a steady stream of purchases V8 grows the young generation to its largest size,
 * 16 MB per semi-space on a 64-bit machine, and keeps it. Each purchase's objects live until its
 * commits are durable, a few milliseconds, so smaller semi-spaces collect them as well: in
 * `npm run bench -- api` (2026-12-07, two runs back to back) the server's largest RSS was
 * 215 MB at 8 MB against 304 MB at 16 MB, at 0.64 and 0.62 of the purchase floor
 * (docs/ARCHITECTURE.md, "Memory").
 */
export const serverNodeFlags: readonly string[] = ['--max-semi-space-size=8'];
