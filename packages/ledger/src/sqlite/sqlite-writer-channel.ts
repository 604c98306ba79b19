import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { createSqliteWriter, type EncodedWrites, transferables } from './sqlite-writer.ts';
import { workerBundle } from './sqlite-writer-worker-bundle.ts';

export type WriterRequest =
  | { readonly type: 'write'; readonly seq: number; readonly writes: EncodedWrites }
  | { readonly type: 'history'; readonly seq: number; readonly blocksMax: number }
  | { readonly type: 'reset'; readonly seq: number }
  | { readonly type: 'close'; readonly seq: number };

export interface WriterReply {
  readonly seq: number;
  readonly error?: string;
  readonly more?: boolean;
}

/**
 * The way to the one writer of a SQLite store. Writes are applied in call order; after a failed
 * write every later one fails unapplied, until `reset`.
 */
export interface WriterChannel {
  write(writes: EncodedWrites): Promise<void>;
  catchUpHistory(blocksMax: number): Promise<boolean>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** For an in-memory store, which no other thread can open: the writer runs on this thread. */
export function inThreadWriter(db: Database.Database): WriterChannel {
  const writer = createSqliteWriter(db);
  let failed: unknown;
  return {
    async write(writes) {
      if (failed !== undefined) throw failed;
      try {
        writer.write(writes);
      } catch (error) {
        failed = error;
        throw error;
      }
    },
    catchUpHistory: async (blocksMax) => writer.catchUpHistory(blocksMax),
    async reset() {
      failed = undefined;
    },
    async close() {},
  };
}

/** The writer on a worker thread, with its own connection to the store file. */
export function workerWriter(location: string, busyTimeoutMs: number): WriterChannel {
  const worker = new Worker(workerBootstrap(), {
    eval: true,
    workerData: { location, busyTimeoutMs },
  });
  const waiting = new Map<number, { resolve(reply: WriterReply): void; reject(e: Error): void }>();
  let nextSeq = 1;
  let broken: Error | undefined;
  worker.unref();
  const fail = (error: Error) => {
    broken ??= error;
    for (const { reject } of waiting.values()) reject(broken);
    waiting.clear();
  };
  worker.on('message', (reply: WriterReply) => {
    const request = waiting.get(reply.seq);
    waiting.delete(reply.seq);
    if (waiting.size === 0) worker.unref();
    request?.resolve(reply);
  });
  worker.on('error', (error) =>
    fail(new Error(`the SQLite writer thread failed: ${error.message}`)),
  );
  worker.on('exit', (code) => fail(new Error(`the SQLite writer thread exited (${code})`)));

  const request = async (
    make: (seq: number) => WriterRequest,
    transfer: ArrayBuffer[] = [],
  ): Promise<WriterReply> => {
    if (broken !== undefined) throw broken;
    const seq = nextSeq++;
    // Referenced while a request is out, so the process waits for its answer.
    worker.ref();
    const reply = await new Promise<WriterReply>((resolve, reject) => {
      waiting.set(seq, { resolve, reject });
      worker.postMessage(make(seq), transfer);
    });
    if (reply.error !== undefined) throw new Error(`SQLite write failed: ${reply.error}`);
    return reply;
  };
  return {
    async write(writes) {
      await request((seq) => ({ type: 'write', seq, writes }), transferables(writes));
    },
    catchUpHistory: async (blocksMax) =>
      (await request((seq) => ({ type: 'history', seq, blocksMax }))).more === true,
    async reset() {
      await request((seq) => ({ type: 'reset', seq }));
    },
    async close() {
      if (broken === undefined) await request((seq) => ({ type: 'close', seq }));
      await worker.terminate();
    },
  };
}

/**
 * The worker's code as one script run with `eval` (sqlite-writer-worker-bundle.ts), once per
 * process. A worker that registered a TypeScript loader itself and compiled its modules one by
 * one took about 20 MB more memory.
 */
let workerScript: string | undefined;

function workerBootstrap(): string {
  if (workerScript !== undefined) return workerScript;
  const { code, requireFrom } = workerBundle();
  // `require` as the bundle's home sees it, whatever the process's working directory.
  workerScript = `(function (require) {\n${code}\n})(require('node:module').createRequire(${JSON.stringify(requireFrom)}));`;
  return workerScript;
}
