/**
 * Seeded randomized model test: the real engine, on SQLite and on PostgreSQL, against the
 * reference model in testing/reference-model.ts. Many concurrent callers submit random batches;
 * the engine applies concurrent calls in call order, so the model applies the same calls in the
 * same order. Every result code, every balance after every round and a sample of transfers are
 * compared.
 *
 * Reproduce a failure with MITE_MODEL_SEED=<seed> (printed on failure); MITE_MODEL_ROUNDS
 * overrides the number of rounds per backend.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import {
  type Account,
  type AccountRecord,
  type CreateAccountResult,
  type CreateTransferResult,
  type Ledger,
  openLedger,
  type Transfer,
  type TransferFlags,
  type TransferRecord,
  U128_MAX,
} from './index.ts';
import { createReferenceModel, type ReferenceModel } from './testing/reference-model.ts';

const SEED = process.env.MITE_MODEL_SEED
  ? Number(process.env.MITE_MODEL_SEED)
  : Math.floor(Math.random() * 0x7fff_ffff);
const ROUNDS = process.env.MITE_MODEL_ROUNDS ? Number(process.env.MITE_MODEL_ROUNDS) : 300;
const ROUNDS_AFTER_REOPEN = 15;

const S = 1_000_000_000n;
/**
 * The clock moves in ticks of 1.001 s and timeouts are whole seconds, so the difference between
 * two clock values is never within 1 ms of a whole number of seconds (for fewer than 999 ticks):
 * the nanosecond offsets of engine timestamps within a batch cannot decide an expiry.
 */
const TICK = S + 1_000_000n;
const TICKS_MAX = 998;
const T0 = 1_700_000_000n * S;

// --- seeded PRNG --------------------------------------------------------------------------------

/** mulberry32: small, fast, good enough for test generation. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  big(lo: number, hi: number): bigint {
    return BigInt(this.int(lo, hi));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  /** Picks an option by weight. */
  weighted<T>(options: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of options) total += w;
    let r = this.next() * total;
    for (const [w, v] of options) {
      r -= w;
      if (r < 0) return v;
    }
    const last = options[options.length - 1];
    if (last === undefined) throw new Error('weighted with no options');
    return last[1];
  }
}

// --- the workload -------------------------------------------------------------------------------

interface CanonicalAccount {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly flags: {
    debitsMustNotExceedCredits?: boolean;
    creditsMustNotExceedDebits?: boolean;
    closed?: boolean;
  };
  readonly userData: bigint;
}

/**
 * Accounts 1..10 on ledger 1, 11..14 on ledger 2; 15 and 16 are never created; 17..19 on ledger
 * 3 take the huge amounts that overflow balances, so that the others stay usable.
 */
function accountPool(g: Gen): CanonicalAccount[] {
  const pool: CanonicalAccount[] = [];
  for (let i = 1; i <= 14; i++) {
    const id = BigInt(i);
    const flags: CanonicalAccount['flags'] = {};
    if (i % 5 === 1) flags.debitsMustNotExceedCredits = true;
    if (i % 5 === 2) flags.creditsMustNotExceedDebits = true;
    if (i === 9 || i === 14) flags.closed = true;
    pool.push({
      id,
      ledger: i <= 10 ? 1 : 2,
      code: g.int(1, 3),
      flags,
      userData: g.chance(0.5) ? 0n : g.big(1, 5),
    });
  }
  for (const i of HUGE_ACCOUNTS) pool.push({ id: i, ledger: 3, code: 7, flags: {}, userData: 0n });
  return pool;
}
const MISSING_ACCOUNTS = [15n, 16n];
const HUGE_ACCOUNTS = [17n, 18n, 19n];

type Call =
  | { readonly kind: 'accounts'; readonly events: Account[] }
  | { readonly kind: 'transfers'; readonly events: Transfer[] };

class Workload {
  readonly pool: CanonicalAccount[];
  readonly accountIds: bigint[];
  /** The last body submitted for every transfer id, for retries. */
  readonly submitted = new Map<bigint, Transfer>();
  readonly submittedIds: bigint[] = [];
  /** Ids submitted with the pending flag. */
  readonly pendingIds: bigint[] = [];
  private nextTransferId = 1000n;

