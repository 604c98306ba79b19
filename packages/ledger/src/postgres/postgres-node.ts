/**
 * Several nodes (server processes) on one PostgreSQL ledger: one writer, elected by the writer
 * advisory lock, and the others forwarding their writes to it through the database.
 *
 * Why forwarding rather than every node writing under a lock: the engine keeps balances in
 * memory and group-commits, which is where its speed comes from; several writers would each
 * have to reload every balance another node changed before each batch. One writer keeps the
 * engine as it is, and PostgreSQL is already the one thing every node can reach and trusts, so
 * it carries the forwarded requests too (no second network protocol, no node addresses).
 *
 * - A follower inserts its submission into `forwarded_requests` and NOTIFYs the writer. The
 *   writer takes unanswered rows, applies them in its ordinary batches, and writes each row's
 *   results **in the batch's own transaction** (engine.submitForwarded): a request is answered
 *   exactly when its effects are durable, so a writer that dies mid-way leaves the request
 *   unanswered, and the next writer applies it then, once.
 * - Every node tries to take the writer lock every `leaderPollMs`; when the writer stops (or
 *   dies, and PostgreSQL notices its connection gone), a follower becomes the writer, loads the
 *   store and answers what is waiting, its own requests included.
 * - Reads on a follower go to PostgreSQL, which holds only what the writer made durable.
 */
import { LedgerEngine } from '../engine.ts';
import {
  arrayLiteral,
  connect,
  PostgresStorage,
  preparePostgresStore,
  requestsChannel,
  resultsChannel,
  type Sql,
  takeWriter,
  WriterSessionLostError,
} from './postgres-storage.ts';
import type { CreateAccountResult, CreateTransferResult, TransferRecord } from '../types.ts';
import type { AccountEvent, TransferEvent } from '../validate.ts';
import type { VerifyReport } from '../types.ts';
import { verifyStore } from '../verify.ts';

/** How long opening waits for the writer lock before following the node that holds it. */
export const openLeadWaitMs = 1_000;
/** How often a follower tries to become the writer, and the writer checks it still is. */
export const leaderPollMs = 250;
/** How often waiting nodes look for work and answers a NOTIFY may have missed. */
export const forwardedPollMs = 200;
/** Most forwarded requests the writer takes at a time. */
export const forwardedTakeMax = 256;
/** A forwarded request unanswered this long fails (it may still be applied later, once). */
export const forwardedTimeoutMs = 30_000;

export interface PostgresNodeOptions {
  readonly url: string;
  readonly clock: () => bigint;
  readonly batchSizeMax: number;
  readonly batchWaitMs: number;
  readonly verifyOnOpen: boolean;
}

interface Waiter {
  resolve(results: unknown[]): void;
  reject(error: Error): void;
  readonly deadline: number;
}

interface Leadership {
  readonly storage: PostgresStorage;
  readonly engine: LedgerEngine;
}

export class PostgresLedgerNode {
  private leadership: Leadership | undefined;
  /** The forwarded requests this node waits on, by row id. */
  private readonly waiting = new Map<bigint, Waiter>();
  /** Forwarded rows this node, as the writer, has submitted and not seen answered. */
  private readonly taken = new Set<bigint>();
  /** Rows this writer answered, with the pump generation current then (see forgetAnswered). */
  private readonly answered = new Map<bigint, number>();
  private pumpGeneration = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly unlisten: (() => Promise<void>)[] = [];
  private promoting: Promise<void> | undefined;
  private pumping = false;
  private collecting = false;
  private closed = false;

  private constructor(
    private readonly sql: Sql,
    readonly reader: PostgresStorage,
    private readonly options: PostgresNodeOptions,
  ) {}

  static async open(options: PostgresNodeOptions): Promise<PostgresLedgerNode> {
    const sql = connect(options.url);
    try {
      await preparePostgresStore(sql, options.url);
      const node = new PostgresLedgerNode(sql, new PostgresStorage(sql, undefined, false), options);
      await node.start();
      return node;
    } catch (error) {
      await sql.end({ timeout: 5 });
      throw error;
    }
  }

  /** The engine, while this node is the writer. */
  get engine(): LedgerEngine | undefined {
    return this.leadership?.engine;
  }

  private async start(): Promise<void> {
    this.unlisten.push(await this.listen(requestsChannel, () => this.pump()));
    this.unlisten.push(await this.listen(resultsChannel, () => this.collect()));
    // A writer just killed (a restart after a crash) holds the lock until PostgreSQL closes its
    // session, usually within milliseconds: wait that out briefly, so that a lone node restarts
    // as the writer. If another node holds it, follow: writes wait in the table, and this node
    // takes over within leaderPollMs of the lock coming free.
    await this.tryLead(openLeadWaitMs);
    this.every(leaderPollMs, () => this.checkLeadership());
    this.every(forwardedPollMs, () => {
      this.pump();
      this.collect();
      this.expireWaiters();
    });
  }

