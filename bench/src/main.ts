/**
 * `npm run bench -- <name> [--quick]`: runs one benchmark, prints its table and budget checks and
 * writes its JSON under bench/results. A FAIL is reported, not turned into an exit code: these are
 * measurements. Exit 2 for a usage error, 1 when a benchmark could not run.
 */
import { apiBenchMain } from './api-bench.ts';
import { ledgerBenchMain } from './ledger-bench.ts';
import { paywallBenchMain } from './paywall-bench.ts';
import { riskBenchMain } from './risk-bench.ts';
import { streamingBenchMain } from './streaming-bench.ts';
import { tokensBenchMain } from './tokens-bench.ts';

export interface BenchmarkArgs {
  /** A short run (about 15 s) instead of the full one (1-3 minutes). */
  readonly quick: boolean;
}

interface Benchmark {
  readonly summary: string;
  run(args: BenchmarkArgs): Promise<void>;
}

const benchmarks: Readonly<Record<string, Benchmark>> = {
  api: {
    summary: 'purchases/s and their p50/p99 through the HTTP API, with a plain authenticated route',
    run: apiBenchMain,
  },
  ledger: {
    summary: 'durable transfers/s through openLedger on SQLite and PostgreSQL, with ceilings',
    run: ledgerBenchMain,
  },
  paywall: {
    summary: 'a merchant route behind withPaywall, paid vs unpaid, and receipt checks vs Ed25519',
    run: paywallBenchMain,
  },
  risk: {
    summary: 'a seeded synthetic population through the risk rules: detection, false positives, us',
    run: riskBenchMain,
  },
  streaming: {
    summary: 'session vouchers verified/s: PayWord vs bare SHA-256, Ed25519 vs bare verify',
    run: streamingBenchMain,
  },
  tokens: {
    summary: 'blind-signed tokens issued/s against bare RSA signing, and token verification',
    run: tokensBenchMain,
  },
};

function usage(): string {
  const names = Object.entries(benchmarks).map(
    ([name, benchmark]) => `  ${name.padEnd(10)} ${benchmark.summary}`,
  );
  return [
    'usage: npm run bench -- <name> [--quick]',
    '',
    'benchmarks:',
    ...names,
    '',
    'options:',
    '  --quick    a short run (about 15 s)',
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const flags = argv.filter((arg) => arg.startsWith('-'));
  const names = argv.filter((arg) => !arg.startsWith('-'));
  if (flags.includes('--help') || flags.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const unknownFlag = flags.find((flag) => flag !== '--quick');
  const name = names[0];
  const benchmark =
    name !== undefined && Object.hasOwn(benchmarks, name) ? benchmarks[name] : undefined;
  if (unknownFlag !== undefined || benchmark === undefined || names.length > 1) {
    const problem =
      unknownFlag !== undefined
        ? `unknown option ${unknownFlag}`
        : name === undefined
          ? 'no benchmark named'
          : names.length > 1
            ? `one benchmark at a time (got ${names.join(', ')})`
            : `unknown benchmark "${name}"`;
    console.error(`${problem}\n\n${usage()}`);
    return 2;
  }
  await benchmark.run({ quick: flags.includes('--quick') });
  return 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
}
