/**
 * A deliberately simple reference model of the ledger, written from SEMANTICS.md alone: plain Maps,
 * one event at a time, linked chains by snapshotting the state and restoring it on failure, expiry
 * driven by a clock value the caller passes in. The randomized model test compares the real
 * engine against it; it favours being obviously correct over being fast.
 */
import {
  type Account,
  type AccountRecord,
  type CreateAccountResult,
  type CreateTransferResult,
  type PendingStatus,
  type Transfer,
  type TransferRecord,
  transientTransferResults,
  U128_MAX,
} from '../types.ts';

/** The largest expiry a pending transfer may have (u64 nanoseconds). */
const U64_MAX = (1n << 64n) - 1n;
const NS_PER_SECOND = 1_000_000_000n;

export type ModelAccount = Omit<AccountRecord, 'timestamp'>;
export type ModelTransfer = Omit<TransferRecord, 'timestamp'>;

export interface ReferenceModel {
  createAccounts(accounts: readonly Account[], nowNs: bigint): CreateAccountResult[];
  createTransfers(transfers: readonly Transfer[], nowNs: bigint): CreateTransferResult[];
  account(id: bigint): ModelAccount | undefined;
  transfer(id: bigint): ModelTransfer | undefined;
  /** The status of a pending transfer (undefined when `id` is not a pending transfer). */
  pendingStatus(id: bigint): PendingStatus | undefined;
  /** Whether `id` is recorded as a failed transfer id. */
  isFailed(id: bigint): boolean;
  /** Expires every still-pending transfer whose expiry is at or before `nowNs`. */
  expire(nowNs: bigint): void;
  /** Every account id, in creation order. */
  accountIds(): bigint[];
  /** Every transfer id, in creation order. */
  transferIds(): bigint[];
}