  constructor(
    readonly g: Gen,
    readonly model: ReferenceModel,
  ) {
    this.pool = accountPool(g);
    this.accountIds = [...this.pool.map((a) => a.id), ...MISSING_ACCOUNTS];
  }

  account(): Account {
    const g = this.g;
    const c = g.pick(this.pool);
    let flags: Account['flags'] = { ...c.flags };
    let { id, ledger, code, userData } = c;
    switch (
      g.weighted<string>([
        [80, 'canonical'],
        [4, 'flags'],
        [3, 'bothLimits'],
        [4, 'userData'],
        [3, 'ledger'],
        [3, 'code'],
        [2, 'zeroId'],
        [1, 'maxId'],
      ])
    ) {
      case 'flags':
        flags = { ...flags, closed: !c.flags.closed };
        break;
      case 'bothLimits':
        flags = { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: true };
        break;
      case 'userData':
        userData += 1n;
        break;
      case 'ledger':
        ledger = g.chance(0.5) ? 0 : ledger + 1;
        break;
      case 'code':
        code = g.chance(0.5) ? 0 : code + 10;
        break;
      case 'zeroId':
        id = 0n;
        break;
      case 'maxId':
        id = U128_MAX;
        break;
    }
    if (g.chance(0.2)) flags = { ...flags, linked: true };
    const a: Account = { id, ledger, code, flags };
    return userData === 0n && g.chance(0.5) ? a : { ...a, userData };
  }

  private newTransferId(): bigint {
    this.nextTransferId += 1n;
    return this.nextTransferId;
  }

  /** Mostly open accounts; closed and never-created ones now and then. */
  private someAccountId(ledger?: number): bigint {
    const g = this.g;
    if (g.chance(0.06)) return g.pick([9n, 14n, ...MISSING_ACCOUNTS]);
    const open = this.pool.filter(
      (a) => a.flags.closed !== true && a.ledger === (ledger ?? a.ledger) && a.ledger !== 3,
    );
    return g.pick(open).id;
  }

  private ledgerOf(id: bigint): number {
    return this.pool.find((a) => a.id === id)?.ledger ?? 1;
  }

  private amount(): bigint {
    const g = this.g;
    return g.weighted<() => bigint>([
      [86, () => g.big(1, 20)],
      [9, () => g.big(21, 200)],
      [4, () => 0n],
      [0.5, () => U128_MAX - g.big(0, 3)],
    ])();
  }

  private singlePhase(): Transfer {
    const g = this.g;
    const dr = this.someAccountId();
    const crLedger = g.chance(0.93) ? this.ledgerOf(dr) : undefined;
    let cr = this.someAccountId(crLedger);
    if (cr === dr && g.chance(0.9)) cr = this.someAccountId(crLedger);
    const flags: { -readonly [K in keyof TransferFlags]: boolean } = {};
    let amount = this.amount();
    if (g.chance(0.15)) {
      if (g.chance(0.6)) flags.balancingDebit = true;
      if (!flags.balancingDebit || g.chance(0.4)) flags.balancingCredit = true;
      if (g.chance(0.4)) amount = 0n;
    }
    let timeoutSeconds = 0;
    if (g.chance(0.3)) {
      flags.pending = true;
      if (g.chance(0.6)) timeoutSeconds = g.int(1, 4);
    }
    const ledger = g.chance(0.92) ? this.ledgerOf(dr) : g.pick([0, 1, 2, 3]);
    const t: Transfer = {
      id: this.newTransferId(),
      debitAccountId: dr,
      creditAccountId: cr,
      amount,
      ledger,
      code: g.chance(0.97) ? g.int(1, 3) : 0,
      flags,
    };
    return {
      ...t,
      ...(timeoutSeconds !== 0 || g.chance(0.1) ? { timeoutSeconds } : {}),
      ...(g.chance(0.3) ? { userData: g.big(0, 3) } : {}),
    };
  }

