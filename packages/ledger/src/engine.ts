import { MinHeap } from './min-heap.ts';
import {
  applyAccountBatch,
  applyTransferBatch,
  BatchOverlay,
  type CommittedState,
} from './state-machine.ts';
import {
  type BatchReads,
  type BatchWrites,
  type ForwardedResult,
  isEmptyWrites,
  type LedgerStorage,
  type StoredState,
} from './storage.ts';
import type { AccountRecord, CreateAccountResult, CreateTransferResult } from './types.ts';
import type { AccountEvent, TransferEvent } from './validate.ts';

/** Most events the engine applies and writes in one database transaction (group commit). */
export const batchSizeMaxDefault = 8190;
/** How long the engine waits for more submissions before writing a batch; 0: the next turn. */
export const batchWaitMsDefault = 0;
/**
 * Batches whose writes may be under way at once. While one batch is made durable (an fsync, a
 * round trip to PostgreSQL) the next is applied and handed to the store; each is answered only
 * once it, and every batch before it, is durable.
 */
export const pipelineDepthMax = 2;
/** A queue is split in two batches only when each half holds at least this many events. */
const batchSplitEventsMin = 512;
/**
 * Store upkeep (history indexing) waits until no batch has been written for this long. Under a
 * steady stream of small batches the engine is idle for a moment after nearly every one; a step
 * of upkeep in each such gap doubled the round trips to the writer and delayed the submissions
 * that arrived during it.
 */
export const upkeepQuietMs = 20;
/**
 * ...unless this many batches were written since the last step: then a step runs at the next
 * gap however short, so that the upkeep left for a query to do stays bounded under load.
 */
export const upkeepBatchesMax = 32;
/** setTimeout's own limit: an expiry further away is re-armed when this one fires. */
const timerDelayMsMax = 2 ** 31 - 1;
/** After a failed expiry-only batch (the store is down), wait this long before trying again. */
const expiryRetryDelayMs = 1_000;
/** The clock may not pass this: timestamps are signed 64-bit nanoseconds in every store. */
const clockNsMax = (1n << 63n) - 1n;

export interface EngineOptions {
  readonly storage: LedgerStorage;
  /** The engine clock in nanoseconds since the epoch. */
  readonly clock: () => bigint;
  readonly batchSizeMax: number;
  readonly batchWaitMs: number;
}

/** `forwardedId`: the request row of a submission another node forwarded (postgres-node.ts). */
type Submission =
  | {
      kind: 'accounts';
      events: AccountEvent[];
      done: Settle<CreateAccountResult[]>;
      forwardedId?: bigint;
    }
  | {
      kind: 'transfers';
      events: TransferEvent[];
      done: Settle<CreateTransferResult[]>;
      forwardedId?: bigint;
    }
  | { kind: 'exclusive'; work: () => Promise<unknown>; done: Settle<unknown> };

interface InFlight {
  readonly overlay: BatchOverlay;
  readonly batch: Submission[];
  readonly results: unknown[];
  /** Settles, in order, when this batch and every one before it are durable (or one failed). */
  readonly durable: Promise<void>;
  /** Settles once the callers have been answered. */
  settled: Promise<void>;
}

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * The single writer of one store. Callers submit from anywhere; submissions that arrive while a
 * batch is being written are gathered into the next batch, applied in order against in-memory
 * balances, written in one transaction and only then answered (nothing is acknowledged before it
 * is durable). A popular account's balance row is written once per batch, not once per transfer.
 */
