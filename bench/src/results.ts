import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bench/results, next to this package's src. */
export const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));

export interface WrittenResults {
  /** `bench/results/<name>-<timestamp>.json`. */
  readonly file: string;
  /** `bench/results/<name>-latest.json`, a copy of the same JSON. */
  readonly latest: string;
}

/** A file-name-safe UTC timestamp: 2025-01-31T12-34-56-789Z. */
export function fileTimestamp(date: Date = new Date()): string {
  return date.toISOString().replaceAll(':', '-').replaceAll('.', '-');
}

/**
 * Writes a benchmark's results as JSON twice: once under a timestamped name (a history that
 * git ignores) and once as `<name>-latest.json`. Bigints are written as decimal strings.
 */
export function writeResults(
  name: string,
  data: unknown,
  dir: string = resultsDir,
): WrittenResults {
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(
    data,
    (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
    2,
  )}\n`;
  const file = join(dir, `${name}-${fileTimestamp()}.json`);
  const latest = join(dir, `${name}-latest.json`);
  writeFileSync(file, json);
  writeFileSync(latest, json);
  return { file, latest };
}

/** What every benchmark's JSON starts with: which run, on what machine, with what options. */
export interface RunRecord {
  readonly name: string;
  readonly quick: boolean;
  readonly startedAt: Date;
  readonly options: unknown;
}

/** Writes a run's report with its record and machine, and prints where it went. */
export function saveRun(run: RunRecord, report: object): WrittenResults {
  const written = writeResults(run.name, {
    benchmark: run.name,
    quick: run.quick,
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    options: run.options,
    ...report,
  });
  console.log(`\nresults: ${written.file}\n         ${written.latest}`);
  return written;
}