  /** Amounts at the edge of u128 among the ledger-3 accounts: overflowsDebits/Credits. */
  private huge(): Transfer {
    const g = this.g;
    const dr = g.pick(HUGE_ACCOUNTS);
    const cr = g.pick(HUGE_ACCOUNTS.filter((id) => id !== dr));
    const a = this.model.account(g.chance(0.5) ? dr : cr);
    const room = a === undefined ? U128_MAX : U128_MAX - a.creditsPosted - a.debitsPosted;
    const amount = clampU128(room > 0n ? room + g.big(-2, 2) : g.big(1, 1000));
    const flags: TransferFlags = g.chance(0.3) ? { pending: true } : {};
    return {
      id: this.newTransferId(),
      debitAccountId: dr,
      creditAccountId: cr,
      amount,
      ledger: 3,
      code: 7,
      flags,
    };
  }

  /** A submitted pending id, preferring (among a few random ones) one that satisfies `want`. */
  private somePendingId(want: (id: bigint) => boolean): bigint {
    if (this.pendingIds.length === 0) return 1n;
    let id = this.g.pick(this.pendingIds);
    for (let i = 0; i < 30 && !want(id); i++) id = this.g.pick(this.pendingIds);
    return id;
  }

  private postOrVoid(): Transfer {
    const g = this.g;
    const id = this.newTransferId();
    const pendingId = g.weighted<() => bigint>([
      [55, () => this.somePendingId((p) => this.model.pendingStatus(p) === 'pending')],
      [20, () => this.somePendingId((p) => this.model.pendingStatus(p) !== undefined)],
      [10, () => this.somePendingId(() => true)],
      [5, () => (this.submittedIds.length > 0 ? g.pick(this.submittedIds) : 2n)],
      [3, () => this.nextTransferId + 50n],
      [3, () => 0n],
      [2, () => id],
      [2, () => U128_MAX],
    ])();
    const pending = this.model.transfer(pendingId) ?? this.submitted.get(pendingId);
    const pAmount = pending?.amount ?? g.big(1, 20);
    const post = g.chance(0.6);
    const amount = g.weighted<() => bigint>([
      [40, () => 0n],
      [25, () => pAmount],
      [20, () => (pAmount > 1n ? g.big(1, Number(pAmount > 1000n ? 1000n : pAmount - 1n)) : 1n)],
      [15, () => clampU128(pAmount + 1n)],
    ])();
    const field = <T>(right: T | undefined, zero: T, wrong: () => T): T =>
      g.weighted<() => T>([
        [70, () => zero],
        [22, () => right ?? zero],
        [8, wrong],
      ])();
    const t: Transfer = {
      id,
      debitAccountId: field(pending?.debitAccountId, 0n, () => this.someAccountId()),
      creditAccountId: field(pending?.creditAccountId, 0n, () => this.someAccountId()),
      amount,
      ledger: field(pending?.ledger, 0, () => g.int(1, 3)),
      code: field(pending?.code, 0, () => g.int(1, 4)),
      flags: post ? { postPending: true } : { voidPending: true },
      pendingId,
    };
    return g.chance(0.3) ? { ...t, userData: g.big(1, 3) } : t;
  }

  private retry(change: boolean): Transfer | undefined {
    const g = this.g;
    if (this.submittedIds.length === 0) return undefined;
    const old = this.submitted.get(g.pick(this.submittedIds));
    if (old === undefined) return undefined;
    if (!change) return old;
    switch (g.int(0, 10)) {
      case 0:
        return { ...old, amount: clampU128(old.amount + g.big(1, 3)) };
      case 1:
        return { ...old, amount: old.amount > 0n ? old.amount - 1n : 1n };
      case 2:
        return { ...old, userData: (old.userData ?? 0n) + 1n };
      case 3:
        return { ...old, debitAccountId: this.someAccountId() };
      case 4:
        return { ...old, creditAccountId: this.someAccountId() };
      case 5:
        return { ...old, ledger: g.int(0, 2), code: g.int(0, 3) };
      case 6:
        return { ...old, flags: { ...old.flags, pending: !old.flags?.pending } };
      case 7:
        return { ...old, timeoutSeconds: g.int(0, 3) };
      case 8:
        return { ...old, pendingId: g.chance(0.5) ? 0n : g.pick(this.submittedIds) };
      default: {
        // Optional fields left out (zero): a post or void retry compares only non-zero fields.
        const { userData: _userData, ...rest } = old;
        return {
          ...rest,
          ...(g.chance(0.5) ? { debitAccountId: 0n, creditAccountId: 0n } : {}),
          ...(g.chance(0.5) ? { amount: 0n } : {}),
          ...(g.chance(0.5) ? { ledger: 0, code: 0 } : {}),
        };
      }
    }
  }

