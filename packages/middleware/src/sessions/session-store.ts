/**
 * Where the merchant keeps its payment sessions: the grant it verified, the highest voucher it
 * accepted (with its proof, which it hands the platform to be paid), and what it has served
 * (`spent`). Every change is a conditional write, so that the store, not a check before it,
 * decides: a voucher is raised only above the one held, and a unit is served only while
 * `spent + cost <= accepted`, however many requests of one session run at once and in however
 * many processes share the store. The in-memory store serves one process; sqlite-session-store.ts
 * keeps sessions in a SQLite file (several processes, restarts).
 */
import type { GrantCommitment, SessionUnitType } from '@mite/protocol';

/** `open`: in use. `closing`: closed here, the platform not yet told. `closed`: settled. */
export type SessionState = 'open' | 'closing' | 'closed';
export const sessionStates: readonly SessionState[] = ['open', 'closing', 'closed'];

/** Who or what closed a session, as the platform's `closeReason` names them. */
export type SessionCloseReason = 'client' | 'merchant' | 'idle' | 'lifetime';

export interface StoredSession {
  readonly channelId: string;
  /** The session challenge it was opened for: every later credential echoes this id. */
  readonly challengeId: string;
  readonly resource: string;
  /** The payer's merchant-scoped pseudonym, from the grant. */
  readonly payer: string;
  readonly unitPriceMicros: bigint;
  readonly unitType: SessionUnitType;
  readonly minVoucherDeltaMicros: bigint;
  readonly commitment: GrantCommitment;
  /** What the platform holds, from the latest grant. */
  readonly depositMicros: bigint;
  /** The latest grant's sequence (0 at open, one more per top-up) and the grant itself. */
  readonly sequence: number;
  readonly grant: string;
  /** Seconds since the epoch: nothing is served on the session from then on. */
  readonly openUntilSeconds: number;
  /** The highest voucher accepted, and its proof: the PayWord word for its units (the anchor
   * before any voucher), or its Ed25519 signature (empty before any voucher). */
  readonly acceptedMicros: bigint;
  readonly proof: Uint8Array;
  /** What has been served, never above `acceptedMicros`. */
  readonly spentMicros: bigint;
  /** The highest voucher the platform has confirmed holding. */
  readonly checkpointedMicros: bigint;
  readonly state: SessionState;
  readonly closeReason: SessionCloseReason | undefined;
  /** Milliseconds since the epoch of the last voucher, top-up or unit served. */
  readonly lastActivityMs: number;
}

/** What a top-up changes: the newer grant and what it says. */
export interface GrantUpdate {
  readonly sequence: number;
  readonly grant: string;
  readonly depositMicros: bigint;
  readonly openUntilSeconds: number;
}

/**
 * A durable (or, in memory, per-process) session store. Every method may answer synchronously
 * inside its promise; none throws for a session it does not hold. The conditional writes answer
 * the session as it stands after the write, or undefined when their condition did not hold.
 * Answers are read-only to callers; the in-memory store answers its live records (no copy on the
 * hot path), so a caller reads them at once rather than keeping them.
 */
export interface SessionStore {
  get(channelId: string): Promise<StoredSession | undefined>;
  /**
   * Records a newly opened session unless one with its id is held already, and answers the one
   * held now (the same grant opened twice is one session); undefined when the store is full.
   */
  open(session: StoredSession): Promise<StoredSession | undefined>;
  /**
   * Applies a later grant, only when its sequence is above the one held (and its deposit not
   * below).
   */
  topUp(channelId: string, update: GrantUpdate, nowMs: number): Promise<StoredSession | undefined>;
  /** Raises the accepted voucher, only above the one held, within the deposit, while open. */
  accept(
    channelId: string,
    cumulativeMicros: bigint,
    proof: Uint8Array,
    nowMs: number,
  ): Promise<StoredSession | undefined>;
  /** Records `micros` more served, only while it stays within the accepted voucher and open. */
  spend(channelId: string, micros: bigint, nowMs: number): Promise<StoredSession | undefined>;
  /** Gives back `micros` served (the delivery failed), never below zero. */
  unspend(channelId: string, micros: bigint): Promise<void>;
  /** Records that the platform holds a voucher of `micros` (kept only if higher). */
  checkpointed(channelId: string, micros: bigint): Promise<void>;
  /** Moves a session from one state to the next; false when it was not in `from`. */
  transition(
    channelId: string,
    from: SessionState,
    to: SessionState,
    reason: SessionCloseReason | undefined,
  ): Promise<boolean>;
  /** Up to `limit` sessions in `state`, the least recently used first. */
  list(state: SessionState, limit: number): Promise<StoredSession[]>;
}