interface MutableAccount {
  id: bigint;
  ledger: number;
  code: number;
  flags: {
    debitsMustNotExceedCredits: boolean;
    creditsMustNotExceedDebits: boolean;
    closed: boolean;
  };
  userData: bigint;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

interface PendingEntry {
  status: PendingStatus;
  /** 0n: never expires. */
  expiresAt: bigint;
}

interface State {
  accounts: Map<bigint, MutableAccount>;
  transfers: Map<bigint, ModelTransfer>;
  pendings: Map<bigint, PendingEntry>;
  failed: Set<bigint>;
  lastTimestamp: bigint;
}

/**
 * What restores the state to the start of a linked chain. Accounts are few: they are copied.
 * Transfers and pending entries grow with the run, so instead of copying them the chain records
 * an undo step for every change it makes to them (a transfer added, a pending entry added, a
 * pending status changed). Failed ids are never recorded inside a chain that then rolls back.
 */
interface Snapshot {
  readonly accounts: Map<bigint, MutableAccount>;
  readonly lastTimestamp: bigint;
  readonly undo: (() => void)[];
}

function cloneAccounts(accounts: Map<bigint, MutableAccount>): Map<bigint, MutableAccount> {
  const copy = new Map<bigint, MutableAccount>();
  for (const [id, a] of accounts) copy.set(id, { ...a, flags: { ...a.flags } });
  return copy;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function transferFlags(t: Transfer): ModelTransfer['flags'] {
  const f = t.flags ?? {};
  return {
    pending: f.pending === true,
    postPending: f.postPending === true,
    voidPending: f.voidPending === true,
    balancingDebit: f.balancingDebit === true,
    balancingCredit: f.balancingCredit === true,
  };
}

function sameTransferFlags(a: ModelTransfer['flags'], b: ModelTransfer['flags']): boolean {
  return (
    a.pending === b.pending &&
    a.postPending === b.postPending &&
    a.voidPending === b.voidPending &&
    a.balancingDebit === b.balancingDebit &&
    a.balancingCredit === b.balancingCredit
  );
}

/** Splits a batch into chains: [start, end] inclusive index ranges. */
function chains(linked: readonly boolean[]): { start: number; end: number; open: boolean }[] {
  const out: { start: number; end: number; open: boolean }[] = [];
  let start = 0;
  for (let i = 0; i < linked.length; i++) {
    if (!linked[i]) {
      out.push({ start, end: i, open: false });
      start = i + 1;
    }
  }
  if (start < linked.length) out.push({ start, end: linked.length - 1, open: true });
  return out;
}

export function createReferenceModel(): ReferenceModel {
  const state: State = {
    accounts: new Map(),
    transfers: new Map(),
    pendings: new Map(),
    failed: new Set(),
    lastTimestamp: 0n,
  };

  /** Set while a chain of more than one event runs. */
  let snapshot: Snapshot | undefined;

  function addTransfer(t: ModelTransfer): void {
    state.transfers.set(t.id, t);
    snapshot?.undo.push(() => state.transfers.delete(t.id));
  }

  function addPending(id: bigint, entry: PendingEntry): void {
    state.pendings.set(id, entry);
    snapshot?.undo.push(() => state.pendings.delete(id));
  }

  function setStatus(entry: PendingEntry, status: PendingStatus): void {
    const before = entry.status;
    entry.status = status;
    snapshot?.undo.push(() => {
      entry.status = before;
    });
  }

  function nextTimestamp(nowNs: bigint): bigint {
    return max(nowNs, state.lastTimestamp + 1n);
  }

  function expire(nowNs: bigint): void {
    for (const [id, p] of state.pendings) {
      if (p.status !== 'pending' || p.expiresAt === 0n || p.expiresAt > nowNs) continue;
      const t = state.transfers.get(id);
      if (t === undefined) throw new Error(`model: pending ${id} without a transfer`);
      const dr = state.accounts.get(t.debitAccountId);
      const cr = state.accounts.get(t.creditAccountId);
      if (dr === undefined || cr === undefined) throw new Error('model: pending without accounts');
      dr.debitsPending -= t.amount;
      cr.creditsPending -= t.amount;
      p.status = 'expired';
    }
  }

  function createAccount(a: Account, nowNs: bigint): CreateAccountResult {
    const flags = {
      debitsMustNotExceedCredits: a.flags?.debitsMustNotExceedCredits === true,
      creditsMustNotExceedDebits: a.flags?.creditsMustNotExceedDebits === true,
      closed: a.flags?.closed === true,
    };
    const userData = a.userData ?? 0n;
    // 1.
    if (a.id === 0n) return 'idMustNotBeZero';
    if (a.id === U128_MAX) return 'idMustNotBeIntMax';
    // 2.
    if (flags.debitsMustNotExceedCredits && flags.creditsMustNotExceedDebits) {
      return 'flagsAreMutuallyExclusive';
    }
    // 3.
    if (a.ledger === 0) return 'ledgerMustNotBeZero';
    if (a.code === 0) return 'codeMustNotBeZero';
    // 4.
    const e = state.accounts.get(a.id);
    if (e !== undefined) {
      if (
        e.flags.debitsMustNotExceedCredits !== flags.debitsMustNotExceedCredits ||
        e.flags.creditsMustNotExceedDebits !== flags.creditsMustNotExceedDebits ||
        e.flags.closed !== flags.closed
      ) {
        return 'existsWithDifferentFlags';
      }
      if (e.userData !== userData) return 'existsWithDifferentUserData';
      if (e.ledger !== a.ledger) return 'existsWithDifferentLedger';
      if (e.code !== a.code) return 'existsWithDifferentCode';
      return 'exists';
    }
    // 5.
    state.lastTimestamp = nextTimestamp(nowNs);
    state.accounts.set(a.id, {
      id: a.id,
      ledger: a.ledger,
      code: a.code,
      flags,
      userData,
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
    });
    return 'ok';
  }

  function createSinglePhase(t: Transfer, nowNs: bigint): CreateTransferResult {
    const flags = transferFlags(t);
    const pendingId = t.pendingId ?? 0n;
    const timeout = t.timeoutSeconds ?? 0;
    const userData = t.userData ?? 0n;
    const balancing = flags.balancingDebit || flags.balancingCredit;
    // 3.
    if (t.debitAccountId === 0n) return 'debitAccountIdMustNotBeZero';
    if (t.debitAccountId === U128_MAX) return 'debitAccountIdMustNotBeIntMax';
    if (t.creditAccountId === 0n) return 'creditAccountIdMustNotBeZero';
    if (t.creditAccountId === U128_MAX) return 'creditAccountIdMustNotBeIntMax';
    // 4.
    if (t.debitAccountId === t.creditAccountId) return 'accountsMustBeDifferent';
    // 5.
    if (pendingId !== 0n) return 'pendingIdMustBeZero';
    // 6.
    if (timeout !== 0 && !flags.pending) return 'timeoutReservedForPendingTransfer';
    // 7.
    if (t.ledger === 0) return 'ledgerMustNotBeZero';
    if (t.code === 0) return 'codeMustNotBeZero';
    // 8.
    if (t.amount === 0n && !balancing) return 'amountMustNotBeZero';
    // 9.
    const e = state.transfers.get(t.id);
    if (e !== undefined) {
      if (!sameTransferFlags(e.flags, flags)) return 'existsWithDifferentFlags';
      if (e.pendingId !== pendingId) return 'existsWithDifferentPendingId';
      if (e.timeoutSeconds !== timeout) return 'existsWithDifferentTimeout';
      if (e.debitAccountId !== t.debitAccountId) return 'existsWithDifferentDebitAccountId';
      if (e.creditAccountId !== t.creditAccountId) return 'existsWithDifferentCreditAccountId';
      if (balancing) {
        if (t.amount !== 0n && e.amount > t.amount) return 'existsWithDifferentAmount';
      } else if (e.amount !== t.amount) {
        return 'existsWithDifferentAmount';
      }
      if (e.userData !== userData) return 'existsWithDifferentUserData';
      if (e.ledger !== t.ledger) return 'existsWithDifferentLedger';
      if (e.code !== t.code) return 'existsWithDifferentCode';
      return 'exists';
    }
    // 10.
    if (state.failed.has(t.id)) return 'idAlreadyFailed';
    // 11.
    const dr = state.accounts.get(t.debitAccountId);
    if (dr === undefined) return 'debitAccountNotFound';
    const cr = state.accounts.get(t.creditAccountId);
    if (cr === undefined) return 'creditAccountNotFound';
    // 12.
    if (dr.ledger !== cr.ledger) return 'accountsMustHaveTheSameLedger';
    if (t.ledger !== dr.ledger) return 'transferMustHaveTheSameLedgerAsAccounts';
    // 13.
    if (dr.flags.closed || cr.flags.closed) return 'accountClosed';
    // 14.
    let amount = t.amount;
    if (balancing && amount === 0n) amount = U128_MAX;
    if (flags.balancingDebit) {
      amount = min(amount, max(0n, dr.creditsPosted - dr.debitsPosted - dr.debitsPending));
    }
    if (flags.balancingCredit) {
      amount = min(amount, max(0n, cr.debitsPosted - cr.creditsPosted - cr.creditsPending));
    }
    // 15.
    const timestamp = nextTimestamp(nowNs);
    const expiresAt = timeout > 0 ? timestamp + BigInt(timeout) * NS_PER_SECOND : 0n;
    if (expiresAt > U64_MAX) return 'overflowsTimeout';
    // 16.
    if (dr.debitsPending + dr.debitsPosted + amount > U128_MAX) return 'overflowsDebits';
    if (cr.creditsPending + cr.creditsPosted + amount > U128_MAX) return 'overflowsCredits';
    // 17.
    if (
      dr.flags.debitsMustNotExceedCredits &&
      dr.debitsPending + dr.debitsPosted + amount > dr.creditsPosted
    ) {
      return 'exceedsCredits';
    }
    if (
      cr.flags.creditsMustNotExceedDebits &&
      cr.creditsPending + cr.creditsPosted + amount > cr.debitsPosted
    ) {
      return 'exceedsDebits';
    }
    // 18.
    state.lastTimestamp = timestamp;
    if (flags.pending) {
      dr.debitsPending += amount;
      cr.creditsPending += amount;
      addPending(t.id, { status: 'pending', expiresAt });
    } else {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
    }
    addTransfer({
      id: t.id,
      debitAccountId: t.debitAccountId,
      creditAccountId: t.creditAccountId,
      amount,
      ledger: t.ledger,
      code: t.code,
      flags,
      pendingId,
      timeoutSeconds: timeout,
      userData,
    });
    return 'ok';
  }

  function createPostOrVoid(t: Transfer, nowNs: bigint): CreateTransferResult {
    const flags = transferFlags(t);
    const pendingId = t.pendingId ?? 0n;
    const timeout = t.timeoutSeconds ?? 0;
    const userData = t.userData ?? 0n;
    // 3.
    if (pendingId === 0n) return 'pendingIdMustNotBeZero';
    if (pendingId === U128_MAX) return 'pendingIdMustNotBeIntMax';
    if (pendingId === t.id) return 'pendingIdMustBeDifferent';
    // 4.
    if (timeout !== 0) return 'timeoutReservedForPendingTransfer';
    // 5.
    const e = state.transfers.get(t.id);
    if (e !== undefined) {
      if (!sameTransferFlags(e.flags, flags)) return 'existsWithDifferentFlags';
      if (e.pendingId !== pendingId) return 'existsWithDifferentPendingId';
      if (t.debitAccountId !== 0n && t.debitAccountId !== e.debitAccountId) {
        return 'existsWithDifferentDebitAccountId';
      }
      if (t.creditAccountId !== 0n && t.creditAccountId !== e.creditAccountId) {
        return 'existsWithDifferentCreditAccountId';
      }
      if (t.amount !== 0n && t.amount !== e.amount) return 'existsWithDifferentAmount';
      if (userData !== 0n && userData !== e.userData) return 'existsWithDifferentUserData';
      if (t.ledger !== 0 && t.ledger !== e.ledger) return 'existsWithDifferentLedger';
      if (t.code !== 0 && t.code !== e.code) return 'existsWithDifferentCode';
      return 'exists';
    }
    // 6.
    if (state.failed.has(t.id)) return 'idAlreadyFailed';
    // 7.
    const p = state.transfers.get(pendingId);
    if (p === undefined) return 'pendingTransferNotFound';
    if (!p.flags.pending) return 'pendingTransferNotPending';
    // 8.
    if (t.debitAccountId !== 0n && t.debitAccountId !== p.debitAccountId) {
      return 'pendingTransferHasDifferentDebitAccountId';
    }
    if (t.creditAccountId !== 0n && t.creditAccountId !== p.creditAccountId) {
      return 'pendingTransferHasDifferentCreditAccountId';
    }
    if (t.ledger !== 0 && t.ledger !== p.ledger) return 'pendingTransferHasDifferentLedger';
    if (t.code !== 0 && t.code !== p.code) return 'pendingTransferHasDifferentCode';
    // 9.
    let amount: bigint;
    if (flags.postPending) {
      if (t.amount > p.amount) return 'exceedsPendingTransferAmount';
      amount = t.amount === 0n ? p.amount : t.amount;
    } else {
      if (t.amount !== 0n && t.amount !== p.amount) return 'pendingTransferHasDifferentAmount';
      amount = p.amount;
    }
    // 10.
    const entry = state.pendings.get(pendingId);
    if (entry === undefined) throw new Error(`model: pending ${pendingId} has no status`);
    if (entry.status === 'posted') return 'pendingTransferAlreadyPosted';
    if (entry.status === 'voided') return 'pendingTransferAlreadyVoided';
    if (entry.status === 'expired') return 'pendingTransferExpired';
    const dr = state.accounts.get(p.debitAccountId);
    const cr = state.accounts.get(p.creditAccountId);
    if (dr === undefined || cr === undefined) throw new Error('model: pending without accounts');
    // 11.
    if (flags.postPending && (dr.flags.closed || cr.flags.closed)) return 'accountClosed';
    // 12.
    state.lastTimestamp = nextTimestamp(nowNs);
    dr.debitsPending -= p.amount;
    cr.creditsPending -= p.amount;
    if (flags.postPending) {
      dr.debitsPosted += amount;
      cr.creditsPosted += amount;
      setStatus(entry, 'posted');
    } else {
      setStatus(entry, 'voided');
    }
    addTransfer({
      id: t.id,
      debitAccountId: p.debitAccountId,
      creditAccountId: p.creditAccountId,
      amount,
      ledger: p.ledger,
      code: p.code,
      flags,
      pendingId,
      timeoutSeconds: 0,
      userData,
    });
    return 'ok';
  }

  function createTransfer(t: Transfer, nowNs: bigint): CreateTransferResult {
    const flags = transferFlags(t);
    // 1.
    if (t.id === 0n) return 'idMustNotBeZero';
    if (t.id === U128_MAX) return 'idMustNotBeIntMax';
    // 2.
    const kinds = Number(flags.pending) + Number(flags.postPending) + Number(flags.voidPending);
    if (kinds > 1) return 'flagsAreMutuallyExclusive';
    if (
      (flags.balancingDebit || flags.balancingCredit) &&
      (flags.postPending || flags.voidPending)
    ) {
      return 'flagsAreMutuallyExclusive';
    }
    if (flags.postPending || flags.voidPending) return createPostOrVoid(t, nowNs);
    return createSinglePhase(t, nowNs);
  }

  /**
   * Applies a batch of events with linked-chain semantics. `apply` runs one event against `state`
   * (mutating it only on `ok`); `onFailure` records what a failing event leaves behind.
   */
  function applyBatch<
    E extends { readonly flags?: { readonly linked?: boolean } },
    R extends string,
  >(
    events: readonly E[],
    apply: (event: E) => R | 'ok',
    onFailure: (event: E, result: R) => void,
  ): (R | 'ok' | 'linkedEventFailed' | 'linkedEventChainOpen')[] {
    const results: (R | 'ok' | 'linkedEventFailed' | 'linkedEventChainOpen')[] = [];
    for (const chain of chains(events.map((e) => e.flags?.linked === true))) {
      if (chain.open) {
        for (let i = chain.start; i <= chain.end; i++) results.push('linkedEventChainOpen');
        continue;
      }
      snapshot =
        chain.end > chain.start
          ? {
              accounts: cloneAccounts(state.accounts),
              lastTimestamp: state.lastTimestamp,
              undo: [],
            }
          : undefined;
      const chainResults: (R | 'ok' | 'linkedEventFailed')[] = [];
      for (let i = chain.start; i <= chain.end; i++) {
        const event = events[i] as E;
        const result = apply(event);
        if (result === 'ok') {
          chainResults.push('ok');
          continue;
        }
        // Failure: roll back the chain, mark earlier events failed, later ones untried.
        if (snapshot !== undefined) {
          for (const step of snapshot.undo.reverse()) step();
          state.accounts = snapshot.accounts;
          state.lastTimestamp = snapshot.lastTimestamp;
        }
        for (let j = 0; j < chainResults.length; j++) chainResults[j] = 'linkedEventFailed';
        chainResults.push(result);
        onFailure(event, result as R);
        for (let k = i + 1; k <= chain.end; k++) chainResults.push('linkedEventFailed');
        break;
      }
      snapshot = undefined;
      results.push(...chainResults);
    }
    return results;
  }

  return {
    createAccounts(accounts, nowNs) {
      expire(nowNs);
      return applyBatch<Account, CreateAccountResult>(
        accounts,
        (a) => createAccount(a, nowNs),
        () => {},
      );
    },
    createTransfers(transfers, nowNs) {
      expire(nowNs);
      return applyBatch<Transfer, CreateTransferResult>(
        transfers,
        (t) => createTransfer(t, nowNs),
        (t, result) => {
          if (transientTransferResults.has(result)) state.failed.add(t.id);
        },
      );
    },
    account(id) {
      const a = state.accounts.get(id);
      return a === undefined ? undefined : { ...a, flags: { ...a.flags } };
    },
    transfer(id) {
      const t = state.transfers.get(id);
      return t === undefined ? undefined : { ...t, flags: { ...t.flags } };
    },
    pendingStatus(id) {
      return state.pendings.get(id)?.status;
    },
    isFailed(id) {
      return state.failed.has(id);
    },
    expire,
    accountIds() {
      return [...state.accounts.keys()];
    },
    transferIds() {
      return [...state.transfers.keys()];
    },
  };
}