  private invalid(): Transfer {
    const g = this.g;
    const base = this.singlePhase();
    switch (g.int(0, 9)) {
      case 0:
        return { ...base, id: 0n };
      case 1:
        return { ...base, id: U128_MAX };
      case 2:
        return { ...base, flags: { pending: true, postPending: g.chance(0.5), voidPending: true } };
      case 3:
        return { ...base, flags: { balancingDebit: true, postPending: true }, pendingId: 1001n };
      case 4:
        return { ...base, debitAccountId: g.chance(0.5) ? 0n : U128_MAX };
      case 5:
        return { ...base, creditAccountId: g.chance(0.5) ? 0n : U128_MAX };
      case 6:
        return { ...base, creditAccountId: base.debitAccountId };
      case 7:
        return { ...base, pendingId: g.big(1, 2000) };
      case 8:
        return { ...base, flags: { ...base.flags, pending: false }, timeoutSeconds: g.int(1, 3) };
      default:
        return { ...base, amount: 0n, flags: { pending: g.chance(0.5) } };
    }
  }

  transfer(): Transfer {
    const g = this.g;
    const kind = g.weighted<string>([
      [42, 'single'],
      [22, 'postOrVoid'],
      [14, 'retrySame'],
      [10, 'retryChanged'],
      [8, 'invalid'],
      [2, 'huge'],
    ]);
    let t: Transfer | undefined;
    if (kind === 'postOrVoid') t = this.postOrVoid();
    else if (kind === 'retrySame') t = this.retry(false);
    else if (kind === 'retryChanged') t = this.retry(true);
    else if (kind === 'invalid') t = this.invalid();
    else if (kind === 'huge') t = this.huge();
    t ??= this.singlePhase();
    // Strip any linked flag of a retried body; the caller decides linking.
    const { linked: _linked, ...flags } = t.flags ?? {};
    return this.record({ ...t, flags: g.chance(0.15) ? { ...flags, linked: true } : flags });
  }

  private record(t: Transfer): Transfer {
    if (!this.submitted.has(t.id)) this.submittedIds.push(t.id);
    this.submitted.set(t.id, t);
    if (t.flags?.pending === true) this.pendingIds.push(t.id);
    return t;
  }

  /** A pending transfer and, in the same call, its post or void; often linked together. */
  pair(): Transfer[] {
    const g = this.g;
    const dr = this.someAccountId();
    const p: Transfer = {
      id: this.newTransferId(),
      debitAccountId: dr,
      creditAccountId: this.someAccountId(this.ledgerOf(dr)),
      amount: g.big(1, 20),
      ledger: this.ledgerOf(dr),
      code: 1,
      flags: { pending: true, linked: g.chance(0.7) },
      ...(g.chance(0.3) ? { timeoutSeconds: g.int(1, 3) } : {}),
    };
    const resolve: Transfer = {
      id: this.newTransferId(),
      debitAccountId: 0n,
      creditAccountId: 0n,
      amount: g.pick([0n, 1n, p.amount, p.amount + 1n]),
      ledger: 0,
      code: 0,
      flags: g.chance(0.6)
        ? { postPending: true, linked: g.chance(0.3) }
        : { voidPending: true, linked: g.chance(0.3) },
      pendingId: p.id,
    };
    return [this.record(p), this.record(resolve)];
  }

  /** The first call: most of the pool as specified; 5 and 13 are left to random creation. */
  firstCall(): Call {
    const events = this.pool
      .filter((a) => a.id !== 5n && a.id !== 13n)
      .map((a): Account => ({ ...a, flags: { ...a.flags } }));
    return { kind: 'accounts', events };
  }