/** Sessions the in-memory store holds before it refuses to open more (closed ones are dropped). */
export const memorySessionsMax = 100_000;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The in-memory store, for one process. Its records are changed in place: every method runs to
 * its end without yielding, so each conditional write is atomic. When full, it forgets the
 * session closed longest ago (settled at the platform, so only its answer to a late voucher
 * changes: unknown rather than closed); it never forgets an open one, which holds vouchers the
 * merchant is owed, and refuses to open more instead. Filling it with open sessions takes
 * `sizeMax` deposits held at the platform.
 */
class MemorySessionStore implements SessionStore {
  readonly #sizeMax: number;
  readonly #sessions = new Map<string, Mutable<StoredSession>>();

  constructor(sizeMax: number) {
    this.#sizeMax = sizeMax;
  }

  #makeRoom(): boolean {
    if (this.#sessions.size < this.#sizeMax) return true;
    for (const [channelId, session] of this.#sessions) {
      if (session.state !== 'closed') continue;
      this.#sessions.delete(channelId);
      return true;
    }
    return false;
  }

  #open(channelId: string): Mutable<StoredSession> | undefined {
    const session = this.#sessions.get(channelId);
    return session?.state === 'open' ? session : undefined;
  }

  get(channelId: string): Promise<StoredSession | undefined> {
    return Promise.resolve(this.#sessions.get(channelId));
  }

  open(session: StoredSession): Promise<StoredSession | undefined> {
    const held = this.#sessions.get(session.channelId);
    if (held !== undefined) return Promise.resolve(held);
    if (!this.#makeRoom()) return Promise.resolve(undefined);
    const record = { ...session };
    this.#sessions.set(session.channelId, record);
    return Promise.resolve(record);
  }

  topUp(channelId: string, grant: GrantUpdate, nowMs: number): Promise<StoredSession | undefined> {
    const session = this.#open(channelId);
    if (
      session === undefined ||
      grant.sequence <= session.sequence ||
      grant.depositMicros < session.depositMicros
    ) {
      return Promise.resolve(undefined);
    }
    Object.assign(session, grant, { lastActivityMs: nowMs });
    return Promise.resolve(session);
  }

  accept(
    channelId: string,
    cumulativeMicros: bigint,
    proof: Uint8Array,
    nowMs: number,
  ): Promise<StoredSession | undefined> {
    const session = this.#open(channelId);
    if (
      session === undefined ||
      cumulativeMicros <= session.acceptedMicros ||
      cumulativeMicros > session.depositMicros
    ) {
      return Promise.resolve(undefined);
    }
    session.acceptedMicros = cumulativeMicros;
    session.proof = proof;
    session.lastActivityMs = nowMs;
    return Promise.resolve(session);
  }

  spend(channelId: string, micros: bigint, nowMs: number): Promise<StoredSession | undefined> {
    const session = this.#open(channelId);
    if (session === undefined || session.spentMicros + micros > session.acceptedMicros) {
      return Promise.resolve(undefined);
    }
    session.spentMicros += micros;
    session.lastActivityMs = nowMs;
    return Promise.resolve(session);
  }

  async unspend(channelId: string, micros: bigint): Promise<void> {
    const session = this.#sessions.get(channelId);
    if (session === undefined) return;
    session.spentMicros = session.spentMicros > micros ? session.spentMicros - micros : 0n;
  }

  async checkpointed(channelId: string, micros: bigint): Promise<void> {
    const session = this.#sessions.get(channelId);
    if (session !== undefined && micros > session.checkpointedMicros) {
      session.checkpointedMicros = micros;
    }
  }

  transition(
    channelId: string,
    from: SessionState,
    to: SessionState,
    reason: SessionCloseReason | undefined,
  ): Promise<boolean> {
    const session = this.#sessions.get(channelId);
    if (session?.state !== from) return Promise.resolve(false);
    session.state = to;
    session.closeReason = reason ?? session.closeReason;
    if (to === 'closed') {
      // Moved to the back: the map's order is then the order sessions closed in.
      this.#sessions.delete(channelId);
      this.#sessions.set(channelId, session);
    }
    return Promise.resolve(true);
  }

  list(state: SessionState, limit: number): Promise<StoredSession[]> {
    const found = [...this.#sessions.values()].filter((session) => session.state === state);
    found.sort((left, right) => left.lastActivityMs - right.lastActivityMs);
    return Promise.resolve(found.slice(0, limit));
  }
}

export function createMemorySessionStore(
  options: { readonly sizeMax?: number } = {},
): SessionStore {
  return new MemorySessionStore(options.sizeMax ?? memorySessionsMax);
}