  private async listen(channel: string, onNotify: () => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.sql.listen(channel, onNotify);
    return unlisten;
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  submit(kind: 'accounts', events: AccountEvent[]): Promise<CreateAccountResult[]>;
  submit(kind: 'transfers', events: TransferEvent[]): Promise<CreateTransferResult[]>;
  async submit(
    kind: 'accounts' | 'transfers',
    events: AccountEvent[] | TransferEvent[],
  ): Promise<unknown[]> {
    const leadership = this.leadership;
    if (leadership === undefined) return this.forward(kind, events);
    const { engine } = leadership;
    try {
      return await (kind === 'accounts'
        ? engine.submitAccounts(events as AccountEvent[])
        : engine.submitTransfers(events as TransferEvent[]));
    } catch (error) {
      // Rolled back for certain: step down and send it to whoever writes now.
      if (!(error instanceof WriterSessionLostError)) throw error;
      this.stepDown(leadership);
      return this.forward(kind, events);
    }
  }

  /** Stops writing; the engine answers what it holds (failing, with no session) and closes. */
  private stepDown(leadership: Leadership): void {
    if (this.leadership !== leadership) return;
    this.leadership = undefined;
    void leadership.engine
      .close()
      .then(() => leadership.storage.close())
      .catch(() => {});
  }

  /** Inserts the request and waits for the writer's answer. */
  private async forward(
    kind: 'accounts' | 'transfers',
    events: AccountEvent[] | TransferEvent[],
  ): Promise<unknown[]> {
    if (this.closed) throw new Error('the ledger is closed');
    const [row] = await this.sql<{ id: bigint }[]>`
      with request as (
        insert into forwarded_requests (kind, events) values (${kind}, ${encodeEvents(events)})
        returning id)
      select id, pg_notify(${requestsChannel}, '') from request`;
    if (row === undefined) throw new Error('bug: a forwarded request was not inserted');
    const answer = new Promise<unknown[]>((resolve, reject) => {
      this.waiting.set(row.id, { resolve, reject, deadline: Date.now() + forwardedTimeoutMs });
    });
    this.collect(); // the answer may have come before the waiter was registered
    return answer;
  }

  /** Reads the answers to this node's requests that another writer applied, then deletes their rows. */
  private collect(): void {
    if (this.collecting || this.waiting.size === 0) return;
    this.collecting = true;
    const ids = [...this.waiting.keys()];
    void this.sql<{ id: bigint; results: string }[]>`
      select id, results from forwarded_requests
      where id = any(${arrayLiteral(ids, (id) => id)}::bigint[]) and results is not null`
      .then(async (rows) => {
        const answered = rows.filter((row) => !this.taken.has(row.id));
        for (const row of answered) {
          this.waiting.get(row.id)?.resolve(JSON.parse(row.results) as unknown[]);
          this.waiting.delete(row.id);
        }
        if (answered.length > 0) {
          const ids = arrayLiteral(answered, (row) => row.id);
          await this.sql`delete from forwarded_requests where id = any(${ids}::bigint[])`;
        }
      })
      .catch(() => {}) // PostgreSQL unreachable: the next poll tries again
      .finally(() => {
        this.collecting = false;
      });
  }

  /**
   * A request this node sent and, as the writer since, applied itself: answered from the engine
   * once its lookups see the batch, never from the table before that (read your own writes).
   */
  private answerOwn(id: bigint, results: unknown[]): void {
    const waiter = this.waiting.get(id);
    if (waiter === undefined) return;
    this.waiting.delete(id);
    waiter.resolve(results);
    void this.sql`delete from forwarded_requests where id = ${id}`.catch(() => {});
  }

  private expireWaiters(): void {
    const now = Date.now();
    for (const [id, waiter] of this.waiting) {
      if (waiter.deadline > now) continue;
      this.waiting.delete(id);
      waiter.reject(
        new Error(`ledger request ${id} forwarded to the writer got no answer in time`),
      );
    }
  }

  /** As the writer: takes unanswered requests and submits them to the engine. */
  private pump(): void {
    const engine = this.leadership?.engine;
    if (engine === undefined || this.pumping || this.closed) return;
    this.pumping = true;
    const generation = ++this.pumpGeneration;
    void this.sql<{ id: bigint; kind: 'accounts' | 'transfers'; events: string }[]>`
      select id, kind, events from forwarded_requests
      where results is null order by id limit ${forwardedTakeMax}`
      .then((rows) => {
        this.forgetAnswered(rows, generation);
        for (const row of rows) {
          if (this.taken.has(row.id) || this.answered.has(row.id)) continue;
          this.taken.add(row.id);
          // Answered in the batch's transaction; on a failure the row stays unanswered and
          // is taken again at the next pump.
          engine
            .submitForwarded(row.kind, decodeEvents(row.events), row.id)
            .then(
              (results) => {
                this.answered.set(row.id, this.pumpGeneration);
                this.answerOwn(row.id, results);
              },
              () => {},
            )
            .finally(() => this.taken.delete(row.id));
        }
      })
      .catch(() => {}) // PostgreSQL unreachable: the next poll tries again
      .finally(() => {
        this.pumping = false;
      });
  }

  /**
   * A select that began before a batch committed still shows that batch's rows unanswered: an
   * answered row is remembered until a select begun after its answer no longer returns it.
   */
  private forgetAnswered(rows: readonly { id: bigint }[], generation: number): void {
    if (this.answered.size === 0) return;
    const returned = new Set(rows.map((row) => row.id));
    for (const [id, answeredDuring] of this.answered) {
      if (answeredDuring < generation && !returned.has(id)) this.answered.delete(id);
    }
  }

  private checkLeadership(): void {
    if (this.closed || this.promoting !== undefined) return;
    this.promoting = (this.leadership === undefined ? this.tryLead(0) : this.confirmLead())
      .catch(() => {}) // PostgreSQL unreachable: try again at the next poll
      .finally(() => {
        this.promoting = undefined;
      });
  }

  private async tryLead(waitMs: number): Promise<void> {
    const writer = await takeWriter(this.options.url, waitMs);
    if (writer === undefined) return;
    const storage = new PostgresStorage(this.sql, writer, false);
    try {
      const engine = new LedgerEngine(
        {
          storage,
          clock: this.options.clock,
          batchSizeMax: this.options.batchSizeMax,
          batchWaitMs: this.options.batchWaitMs,
        },
        await storage.load(),
      );
      if (this.options.verifyOnOpen) {
        const report = await verifyStore(storage, engine.committed);
        if (!report.ok) {
          throw new Error(
            `the ledger store failed verification on open: ${report.problems.join('; ')}`,
          );
        }
      }
      if (this.closed) throw new Error('the ledger is closed');
      this.leadership = { storage, engine };
    } catch (error) {
      await storage.close();
      throw error;
    }
    this.pump();
  }

  /** The writer's session still holds the lock; if it is gone, follow again. */
  private async confirmLead(): Promise<void> {
    const leadership = this.leadership;
    if (leadership === undefined) return;
    if (!(await leadership.storage.holdsWriterLock())) this.stepDown(leadership);
  }

  async verify(): Promise<VerifyReport> {
    const leadership = this.leadership;
    if (leadership !== undefined) {
      return leadership.engine.exclusive(() =>
        verifyStore(leadership.storage, leadership.engine.committed),
      );
    }
    // A follower checks what is stored against itself: meaningful while no one writes.
    return verifyStore(this.reader);
  }

  async lookupTransfers(ids: readonly bigint[]): Promise<TransferRecord[]> {
    const leadership = this.leadership;
    // The writer's view includes every commit another node may have heard of (writesSettled).
    await leadership?.engine.writesSettled();
    const found = await this.reader.lookupTransfers(ids);
    if (leadership === undefined) return found;
    const durableNs = leadership.engine.durable.timestampNs;
    return found.filter((transfer) => transfer.timestamp <= durableNs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.promoting;
    const leadership = this.leadership;
    this.leadership = undefined;
    if (leadership !== undefined) {
      await leadership.engine.close();
      await leadership.storage.close();
    }
    for (const unlisten of this.unlisten) await unlisten().catch(() => {});
    for (const waiter of this.waiting.values()) waiter.reject(new Error('the ledger is closed'));
    this.waiting.clear();
    await this.sql.end({ timeout: 5 });
  }
}

/** Events as JSON, bigints as `{"$n": "digits"}` (their fields are bigints, numbers, booleans). */
function encodeEvents(events: readonly object[]): string {
  return JSON.stringify(events, (_key, value: unknown) =>
    typeof value === 'bigint' ? { $n: value.toString() } : value,
  );
}

function decodeEvents(text: string): AccountEvent[] | TransferEvent[] {
  return JSON.parse(text, (_key, value: unknown) => {
    if (typeof value === 'object' && value !== null && '$n' in value) {
      return BigInt((value as { $n: string }).$n);
    }
    return value;
  }) as AccountEvent[] | TransferEvent[];
}