  call(): Call {
    const g = this.g;
    if (g.chance(0.12)) {
      const events = Array.from({ length: g.int(1, 4) }, () => this.account());
      return { kind: 'accounts', events: closeOrOpenLastChain(g, events) };
    }
    const length = g.weighted([
      [3, 1],
      [5, g.int(2, 8)],
      [2, g.int(9, 30)],
    ]);
    const events: Transfer[] = [];
    while (events.length < length) {
      if (g.chance(0.06)) events.push(...this.pair());
      else events.push(this.transfer());
    }
    return { kind: 'transfers', events: closeOrOpenLastChain(g, events) };
  }
}

function clampU128(x: bigint): bigint {
  return x > U128_MAX ? U128_MAX : x < 0n ? 0n : x;
}

/** Most batches end their last chain; some leave it open. */
function closeOrOpenLastChain<E extends { readonly flags?: { readonly linked?: boolean } }>(
  g: Gen,
  events: E[],
): E[] {
  const last = events[events.length - 1];
  if (last === undefined || last.flags?.linked !== true || g.chance(0.3)) return events;
  const { linked: _linked, ...flags } = last.flags;
  return [...events.slice(0, -1), { ...last, flags }];
}

// --- comparison ---------------------------------------------------------------------------------

function show(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

function withoutTimestamp<T extends { timestamp: bigint }>(r: T): Omit<T, 'timestamp'> {
  const { timestamp: _timestamp, ...rest } = r;
  return rest;
}

async function compareAccounts(
  ledger: Ledger,
  model: ReferenceModel,
  ids: bigint[],
  where: string,
) {
  const found = new Map<bigint, AccountRecord>();
  for (const a of await ledger.lookupAccounts(ids)) found.set(a.id, a);
  for (const id of ids) {
    const expected = model.account(id);
    const actual = found.get(id);
    assert.equal(actual !== undefined, expected !== undefined, `${where}: account ${id} existence`);
    if (actual === undefined || expected === undefined) continue;
    assert.deepEqual(withoutTimestamp(actual), expected, `${where}: account ${id}`);
  }
}

async function compareTransfers(
  ledger: Ledger,
  model: ReferenceModel,
  ids: bigint[],
  where: string,
) {
  const found = new Map<bigint, TransferRecord>();
  for (let i = 0; i < ids.length; i += 8000) {
    for (const t of await ledger.lookupTransfers(ids.slice(i, i + 8000))) found.set(t.id, t);
  }
  for (const id of ids) {
    const expected = model.transfer(id);
    const actual = found.get(id);
    assert.equal(
      actual !== undefined,
      expected !== undefined,
      `${where}: transfer ${id} existence`,
    );
    if (actual === undefined || expected === undefined) continue;
    assert.deepEqual(withoutTimestamp(actual), expected, `${where}: transfer ${id}`);
  }
}

/**
 * Timestamps are strictly increasing in creation order and at least the clock at creation. (The
 * model creates accounts and transfers in the engine's order; ids of both kinds are disjoint.)
 */
async function compareTimestamps(
  ledger: Ledger,
  model: ReferenceModel,
  createdAt: Map<bigint, bigint>,
  name: string,
) {
  const transferIds = model.transferIds();
  const stamps = new Map<bigint, bigint>();
  for (let i = 0; i < transferIds.length; i += 8000) {
    for (const tr of await ledger.lookupTransfers(transferIds.slice(i, i + 8000))) {
      stamps.set(tr.id, tr.timestamp);
    }
  }
  for (const a of await ledger.lookupAccounts(model.accountIds())) stamps.set(a.id, a.timestamp);
  for (const ids of [model.accountIds(), transferIds]) {
    let previous = -1n;
    for (const id of ids) {
      const ts = stamps.get(id);
      const clock = createdAt.get(id);
      assert.ok(ts !== undefined && clock !== undefined, `${name}: ${id} has a timestamp`);
      assert.ok(ts > previous, `${name}: timestamp of ${id} (${ts}) after ${previous}`);
      assert.ok(ts >= clock, `${name}: timestamp of ${id} (${ts}) >= clock ${clock}`);
      previous = ts;
    }
  }
}

/** Every account's history in timestamp (= creation) order, and some filtered views of it. */
async function compareHistories(
  ledger: Ledger,
  model: ReferenceModel,
  accountIds: bigint[],
  g: Gen,
  name: string,
) {
  const order = model.transferIds();
  for (const accountId of accountIds) {
    const where = `${name}: history of account ${accountId}`;
    const all = await ledger.getAccountTransfers({ accountId, limit: 8190 });
    const expected = order.filter((id) => {
      const tr = model.transfer(id);
      return tr?.debitAccountId === accountId || tr?.creditAccountId === accountId;
    });
    assert.deepEqual(
      all.map((tr) => tr.id),
      expected.slice(0, 8190),
      where,
    );
    const ids = (list: TransferRecord[]) => list.map((tr) => tr.id);
    const limit = g.int(1, 50);
    assert.deepEqual(
      ids(await ledger.getAccountTransfers({ accountId, limit, reversed: true })),
      [...expected].reverse().slice(0, limit),
      `${where}, reversed`,
    );
    assert.deepEqual(
      ids(await ledger.getAccountTransfers({ accountId, limit: 8190, debits: true })),
      expected.filter((id) => model.transfer(id)?.debitAccountId === accountId),
      `${where}, debits`,
    );
    assert.deepEqual(
      ids(await ledger.getAccountTransfers({ accountId, limit: 8190, credits: true })),
      expected.filter((id) => model.transfer(id)?.creditAccountId === accountId),
      `${where}, credits`,
    );
    if (all.length > 0) {
      const i = g.int(0, all.length - 1);
      const j = g.int(i, all.length - 1);
      const timestampMin = all[i]?.timestamp ?? 0n;
      const timestampMax = all[j]?.timestamp ?? 0n;
      assert.deepEqual(
        ids(
          await ledger.getAccountTransfers({ accountId, limit: 8190, timestampMin, timestampMax }),
        ),
        expected.slice(i, j + 1),
        `${where}, timestamps ${timestampMin}..${timestampMax}`,
      );
    }
  }
}

// --- the run ------------------------------------------------------------------------------------

interface Batching {
  readonly batchSizeMax?: number;
  readonly batchWaitMs?: number;
}

interface LoggedCall {
  readonly round: number;
  readonly now: bigint;
  readonly call: Call;
}

interface Stats {
  calls: number;
  events: number;
  results: Map<string, number>;
  /** Time spent in the model (and in the synchronous part of the engine's calls). */
  modelMs: number;
}

async function runAgainst(
  t: TestContext,
  name: string,
  open: (clock: () => bigint, batching: Batching) => Promise<Ledger>,
): Promise<void> {
  const g = new Gen(SEED);
  const model = createReferenceModel();
  const work = new Workload(g, model);
  let now = T0;
  let ticks = 0;
  const clock = (): bigint => now;
  const log: LoggedCall[] = [];
  const stats: Stats = { calls: 0, events: 0, results: new Map(), modelMs: 0 };
  let ledger = await open(clock, {});
  let round = 0;
  /** The clock when each account and transfer id was created (ids do not overlap here). */
  const createdAt = new Map<bigint, bigint>();

  const runRound = async (): Promise<void> => {
    if (g.chance(0.35)) {
      const n = g.int(1, 3);
      ticks += n;
      assert.ok(ticks <= TICKS_MAX, 'too many clock ticks for the 1.001 s tick scheme');
      now += BigInt(n) * TICK;
    }
    const calls: Call[] = [];
    const pending: Promise<(CreateAccountResult | CreateTransferResult)[]>[] = [];
    const expected: (CreateAccountResult | CreateTransferResult)[][] = [];
    const callNow: bigint[] = [];
    const callCount = g.int(4, 24);
    // At least one transfer call per round, so the clock advance is seen by a batch either way.
    while (calls.length < callCount || !calls.some((c) => c.kind === 'transfers')) {
      // Generated after the model applied the earlier calls, so that posts find open pendings.
      const call = round === 0 && calls.length === 0 ? work.firstCall() : work.call();
      calls.push(call);
      callNow.push(now);
      log.push({ round, now, call });
      // Call the engine and the model in the same order.
      const started = performance.now();
      if (call.kind === 'accounts') {
        pending.push(ledger.createAccounts(call.events));
        expected.push(model.createAccounts(call.events, now));
      } else {
        pending.push(ledger.createTransfers(call.events));
        expected.push(model.createTransfers(call.events, now));
      }
      stats.modelMs += performance.now() - started;
    }
    const actual = await Promise.all(pending);
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c] as Call;
      const exp = expected[c] ?? [];
      const act = actual[c] ?? [];
      stats.calls += 1;
      stats.events += call.events.length;
      exp.forEach((r, k) => {
        stats.results.set(r, (stats.results.get(r) ?? 0) + 1);
        const event = call.events[k];
        if (r === 'ok' && event !== undefined) createdAt.set(event.id, callNow[c] ?? 0n);
      });
      if (show(exp) !== show(act)) {
        const i = exp.findIndex((r, k) => r !== act[k]);
        assert.fail(
          `${name} round ${round} call ${c} (${call.kind}) event ${i}: ` +
            `expected ${exp[i]}, engine ${act[i]}\nevent: ${show(call.events[i])}\n` +
            `call: ${show(call.events)}\nexpected: ${show(exp)}\nengine:   ${show(act)}`,
        );
      }
    }
    const where = `${name} round ${round}`;
    await compareAccounts(ledger, model, work.accountIds, where);
    const sample = Array.from({ length: Math.min(40, work.submittedIds.length) }, () =>
      g.pick(work.submittedIds),
    );
    await compareTransfers(ledger, model, sample, where);
    round += 1;
  };

  try {
    for (let i = 0; i < ROUNDS; i++) await runRound();
    assert.deepEqual(await ledger.verify(), { ok: true, problems: [] });

    await compareTimestamps(ledger, model, createdAt, name);
    await compareHistories(ledger, model, work.accountIds, g, name);

    await ledger.close();
    // Reopened with small batches, so that concurrent calls split over several batches.
    ledger = await open(clock, { batchSizeMax: 40, batchWaitMs: 1 });
    await compareAccounts(ledger, model, work.accountIds, `${name} after reopen`);
    await compareTransfers(ledger, model, work.submittedIds, `${name} after reopen`);
    for (let i = 0; i < ROUNDS_AFTER_REOPEN; i++) await runRound();

    // With no batch at all, the engine's idle timer expires what is due.
    ticks += 10;
    assert.ok(ticks <= TICKS_MAX, 'too many clock ticks for the 1.001 s tick scheme');
    now += 10n * TICK;
    model.expire(now);
    const due = Date.now() + 10_000;
    for (;;) {
      try {
        await compareAccounts(ledger, model, work.accountIds, `${name} idle expiry`);
        break;
      } catch (error) {
        if (Date.now() > due) throw error;
        // A real wait: the engine's idle expiry timer is armed from its clock and from the real
        // retry time (Date.now()), which mock.timers would not move together.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    assert.deepEqual(await ledger.verify(), { ok: true, problems: [] });
  } catch (error) {
    const file = join(tmpdir(), `mite-model-${name}-${SEED}.json`);
    writeFileSync(file, show(log));
    t.diagnostic(`MITE_MODEL_SEED=${SEED} (call log: ${file})`);
    if (error instanceof Error) error.message = `MITE_MODEL_SEED=${SEED}: ${error.message}`;
    throw error;
  } finally {
    await ledger.close().catch(() => {});
  }
  const codes = [...stats.results.entries()].sort((a, b) => b[1] - a[1]);
  t.diagnostic(
    `${name}: seed ${SEED}, ${round} rounds, ${stats.calls} calls, ${stats.events} events, ` +
      `${Math.round(stats.modelMs)} ms in the model, ` +
      `${codes.length} distinct result codes: ${codes.map(([k, v]) => `${k}=${v}`).join(' ')}`,
  );
}

describe('ledger engine against the reference model', () => {
  it('SQLite', async (t) => {
    const dir = tempDir('mite-model-');
    const url = `sqlite:${join(dir, 'ledger.db')}`;
    await runAgainst(t, 'sqlite', (clock, batching) => openLedger({ url, clock, ...batching }));
  });

  it('PostgreSQL', async (t) => {
    const url = await freshPgDatabase();
    if (url === undefined) {
      t.skip('PostgreSQL is not installed');
      return;
    }
    await runAgainst(t, 'postgres', (clock, batching) => openLedger({ url, clock, ...batching }));
  });
});
