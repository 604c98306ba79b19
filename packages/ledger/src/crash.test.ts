import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import { openLedger } from './open-ledger.ts';

/** How many times each backend's writer is killed mid-commit. */
const killsPerBackend = 20;
const childPath = fileURLToPath(new URL('./testing/crash-child.ts', import.meta.url));

interface ChildRun {
  acked: bigint[];
}

/** Starts the child, lets it commit for a random while after its first acknowledgement, then SIGKILLs it. */
function runAndKill(url: string, run: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', childPath, url, String(run)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const acked: bigint[] = [];
    let buffered = '';
    let stderr = '';
    let killed = false;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('ack ')) continue;
        acked.push(BigInt(line.slice(4)));
        // Killed while commits go on: at a random moment after the first acknowledgement (a
        // fixed delay after start could pass before a slow, loaded machine acknowledged any).
        if (!killed) {
          killed = true;
          // A real timer: the child commits on its own clock, which this test cannot move.
          setTimeout(() => child.kill('SIGKILL'), Math.random() * 200);
        }
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ acked });
      else reject(new Error(`crash child exited by itself (${code}): ${stderr}`));
    });
  });
}

async function crashLoop(url: string): Promise<void> {
  let total = 0;
  for (let run = 1; run <= killsPerBackend; run++) {
    const { acked } = await runAndKill(url, run);
    assert.ok(acked.length > 0, `run ${run} acknowledged nothing before it was killed`);
    total += acked.length;
    const ledger = await openLedger({ url });
    try {
      for (let i = 0; i < acked.length; i += 8000) {
        const ids = acked.slice(i, i + 8000);
        const found = await ledger.lookupTransfers(ids);
        assert.equal(found.length, ids.length, `run ${run}: acknowledged transfers are missing`);
      }
      assert.deepEqual(await ledger.verify(), { ok: true, problems: [] });
    } finally {
      await ledger.close();
    }
  }
  assert.ok(total > killsPerBackend);
}

describe('crash safety: SIGKILL during commits loses no acknowledged transfer', () => {
  it('SQLite', { timeout: 180_000 }, async () => {
    await crashLoop(`sqlite:${path.join(tempDir('mite-crash-'), 'ledger.sqlite')}`);
  });

  it('PostgreSQL', { timeout: 180_000 }, async (t) => {
    const url = await freshPgDatabase();
    if (url === undefined) {
      t.skip('PostgreSQL is not installed');
      return;
    }
    await crashLoop(url);
  });
});