export class LedgerEngine {
  private readonly queue: Submission[] = [];
  private readonly expiries = new MinHeap<bigint>();
  /** Balances with every applied batch, durable or still being written: what batches apply to. */
  private state: CommittedState;
  /** Accounts as of the last durable batch: what lookups see. */
  private durableAccounts = new Map<bigint, AccountRecord>();
  /** Timestamp of the last durable batch: lookups of transfers see nothing newer. */
  private durableTimestampNs = 0n;
  /** Applied batches whose writes are under way, oldest first. */
  private readonly inFlight: InFlight[] = [];
  /** Resolved when a submission arrives, so a wait on a write can start the next batch. */
  private wakeUp: () => void = () => {};
  private maxTransferId: bigint | undefined;
  private flushing = false;
  private scheduled = false;
  private stale = false;
  private closed = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Wall-clock ms before which no expiry-only batch is tried again, after one failed. */
  private expiryRetryAt = 0;
  private upkeepScheduled = false;
  /** Whether committed batches may have left the store upkeep to do. */
  private upkeepDue = false;
  /** Batches made durable since the last step of upkeep. */
  private batchesSinceUpkeep = 0;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};

  constructor(
    private readonly options: EngineOptions,
    stored: StoredState,
  ) {
    this.state = this.adopt(stored);
  }

  /** The in-memory state; equal to the durable state whenever no write is under way. */
  get committed(): CommittedState {
    return this.state;
  }

  /** Accounts as of the last durable batch. */
  get durable(): { accounts: ReadonlyMap<bigint, AccountRecord>; timestampNs: bigint } {
    return { accounts: this.durableAccounts, timestampNs: this.durableTimestampNs };
  }

  submitAccounts(events: AccountEvent[]): Promise<CreateAccountResult[]> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'accounts', events, done: { resolve, reject } });
    });
  }

  submitTransfers(events: TransferEvent[]): Promise<CreateTransferResult[]> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'transfers', events, done: { resolve, reject } });
    });
  }

  /**
   * A submission another node forwarded: its results are written with the batch that applies
   * it, in the same transaction, so it is answered once and only once whatever crashes.
   */
  submitForwarded(
    kind: 'accounts' | 'transfers',
    events: AccountEvent[] | TransferEvent[],
    requestId: bigint,
  ): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const done = { resolve, reject };
      this.enqueue(
        kind === 'accounts'
          ? { kind, events: events as AccountEvent[], done, forwardedId: requestId }
          : { kind, events: events as TransferEvent[], done, forwardedId: requestId },
      );
    });
  }

  /** Runs work between batches, with no batch in flight (verification reads a still store). */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        kind: 'exclusive',
        work,
        done: { resolve: (value) => resolve(value as T), reject },
      });
    });
  }

  /** Answers what was submitted, then stops taking submissions. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    await this.idle;
  }

  private enqueue(submission: Submission): void {
    if (this.closed) {
      submission.done.reject(new Error('the ledger is closed'));
      return;
    }
    this.queue.push(submission);
    this.wakeUp();
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    this.idle = new Promise((resolve) => {
      this.markIdle = resolve;
    });
    if (this.queue.length === 0 || this.options.batchWaitMs <= 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), this.options.batchWaitMs);
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    try {
      while (this.queue.length > 0 || this.expiryDue() || this.inFlight.length > 0) {
        const head = this.queue[0];
        if (head === undefined && !this.expiryDue()) {
          await this.nextEvent();
        } else if (head?.kind === 'exclusive') {
          this.queue.shift();
          await this.drain();
          await this.runExclusive(head);
        } else if (this.inFlight.length >= pipelineDepthMax) {
          await this.inFlight[0]?.settled;
        } else {
          if (this.stale) await this.drain();
          const batch = this.takeBatch();
          const started = await this.startBatch(batch);
          // An expiry-only batch that failed would fail again at once: leave it to the timer.
          if (!started && batch.length === 0) {
            this.expiryRetryAt = Date.now() + expiryRetryDelayMs;
            await this.drain();
            break;
          }
        }
      }
    } finally {
      this.flushing = false;
      this.markIdle();
      this.armExpiryTimer();
      this.scheduleUpkeep();
    }
  }

  /** Waits until the oldest write settles or a submission arrives. */
  private nextEvent(): Promise<void> {
    const arrived = new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
    return Promise.race([this.inFlight[0]?.settled, arrived]);
  }

  /**
   * Settles once every write under way now has settled (durable or failed). Another node can
   * learn of a commit (a forwarded request's answer) before this engine's durable state shows
   * it; a lookup that waits for this first sees every commit made before it began.
   */
  writesSettled(): Promise<void> {
    const last = this.inFlight[this.inFlight.length - 1];
    return last === undefined ? Promise.resolve() : last.settled;
  }

  /** Waits until every write under way has settled and its callers are answered. */
  private async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0]?.settled;
  }

  /**
   * Gives the store's upkeep (indexes kept off the hot path) one bounded step at a time: once no
   * batch has been written for upkeepQuietMs, or, under load, after upkeepBatchesMax batches.
   */
  private scheduleUpkeep(): void {
    const idle = this.options.storage.idle;
    if (idle === undefined || !this.upkeepDue || this.upkeepScheduled || this.closed) return;
    this.upkeepScheduled = true;
    const backlogged = this.batchesSinceUpkeep >= upkeepBatchesMax;
    const batchesAtSchedule = this.batchesSinceUpkeep;
    const step = () => {
      this.upkeepScheduled = false;
      if (this.closed) return;
      // Backlogged, the step queues behind what is waiting rather than wait for a gap that a
      // steady load may never leave.
      const busy = this.flushing || this.scheduled || this.queue.length > 0;
      if (!backlogged && busy) return; // the end of that flush schedules again
      if (!backlogged && this.batchesSinceUpkeep !== batchesAtSchedule) {
        // A batch was written while waiting: not quiet yet, wait again.
        this.scheduleUpkeep();
        return;
      }
      this.batchesSinceUpkeep = 0;
      this.enqueue({
        kind: 'exclusive',
        work: () => idle.call(this.options.storage),
        done: {
          resolve: (more) => {
            this.upkeepDue = more === true;
          },
          // Upkeep failing is not a ledger failure: the query that needs it catches up itself.
          reject: () => {},
        },
      });
    };
    if (backlogged) setImmediate(step);
    else setTimeout(step, upkeepQuietMs).unref();
  }

  /**
   * Whole submissions, in order, up to the batch limit (at least one submission). With nothing
   * being written and a long queue, the limit is half the queue: the first half is written while
   * the second is applied, and callers fall into two groups whose batches keep overlapping.
   */
  private takeBatch(): Submission[] {
    const batch: Submission[] = [];
    let limit = this.options.batchSizeMax;
    if (this.inFlight.length === 0) {
      const queued = this.queuedEvents();
      if (queued >= 2 * batchSplitEventsMin) limit = Math.min(limit, Math.ceil(queued / 2));
    }
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next === undefined || next.kind === 'exclusive') break;
      if (batch.length > 0 && events + next.events.length > limit) break;
      events += next.events.length;
      batch.push(next);
      this.queue.shift();
    }
    return batch;
  }

  /** Events waiting before the first exclusive submission. */
  private queuedEvents(): number {
    let events = 0;
    for (const submission of this.queue) {
      if (submission.kind === 'exclusive') break;
      events += submission.events.length;
    }
    return events;
  }

  private async runExclusive(submission: Submission & { kind: 'exclusive' }): Promise<void> {
    try {
      await this.reloadIfStale();
      submission.done.resolve(await submission.work());
    } catch (error) {
      submission.done.reject(error);
    }
  }

  /**
   * Applies one batch to memory and hands its writes to the store; its callers are answered when
   * the write is durable. Says whether the batch got that far.
   */
  private async startBatch(batch: Submission[]): Promise<boolean> {
    try {
      await this.reloadIfStale();
      // The batches in flight are taken before the store is read, not after: one that becomes
      // durable while the read is under way leaves inFlight, yet the read may have started
      // before its COMMIT and not see it. Taken after, such a batch was in neither, and a
      // transfer id it created was created again (a duplicate key on PostgreSQL).
      const earlier = this.inFlight.map((entry) => entry.overlay);
      const reads = await this.readFor(batch);
      const overlay = new BatchOverlay(this.state, reads, this.now(), earlier);
      this.expireDue(overlay);
      const results = batch.map((submission) => {
        if (submission.kind === 'accounts') return applyAccountBatch(overlay, submission.events);
        if (submission.kind === 'transfers') return applyTransferBatch(overlay, submission.events);
        throw new Error('bug: exclusive work inside a batch');
      });
      const writes = withForwardedResults(overlay.toWrites(), batch, results);
      overlay.commit();
      this.afterApply(overlay);
      this.track(overlay, batch, results, isEmptyWrites(writes) ? undefined : writes);
      return true;
    } catch (error) {
      // Nothing of this batch reached the store, but memory may hold part of it: read it again.
      this.stale = true;
      for (const submission of batch) submission.done.reject(error);
      return false;
    }
  }

  /**
   * Starts the write (stores apply writes in call order, and refuse every write after a failed
   * one until they are loaded again) and answers the callers in order once it is durable.
   */
  private track(
    overlay: BatchOverlay,
    batch: Submission[],
    results: unknown[],
    writes: BatchWrites | undefined,
  ): void {
    const before = this.inFlight[this.inFlight.length - 1]?.durable ?? Promise.resolve();
    const written = writes === undefined ? Promise.resolve() : this.options.storage.write(writes);
    written.catch(() => {});
    const entry: InFlight = {
      overlay,
      batch,
      results,
      durable: before.then(() => written),
      settled: Promise.resolve(),
    };
    entry.settled = entry.durable.then(
      () => this.onDurable(entry),
      (error: unknown) => this.onFailed(entry, error),
    );
    this.inFlight.push(entry);
  }

  private onDurable(entry: InFlight): void {
    if (this.inFlight.shift() !== entry) throw new Error('bug: writes became durable out of order');
    const { overlay } = entry;
    for (const account of overlay.accountsCreated.values())
      this.durableAccounts.set(account.id, account);
    for (const account of overlay.accountsTouched.values())
      this.durableAccounts.set(account.id, account);
    this.durableTimestampNs = overlay.lastTimestamp;
    if (overlay.transfersCreated.size > 0) this.upkeepDue = true;
    // A flush fed without pause never reaches its end, where upkeep is otherwise scheduled.
    if (++this.batchesSinceUpkeep >= upkeepBatchesMax) this.scheduleUpkeep();
    entry.batch.forEach((submission, index) => {
      (submission.done as Settle<unknown>).resolve(entry.results[index]);
    });
  }

  private onFailed(entry: InFlight, error: unknown): void {
    if (this.inFlight.shift() !== entry) throw new Error('bug: writes failed out of order');
    // The store may or may not hold the batch (a lost connection during COMMIT): forget what
    // memory holds and read it again before the next batch, and fail every caller of this one.
    this.stale = true;
    for (const submission of entry.batch) submission.done.reject(error);
  }

  /** The engine clock; past the stores' range it is a broken clock, not a ledger state. */
  private now(): bigint {
    const now = this.options.clock();
    if (now < 0n || now > clockNsMax)
      throw new Error(`the engine clock is out of range: ${now} ns`);
    return now;
  }

  /**
   * Reads from the store the transfers that the batch's events may refer to. Batches still being
   * written when the read begins are consulted by the overlay itself, before these reads: they
   * are newer.
   */
  private async readFor(batch: Submission[]): Promise<BatchReads> {
    const ids = new Set<bigint>();
    const max = this.maxTransferId;
    const maybeStored = (id: bigint) => id !== 0n && (max === undefined || id <= max);
    for (const submission of batch) {
      if (submission.kind !== 'transfers') continue;
      for (const event of submission.events) {
        if (maybeStored(event.id)) ids.add(event.id);
        const pendingId = event.pendingId;
        if (maybeStored(pendingId) && !this.state.openPendings.has(pendingId)) ids.add(pendingId);
      }
    }
    if (ids.size === 0)
      return { transfers: new Map(), pendingStatuses: new Map(), failedIds: new Set() };
    return this.options.storage.read([...ids]);
  }

  private afterApply(overlay: BatchOverlay): void {
    for (const [id, expiresAt] of overlay.pendingsCreated) {
      if (expiresAt > 0n) this.expiries.push(expiresAt, id);
    }
    if (this.maxTransferId !== undefined) {
      for (const id of overlay.transfersCreated.keys()) {
        if (id > this.maxTransferId) this.maxTransferId = id;
      }
      for (const id of overlay.failedIds.keys()) {
        if (id > this.maxTransferId) this.maxTransferId = id;
      }
    }
  }

  private expiryDue(): boolean {
    const next = this.expiries.peekKey();
    return next !== undefined && next <= this.options.clock() && Date.now() >= this.expiryRetryAt;
  }

  private expireDue(overlay: BatchOverlay): void {
    for (;;) {
      const next = this.expiries.peekKey();
      if (next === undefined || next > overlay.nowNs) break;
      const id = this.expiries.pop() as bigint;
      const open = this.state.openPendings.get(id);
      if (open !== undefined && open.expiresAt === next) overlay.expire(open);
    }
    overlay.clearJournal();
  }

  private armExpiryTimer(): void {
    clearTimeout(this.expiryTimer);
    const next = this.expiries.peekKey();
    if (next === undefined || this.closed) return;
    const delayNs = next - this.options.clock();
    const retryMs = Math.max(0, this.expiryRetryAt - Date.now());
    const dueMs = delayNs <= 0n ? 0 : Math.min(Number(delayNs / 1_000_000n) + 1, timerDelayMsMax);
    const delayMs = Math.max(dueMs, retryMs);
    this.expiryTimer = setTimeout(() => {
      if (!this.closed) this.schedule();
    }, delayMs);
    this.expiryTimer.unref();
  }

  private async reloadIfStale(): Promise<void> {
    if (!this.stale) return;
    if (this.inFlight.length > 0) throw new Error('bug: reload with writes under way');
    this.state = this.adopt(await this.options.storage.load());
    this.stale = false;
  }

  private adopt(stored: StoredState): CommittedState {
    this.expiries.clear();
    const openPendings = new Map<bigint, StoredState['openPendings'][number]>();
    for (const open of stored.openPendings) {
      openPendings.set(open.transfer.id, open);
      if (open.expiresAt > 0n) this.expiries.push(open.expiresAt, open.transfer.id);
    }
    this.maxTransferId = stored.maxTransferId;
    this.durableAccounts = new Map(stored.accounts.map((account) => [account.id, account]));
    this.durableTimestampNs = stored.lastTimestamp;
    return {
      accounts: new Map(stored.accounts.map((account) => [account.id, account])),
      openPendings,
      lastTimestamp: stored.lastTimestamp,
    };
  }
}

/** The batch's writes plus the answers to its forwarded submissions, if it has any. */
function withForwardedResults(
  writes: BatchWrites,
  batch: readonly Submission[],
  results: readonly unknown[],
): BatchWrites {
  const forwardedResults: ForwardedResult[] = [];
  batch.forEach((submission, index) => {
    if (submission.kind !== 'exclusive' && submission.forwardedId !== undefined) {
      forwardedResults.push({
        requestId: submission.forwardedId,
        results: JSON.stringify(results[index]),
      });
    }
  });
  return forwardedResults.length === 0 ? writes : { ...writes, forwardedResults };
}
