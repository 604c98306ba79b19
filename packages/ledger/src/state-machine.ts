import { applyAccount } from './state-machine-accounts.ts';
import { applyTransfer } from './state-machine-transfers.ts';
import type { BatchReads, BatchWrites, OpenPending } from './storage.ts';
import {
  type AccountRecord,
  type CreateAccountResult,
  type CreateTransferResult,
  type PendingStatus,
  type TransferRecord,
  transientTransferResults,
} from './types.ts';
import type { AccountEvent, TransferEvent } from './validate.ts';

export type MutableAccount = { -readonly [K in keyof AccountRecord]: AccountRecord[K] };

export type BalanceName = 'debitsPending' | 'debitsPosted' | 'creditsPending' | 'creditsPosted';

/** What the engine holds in memory between batches: committed, acknowledged state only. */
export interface CommittedState {
  readonly accounts: Map<bigint, AccountRecord>;
  /** Pending transfers whose status is still pending. */
  readonly openPendings: Map<bigint, OpenPending>;
  lastTimestamp: bigint;
}

/**
 * One batch applied on top of the committed state without touching it: every change lives in
 * this overlay until the store has made the batch durable, and only then is merged back. A linked
 * chain that fails is undone through the journal.
 */
export class BatchOverlay {
  readonly accountsCreated = new Map<bigint, MutableAccount>();
  readonly accountsTouched = new Map<bigint, MutableAccount>();
  readonly transfersCreated = new Map<bigint, TransferRecord>();
  readonly pendingsCreated = new Map<bigint, bigint>();
  readonly pendingStatuses = new Map<bigint, PendingStatus>();
  readonly failedIds = new Map<bigint, CreateTransferResult>();
  private readonly journal: (() => void)[] = [];
  /**
   * Whether changes are journaled for undo: only inside a linked chain of two or more events,
   * because a lone event changes nothing until all its checks have passed.
   */
  journaling = false;
  private timestamp: bigint;

  /**
   * `earlier` are the overlays of batches applied but still being written, oldest first: newer
   * than what `reads` got from the store, and perhaps not in it yet.
   */
  constructor(
    readonly committed: CommittedState,
    readonly reads: BatchReads,
    readonly nowNs: bigint,
    private readonly earlier: readonly BatchOverlay[] = [],
  ) {
    this.timestamp = committed.lastTimestamp;
  }

