/**
 * Cold start to ready (DESIGN.md section 11): the time from spawning `mite serve`, built as
 * `npm start` runs it (packages/cli/src/build.ts), to its "Mite is running" banner, after which
 * `/healthz` must answer 200. Each start gets a fresh data directory (migrations, keys, ledger
 * created); each restart reopens one (migrations checked, ledger loaded and verified).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@mite/testkit';
import { bundleToScratch } from '../../packages/cli/src/build.ts';
import { serverNodeFlags } from '../../packages/cli/src/node-flags.ts';

/** Longest a start may take before the measurement fails. */
const startTimeoutMs = 30_000;

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const cliEntry = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
const buildRoot = fileURLToPath(new URL('../.build/', import.meta.url));

export interface ColdStartReport {
  /** Milliseconds to the banner, one per start with a fresh data directory. */
  readonly freshMs: number[];
  /** Milliseconds to the banner, one per restart on a data directory used before. */
  readonly restartMs: number[];
}

/** Builds `mite`, then starts it `runs` times fresh and `runs` times on an existing directory. */
export async function measureColdStart(runs: number): Promise<ColdStartReport> {
  const { file, remove } = await bundleToScratch(cliEntry, buildRoot);
  try {
    const freshMs: number[] = [];
    const restartMs: number[] = [];
    for (let run = 0; run < runs; run++) {
      const dataDir = tempDir('mite-bench-cold-');
      freshMs.push(await timeStart(file, dataDir));
      restartMs.push(await timeStart(file, dataDir));
    }
    return { freshMs, restartMs };
  } finally {
    remove();
  }
}

/** Spawns `mite serve`, waits for its banner, checks /healthz, stops it; the time to the banner. */
async function timeStart(file: string, dataDir: string): Promise<number> {
  const startedAt = performance.now();
  const args = [...serverNodeFlags, file, 'serve', '--port', '0', '--data-dir', dataDir];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, MITE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const { url, atMs } = await new Promise<{ url: string; atMs: number }>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(
        () => reject(new Error(`mite serve was not ready in ${startTimeoutMs} ms: ${stderr}`)),
        startTimeoutMs,
      );
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /^Mite is running: (http:\/\/\S+)$/m.exec(stdout);
        if (match?.[1] === undefined) return;
        clearTimeout(timer);
        resolve({ url: match[1], atMs: performance.now() });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mite serve exited (${code}) before it was ready: ${stderr}`));
      });
    });
    const health = await fetch(`${url}/healthz`);
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
    await health.arrayBuffer();
    return atMs - startedAt;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