  /** The newest value `pick` finds in the batches still being written. */
  private fromEarlier<T>(pick: (overlay: BatchOverlay) => T | undefined): T | undefined {
    for (let index = this.earlier.length - 1; index >= 0; index--) {
      const overlay = this.earlier[index];
      const found = overlay === undefined ? undefined : pick(overlay);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  nextTimestamp(): bigint {
    this.timestamp = this.timestamp < this.nowNs ? this.nowNs : this.timestamp + 1n;
    return this.timestamp;
  }

  get lastTimestamp(): bigint {
    return this.timestamp;
  }

  account(id: bigint): AccountRecord | undefined {
    return (
      this.accountsCreated.get(id) ??
      this.accountsTouched.get(id) ??
      this.committed.accounts.get(id)
    );
  }

  /** The account, copied into the overlay so that it may be changed. */
  mutableAccount(id: bigint): MutableAccount {
    const fresh = this.accountsCreated.get(id) ?? this.accountsTouched.get(id);
    if (fresh !== undefined) return fresh;
    const committed = this.committed.accounts.get(id);
    if (committed === undefined) throw new Error(`bug: account ${id} changed before it exists`);
    const copy = { ...committed };
    this.accountsTouched.set(id, copy);
    return copy;
  }

  /** Adds `delta` (negative to release) to one balance of an account. */
  addBalance(id: bigint, balance: BalanceName, delta: bigint): void {
    const account = this.mutableAccount(id);
    const before = account[balance];
    const after = before + delta;
    if (after < 0n) throw new Error(`bug: ${balance} of account ${id} went negative`);
    account[balance] = after;
    if (this.journaling) this.journal.push(() => (account[balance] = before));
  }

  createAccount(account: MutableAccount): void {
    this.accountsCreated.set(account.id, account);
    if (this.journaling) this.journal.push(() => this.accountsCreated.delete(account.id));
  }

  transfer(id: bigint): TransferRecord | undefined {
    return (
      this.transfersCreated.get(id) ??
      this.committed.openPendings.get(id)?.transfer ??
      this.fromEarlier((overlay) => overlay.transfersCreated.get(id)) ??
      this.reads.transfers.get(id)
    );
  }

  createTransfer(transfer: TransferRecord, expiresAt: bigint | undefined): void {
    this.transfersCreated.set(transfer.id, transfer);
    if (expiresAt !== undefined) {
      this.pendingsCreated.set(transfer.id, expiresAt);
      this.pendingStatuses.set(transfer.id, 'pending');
    }
    if (!this.journaling) return;
    this.journal.push(() => {
      this.transfersCreated.delete(transfer.id);
      this.pendingsCreated.delete(transfer.id);
      this.pendingStatuses.delete(transfer.id);
    });
  }

  pendingStatus(id: bigint): PendingStatus | undefined {
    if (this.committed.openPendings.has(id)) return this.pendingStatuses.get(id) ?? 'pending';
    return (
      this.pendingStatuses.get(id) ??
      this.fromEarlier((overlay) => overlay.pendingStatuses.get(id)) ??
      this.reads.pendingStatuses.get(id)
    );
  }

  setPendingStatus(id: bigint, status: PendingStatus): void {
    const before = this.pendingStatuses.get(id);
    this.pendingStatuses.set(id, status);
    if (!this.journaling) return;
    this.journal.push(() => {
      if (before === undefined) this.pendingStatuses.delete(id);
      else this.pendingStatuses.set(id, before);
    });
  }

  isFailed(id: bigint): boolean {
    return (
      this.failedIds.has(id) ||
      this.fromEarlier((overlay) => (overlay.failedIds.has(id) ? true : undefined)) === true ||
      this.reads.failedIds.has(id)
    );
  }

  recordFailed(id: bigint, result: CreateTransferResult): void {
    this.failedIds.set(id, result);
  }

  journalMark(): number {
    return this.journal.length;
  }

  rollbackTo(mark: number): void {
    while (this.journal.length > mark) this.journal.pop()?.();
  }

  clearJournal(): void {
    this.journal.length = 0;
  }

  /** Expires one open pending transfer: its amounts leave the pending balances. */
  expire(pending: OpenPending): void {
    const { transfer } = pending;
    this.addBalance(transfer.debitAccountId, 'debitsPending', -transfer.amount);
    this.addBalance(transfer.creditAccountId, 'creditsPending', -transfer.amount);
    this.setPendingStatus(transfer.id, 'expired');
  }

  toWrites(): BatchWrites {
    const pendingsResolved: BatchWrites['pendingsResolved'] = [];
    for (const [id, status] of this.pendingStatuses) {
      if (status !== 'pending') pendingsResolved.push({ id, status });
    }
    return {
      accountsCreated: [...this.accountsCreated.values()],
      accountsUpdated: [...this.accountsTouched.values()],
      transfersCreated: [...this.transfersCreated.values()],
      failedIds: [...this.failedIds].map(([id, result]) => ({ id, result })),
      pendingsCreated: [...this.pendingsCreated].map(([id, expiresAt]) => ({ id, expiresAt })),
      pendingsResolved,
    };
  }

  /** Merges the overlay into the committed state, once the store has made it durable. */
  commit(): void {
    const { accounts, openPendings } = this.committed;
    for (const account of this.accountsCreated.values()) accounts.set(account.id, account);
    for (const account of this.accountsTouched.values()) accounts.set(account.id, account);
    for (const [id, expiresAt] of this.pendingsCreated) {
      const transfer = this.transfersCreated.get(id);
      if (transfer === undefined) throw new Error(`bug: pending ${id} without its transfer`);
      openPendings.set(id, { transfer, expiresAt });
    }
    for (const [id, status] of this.pendingStatuses) {
      if (status !== 'pending') openPendings.delete(id);
    }
    this.committed.lastTimestamp = this.timestamp;
  }
}

/** The end index (exclusive) of the open chain at the end of a batch, or the batch length. */
function openChainStart(linked: readonly boolean[]): number {
  let start = linked.length;
  if (linked[linked.length - 1] !== true) return start;
  while (start > 0 && linked[start - 1] === true) start--;
  return start;
}

/**
 * Applies events in order with linked-chain semantics (SEMANTICS.md, "Batches and linked
 * chains"). `apply` must check everything before it changes anything, so a single failed event
 * needs no undo; the journal undoes the earlier events of a failed chain.
 */
function applyChains<E extends { linked: boolean; id: bigint }, R extends string>(
  overlay: BatchOverlay,
  events: readonly E[],
  apply: (event: E) => R | 'ok',
  onFailure: (event: E, result: R) => void,
): (R | 'ok' | 'linkedEventFailed' | 'linkedEventChainOpen')[] {
  const results: (R | 'ok' | 'linkedEventFailed' | 'linkedEventChainOpen')[] = [];
  const openStart = openChainStart(events.map((event) => event.linked));
  let index = 0;
  while (index < openStart) {
    let end = index;
    while (events[end]?.linked === true) end++;
    const mark = overlay.journalMark();
    overlay.journaling = end > index;
    for (let k = index; k <= end; k++) {
      const event = events[k] as E;
      const result = apply(event);
      if (result === 'ok') {
        results[k] = 'ok';
        continue;
      }
      overlay.rollbackTo(mark);
      for (let j = index; j <= end; j++) results[j] = 'linkedEventFailed';
      results[k] = result;
      onFailure(event, result);
      break;
    }
    overlay.clearJournal();
    overlay.journaling = false;
    index = end + 1;
  }
  for (let k = openStart; k < events.length; k++) results[k] = 'linkedEventChainOpen';
  return results;
}

export function applyAccountBatch(
  overlay: BatchOverlay,
  events: readonly AccountEvent[],
): CreateAccountResult[] {
  return applyChains(
    overlay,
    events,
    (event) => applyAccount(overlay, event),
    () => {},
  );
}

export function applyTransferBatch(
  overlay: BatchOverlay,
  events: readonly TransferEvent[],
): CreateTransferResult[] {
  return applyChains(
    overlay,
    events,
    (event) => applyTransfer(overlay, event),
    (event, result) => {
      if (transientTransferResults.has(result)) overlay.recordFailed(event.id, result);
    },
  );
}
