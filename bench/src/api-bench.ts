/**
 * The API benchmark (DESIGN.md section 11, "purchases through the API"): purchases per second
 * through the HTTP API, with p50/p99 latency, against a plain authenticated route measured in the
 * same run, and the server's memory under that load.
 *
 * The server runs in a child process (api-bench-server.ts, built as `npm start` builds Mite) on
 * embedded SQLite in a temporary data directory, so that it and the load generator (autocannon,
 * in this process) do not share an event loop. The child seeds users (signed up and logged in through the API, wallets funded
 * through the ledger), one merchant and offers with `accessPeriodSeconds: 0`, so that a user may
 * buy the same offer again and again. Then, each run with `connections` keep-alive connections:
 *
 * - warm-up (not reported): both routes at full speed for `warmupSeconds` each;
 * - ceilings: a bare fastify route (`GET /ceiling`), then the purchase floor (purchase-floor.ts:
 *   the least a durable signed purchase costs here, without the platform) for `maxSeconds`, then
 *   two floors in two processes at once for as long;
 * - peer: `GET /v1/wallet` at full speed, each request with the next user's bearer token;
 * - max: `POST /v1/payments {offerId}` at full speed, each request with a unique Idempotency-Key,
 *   the next user's token and the next offer;
 * - half: purchases at half of max's measured rate, for the latency budget. autocannon's
 *   `overallRate` lets each connection send its quota for a second as fast as it can at the start
 *   of each second, which is the full load in bursts; so the rate is split across `paceSlices`
 *   autocannon instances started evenly across one second, whose bursts then take turns.
 *
 * Latency percentiles are of the 2xx response times autocannon measures (its `response` event),
 * over all of a row's instances; autocannon's own p50/p99 are in the JSON too. The child's RSS and
 * CPU time are sampled from /proc/<pid> during every run (warm-up included).
 *
 * Afterwards, correctness: purchases cut off by the end of a run (sent, never answered) are sent
 * again with their Idempotency-Key, so that each purchase sent has exactly one answer; then every
 * user's wallet balance, read through `GET /v1/wallet`, must have gone down by exactly the
 * successful purchases times the price, the payments table must hold as many succeeded payments,
 * and the ledger's `verify()` must come back clean. A failed check fails the benchmark (after the
 * report); budgets are reported, never turned into an exit code.
 *
 * `MITE_BENCH_SERVER_CPU_PROF=DIR` runs the child with `--cpu-prof --cpu-prof-dir=DIR`
 * (summarise the profile with cpuprofile-summary.ts). `MITE_BENCH_SERVER_MEMORY=1` has the child log
 * its memory usage every second to stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@mite/testkit';
import { bundleToScratch } from '../../packages/cli/src/build.ts';
import { serverNodeFlags } from '../../packages/cli/src/node-flags.ts';
import { parseAmount } from '@mite/protocol';
import type {
  FloorConfig,
  FloorReady,
  ServerConfig,
  ServerReady,
  ServerVerify,
} from './api-bench-server.ts';
import {
  autocannon,
  type RequestContext,
  type CannonRequest,
  type CannonOptions,
  type CannonResult,
} from './autocannon.ts';
import { type ColdStartReport, measureColdStart } from './cold-start.ts';
import { ServerSampler, type ServerUsage } from './process-usage.ts';
import { purchaseFloorPath } from './purchase-floor.ts';
import { saveRun } from './results.ts';
import { type Column, formatInteger, formatRatio, formatSeconds, formatTable } from './table.ts';
import {
  type BudgetCheck,
  type CorrectnessCheck,
  failOnWrongChecks,
  progressLog,
  serverProfile,
  verdictLines,
} from './run.ts';

export interface ApiBenchOptions {
  /**
   * Users signed up and logged in, each wallet funded. Seeding hashes each password twice (scrypt,
   * about 0.1 s of CPU each): 64 users take about 7 s on 2 cores.
   */
  readonly users: number;
  readonly offers: number;
  /** Keep-alive connections of every run. */
  readonly connections: number;
  /** Per route, before the measured runs. */
  readonly warmupSeconds: number;
  readonly peerSeconds: number;
  readonly maxSeconds: number;
  readonly halfSeconds: number;
  /** autocannon instances the half-rate run is split across, started evenly across one second. */
  readonly paceSlices: number;
  /** Starts of the built `mite serve` timed, fresh and again on the same data (cold-start.ts). */
  readonly coldStartRuns: number;
  /** Extra node options for the server child (e.g. `--cpu-prof`). */
  readonly serverExecArgv?: readonly string[];
  /** Progress lines as runs finish (default: silent). */
  readonly log?: (line: string) => void;
}

/** About 75 s on 2 cores (about 10 s of it starting the server and seeding). */
export const apiBenchDefaults: ApiBenchOptions = {
  users: 64,
  offers: 10,
  connections: 32,
  warmupSeconds: 3,
  peerSeconds: 15,
  maxSeconds: 20,
  halfSeconds: 20,
  paceSlices: 8,
  coldStartRuns: 3,
};

/** About 15-20 s. */
export const apiBenchQuick: ApiBenchOptions = {
  ...apiBenchDefaults,
  users: 16,
  offers: 4,
  warmupSeconds: 1,
  peerSeconds: 2,
  maxSeconds: 3,
  halfSeconds: 3,
  coldStartRuns: 1,
};

export type RowKind = 'ceiling' | 'peer' | 'max' | 'half';

export interface PeerComparison {
  readonly label: string;
  readonly rate: number;
  /** This row's rate over the peer's. */
  readonly ratio: number;
}

export type { ServerUsage } from './process-usage.ts';

export interface LoadRow extends ServerUsage {
  readonly kind: RowKind;
  readonly route: string;
  readonly connections: number;
  /** half: the rate asked for, over all instances. */
  readonly targetRate?: number;
  /** autocannon instances (more than one for the paced half-rate run). */
  readonly instances: number;
  readonly seconds: number;
  /** Responses received. */
  readonly requests: number;
  /** Responses per second (per instance, summed). */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  /** Connection errors, timeouts included. */
  readonly errors: number;
  readonly timeouts: number;
  /** This process's (autocannon's) CPU time over the run's wall time. */
  readonly clientCpuPercent: number;
  /** autocannon's own latency summaries (integer ms), one per instance. */
  readonly autocannonLatency: { p50: number; p99: number; average: number; max: number }[];
  readonly peer?: PeerComparison;
}

export type { BudgetCheck, BudgetStatus, CorrectnessCheck } from './run.ts';

export interface BalanceCheck {
  readonly users: number;
  readonly priceMicros: bigint;
  /** 2xx answers to purchases during the runs, warm-up included. */
  readonly answered: number;
  /** Purchases sent again after the runs because their answer never came. */
  readonly resent: number;
  /** Of those, how many the server answered from its idempotency record (done before). */
  readonly resentReplayed: number;
  /** Non-2xx answers to purchases (runs and re-sends), by status. */
  readonly refused: Record<string, number>;
  /** Successful purchases: answered plus re-sent ones answered 2xx. */
  readonly purchases: number;
  readonly expectedSpentMicros: bigint;
  /** Funding minus balance, summed over the users, read through GET /v1/wallet. */
  readonly spentMicros: bigint;
  readonly ok: boolean;
}

export interface ApiBenchReport {
  readonly rows: LoadRow[];
  readonly warmup: LoadRow[];
  readonly budgets: BudgetCheck[];
  readonly checks: CorrectnessCheck[];
  readonly balance: BalanceCheck;
  readonly verify: Omit<ServerVerify, 'type'>;
  readonly server: { readonly seedSeconds: number; readonly rssMaxBytes?: number };
  readonly coldStart: ColdStartReport;
  readonly notes: string[];
}

// --- budgets (DESIGN.md section 11) ------------------------------------------------------------

/**
 * Purchases through the API as a share of the purchase floor measured in the same run (DESIGN.md
 * section 11; issue 11 item 9): the floor, not an absolute rate, is what one ledger on two cores
 * can reach, so the budget moves with the machine.
 */
const purchasesBudgetFloorRatio = 0.6;
const p99BudgetMs = 20;
const rssBudgetBytes = 256 * 1024 * 1024;
const coldStartBudgetMs = 1_500;

// --- the workload ------------------------------------------------------------------------------

const price = '0.01';
/** 1000.00 per wallet: far more than any run can spend at one cent a purchase. */
const fundingMicros = 1_000_000_000n;
const peerRoute = 'GET /v1/wallet';
const ceilingRoute = 'GET /ceiling (bare fastify)';
const floorRoute = 'POST /floor/payments (minimal purchase)';
const floorPairRoute = 'POST /floor/payments, two processes';
const purchaseRoute = 'POST /v1/payments';

// --- the server child --------------------------------------------------------------------------

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const serverScript = fileURLToPath(new URL('./api-bench-server.ts', import.meta.url));
const buildRoot = fileURLToPath(new URL('../.build/', import.meta.url));

type ServerMessage = ServerReady | ServerVerify | FloorReady;

/** The platform in a child process, and the line protocol to it. */
class ServerChild {
  private readonly messages: ServerMessage[] = [];
  private readonly waiters: ((message: ServerMessage | Error) => void)[] = [];
  private exited: Error | undefined;
  private readonly exitPromise: Promise<void>;
  private readonly killOnExit = () => this.child.kill('SIGKILL');

  private constructor(private readonly child: ChildProcess) {
    process.on('exit', this.killOnExit);
    if (child.stdout === null) throw new Error('bug: the server child has no stdout pipe');
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(line) as ServerMessage;
      } catch {
        process.stderr.write(`api-bench-server (stdout): ${line}\n`);
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter === undefined) this.messages.push(message);
      else waiter(message);
    });
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        this.exited = new Error(`the server child exited (${signal ?? `code ${code}`})`);
        for (const waiter of this.waiters.splice(0)) waiter(this.exited);
        resolve();
      });
    });
  }

  /**
   * Builds the server as `npm start` runs Mite (one JavaScript file, no TypeScript loader; see
   * packages/cli/src/build.ts), so that its memory and speed are those of the built platform,
   * then starts it. The build sits under bench/.build (third-party packages resolve from the
   * repository's node_modules) and is deleted when the child exits.
   */
  static async start(
    config: ServerConfig | { readonly floor: FloorConfig },
    execArgv: readonly string[],
  ): Promise<ServerChild> {
    const built = await bundleToScratch(serverScript, buildRoot);
    const args =
      'floor' in config ? ['floor', JSON.stringify(config.floor)] : [JSON.stringify(config)];
    // Mite's own V8 options first (packages/cli/src/node-flags.ts), as `npm start` runs it.
    const child = spawn(process.execPath, [...serverNodeFlags, ...execArgv, built.file, ...args], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.on('exit', () => built.remove());
    return new ServerChild(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  next(): Promise<ServerMessage> {
    const queued = this.messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.waiters.push((message) =>
        message instanceof Error ? reject(message) : resolve(message),
      );
    });
  }

  async ready(): Promise<ServerReady> {
    const message = await this.next();
    if (message.type !== 'ready')
      throw new Error(`expected ready from the server, got ${message.type}`);
    return message;
  }

  async floorReady(): Promise<FloorReady> {
    const message = await this.next();
    if (message.type !== 'floor-ready') {
      throw new Error(`expected floor-ready from the floor, got ${message.type}`);
    }
    return message;
  }

  async verify(): Promise<ServerVerify> {
    this.child.stdin?.write('verify\n');
    const message = await this.next();
    if (message.type !== 'verify') {
      throw new Error(`expected verify from the server, got ${message.type}`);
    }
    return message;
  }

  /** Asks the child to close the platform and exit; kills it if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited !== undefined) return;
    this.child.stdin?.end('exit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

// --- requests ----------------------------------------------------------------------------------

interface Fixture {
  readonly baseUrl: string;
  readonly userTokens: readonly string[];
  readonly offerIds: readonly string[];
}

interface Purchase {
  readonly key: string;
  readonly token: string;
  readonly offerId: string;
}

/** Every purchase sent and what became of it, over all runs. */
class PurchaseBook {
  sent = 0;
  answered = 0;
  readonly refused: Record<string, number> = {};
  /** The contexts of purchases sent and not yet answered (autocannon gives each its own). */
  readonly unanswered = new Set<RequestContext>();

  refuse(status: number): void {
    this.refused[status] = (this.refused[status] ?? 0) + 1;
  }
}

function purchaseOf(context: RequestContext): Purchase {
  return context.purchase as Purchase;
}

function purchaseHeaders(purchase: Purchase): Record<string, string> {
  return {
    authorization: `Bearer ${purchase.token}`,
    'content-type': 'application/json',
    'idempotency-key': purchase.key,
  };
}

/** The next user's token and the next offer, a unique Idempotency-Key each time. */
function purchaseRequest(fixture: Fixture, book: PurchaseBook, label: string): CannonRequest {
  const users = fixture.userTokens.length;
  const offers = fixture.offerIds.length;
  return {
    method: 'POST',
    path: '/v1/payments',
    setupRequest: (request, context) => {
      const n = book.sent++;
      const purchase: Purchase = {
        key: `bench-${label}-${n}`,
        token: fixture.userTokens[n % users] ?? '',
        offerId: fixture.offerIds[Math.floor(n / users) % offers] ?? '',
      };
      context.purchase = purchase;
      book.unanswered.add(context);
      return {
        ...request,
        headers: { ...request.headers, ...purchaseHeaders(purchase) },
        body: JSON.stringify({ offerId: purchase.offerId }),
      };
    },
    onResponse: (status, _body, context) => {
      book.unanswered.delete(context);
      if (status >= 200 && status < 300) book.answered++;
      else book.refuse(status);
    },
  };
}

/** A purchase from the floor (purchase-floor.ts): the next user's token, a unique key each time. */
function floorRequest(fixture: Fixture): CannonRequest {
  let n = 0;
  return {
    method: 'POST',
    path: purchaseFloorPath,
    setupRequest: (request) => {
      const i = n++;
      return {
        ...request,
        headers: {
          ...request.headers,
          authorization: `Bearer ${fixture.userTokens[i % fixture.userTokens.length] ?? ''}`,
          'content-type': 'application/json',
          'idempotency-key': `floor-${i}`,
        },
        body: JSON.stringify({ offerId: fixture.offerIds[i % fixture.offerIds.length] ?? '' }),
      };
    },
  };
}

/** `GET /v1/wallet` with the next user's token. */
function walletRequest(fixture: Fixture): CannonRequest {
  let n = 0;
  return {
    method: 'GET',
    path: '/v1/wallet',
    setupRequest: (request) => ({
      ...request,
      headers: {
        ...request.headers,
        authorization: `Bearer ${fixture.userTokens[n++ % fixture.userTokens.length] ?? ''}`,
      },
    }),
  };
}

// --- runs --------------------------------------------------------------------------------------

interface InstanceOutcome {
  readonly result: CannonResult;
  readonly latencies: number[];
}

function runInstance(options: CannonOptions): Promise<InstanceOutcome> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(options, (error, result) => {
      if (error !== null) reject(error);
      else resolve({ result, latencies });
    });
    instance.on('response', (_client, status, _bytes, responseTimeMs) => {
      if (status >= 200 && status < 300) latencies.push(responseTimeMs);
    });
  });
}

/** Nearest rank on sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] ?? Number.NaN;
}

/** n split into `parts` integers differing by at most one; part `i`. */
function share(n: number, parts: number, i: number): number {
  return Math.floor(n / parts) + (i < n % parts ? 1 : 0);
}

interface RunSpec {
  readonly kind: RowKind;
  readonly route: string;
  readonly seconds: number;
  readonly connections: number;
  /** A fresh request list per autocannon instance. */
  readonly requests: () => CannonRequest[];
  /** Paced: this many requests per second over all instances. */
  readonly targetRate?: number;
  readonly slices?: number;
}

/**
 * One run: one autocannon instance, or `slices` of them when paced; or, given several base URLs,
 * one instance on each at once, the connections shared among them.
 */
async function runLoad(
  baseUrls: string | readonly string[],
  spec: RunSpec,
  sampler: ServerSampler,
): Promise<LoadRow> {
  const urls = typeof baseUrls === 'string' ? [baseUrls] : baseUrls;
  const slices =
    spec.targetRate === undefined
      ? urls.length
      : Math.max(1, Math.min(spec.slices ?? 1, spec.connections, spec.targetRate));
  sampler.start();
  const outcomes = await Promise.all(
    Array.from({ length: slices }, async (_, i) => {
      if (i > 0 && spec.targetRate !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, (i * 1000) / slices));
      }
      return runInstance({
        url: urls[i % urls.length] ?? '',
        connections: share(spec.connections, slices, i),
        duration: spec.seconds,
        requests: spec.requests(),
        ...(spec.targetRate === undefined
          ? {}
          : { overallRate: share(spec.targetRate, slices, i) }),
      });
    }),
  );
  const usage = sampler.stop();
  const all = new Float64Array(outcomes.reduce((n, o) => n + o.latencies.length, 0));
  let at = 0;
  for (const outcome of outcomes) {
    all.set(outcome.latencies, at);
    at += outcome.latencies.length;
  }
  all.sort();
  const statusCodes: Record<string, number> = {};
  for (const { result } of outcomes) {
    for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
      statusCodes[status] = (statusCodes[status] ?? 0) + count;
    }
  }
  const sum = (pick: (result: CannonResult) => number) =>
    outcomes.reduce((n, { result }) => n + pick(result), 0);
  return {
    kind: spec.kind,
    route: spec.route,
    connections: spec.connections,
    ...(spec.targetRate === undefined ? {} : { targetRate: spec.targetRate }),
    instances: slices,
    seconds: Math.max(...outcomes.map(({ result }) => result.duration)),
    requests: sum((result) => result.requests.total),
    rate: sum((result) => result.requests.total / result.duration),
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all.length === 0 ? Number.NaN : (all[all.length - 1] ?? Number.NaN),
    non2xx: sum((result) => result.non2xx),
    statusCodes,
    errors: sum((result) => result.errors),
    timeouts: sum((result) => result.timeouts),
    autocannonLatency: outcomes.map(({ result }) => ({
      p50: result.latency.p50,
      p99: result.latency.p99,
      average: result.latency.average,
      max: result.latency.max,
    })),
    ...usage,
  };
}

/**
 * The purchase floor's two rows, each floor a process of its own on its own file (so that the
 * platform's memory is measured without theirs): one floor alone, then two at once, both cores
 * used, nothing shared, no coordination, which no deployment of one ledger gets for free. A
 * row's server CPU is its floors' sum, its RSS the larger of theirs.
 */
async function runFloors(
  fixture: Fixture,
  options: ApiBenchOptions,
): Promise<{ floor: LoadRow; floorPair: LoadRow }> {
  const start = () =>
    ServerChild.start(
      {
        floor: {
          dataDir: tempDir('mite-bench-floor-'),
          userTokens: fixture.userTokens,
          fundingMicros: fundingMicros.toString(),
        },
      },
      options.serverExecArgv ?? [],
    );
  const first = await start();
  const second = await start();
  try {
    const urls = [(await first.floorReady()).floorUrl, (await second.floorReady()).floorUrl];
    const firstSampler = new ServerSampler(first.pid);
    const secondSampler = new ServerSampler(second.pid);
    const spec = (route: string): RunSpec => ({
      kind: 'ceiling',
      route,
      seconds: options.maxSeconds,
      connections: options.connections,
      requests: () => [floorRequest(fixture)],
    });
    const floor = await runLoad(urls.slice(0, 1), spec(floorRoute), firstSampler);
    secondSampler.start();
    const pair = await runLoad(urls, spec(floorPairRoute), firstSampler);
    const secondUsage = secondSampler.stop();
    const { cpuPercent, rssMaxBytes, ...rest } = pair;
    const floorPair: LoadRow = {
      ...rest,
      ...(cpuPercent === undefined || secondUsage.cpuPercent === undefined
        ? {}
        : { cpuPercent: cpuPercent + secondUsage.cpuPercent }),
      ...(rssMaxBytes === undefined || secondUsage.rssMaxBytes === undefined
        ? {}
        : { rssMaxBytes: Math.max(rssMaxBytes, secondUsage.rssMaxBytes) }),
    };
    return { floor, floorPair };
  } finally {
    await Promise.all([first.stop(), second.stop()]);
  }
}

// --- correctness -------------------------------------------------------------------------------

/** Sends each unanswered purchase again, with its Idempotency-Key: at most one purchase each. */
async function resendUnanswered(
  baseUrl: string,
  book: PurchaseBook,
): Promise<{ resent: number; answered: number; replayed: number }> {
  const purchases = [...book.unanswered].map(purchaseOf);
  book.unanswered.clear();
  let answered = 0;
  let replayed = 0;
  for (const purchase of purchases) {
    const response = await fetch(`${baseUrl}/v1/payments`, {
      method: 'POST',
      headers: purchaseHeaders(purchase),
      body: JSON.stringify({ offerId: purchase.offerId }),
    });
    await response.arrayBuffer();
    if (response.ok) {
      answered++;
      if (response.headers.get('idempotent-replayed') === 'true') replayed++;
    } else {
      book.refuse(response.status);
    }
  }
  return { resent: purchases.length, answered, replayed };
}

function microsOf(amount: string): bigint {
  const parsed = parseAmount(amount);
  if (!parsed.ok) throw new Error(`a wallet balance that is not an amount: ${amount}`);
  return parsed.value;
}

/** What every user's wallet spent, read through the API. */
async function spentThroughApi(fixture: Fixture): Promise<bigint> {
  let spent = 0n;
  for (const token of fixture.userTokens) {
    const response = await fetch(`${fixture.baseUrl}/v1/wallet`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await response.json()) as { balance?: string; reserved?: string };
    if (!response.ok || body.balance === undefined) {
      throw new Error(`GET /v1/wallet answered ${response.status}: ${JSON.stringify(body)}`);
    }
    if (body.reserved !== undefined && microsOf(body.reserved) !== 0n) {
      throw new Error(`a wallet still has ${body.reserved} reserved after the runs`);
    }
    spent += fundingMicros - microsOf(body.balance);
  }
  return spent;
}

// --- the benchmark -----------------------------------------------------------------------------

function checkOptions(options: ApiBenchOptions): void {
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer`);
  };
  positive('users', options.users);
  positive('offers', options.offers);
  positive('connections', options.connections);
  positive('paceSlices', options.paceSlices);
  for (const name of ['peerSeconds', 'maxSeconds', 'halfSeconds'] as const) {
    positive(name, options[name]);
  }
  if (!(options.warmupSeconds >= 0)) throw new Error('warmupSeconds must not be negative');
}

function describeRow(r: LoadRow): string {
  const target = r.targetRate === undefined ? '' : ` (target ${formatInteger(r.targetRate)}/s)`;
  return `${r.route} ${r.kind}${target}: ${formatInteger(r.requests)} in ${formatSeconds(r.seconds)} s = ${formatInteger(r.rate)}/s, p50 ${formatMs(r.p50Ms)} ms, p99 ${formatMs(r.p99Ms)} ms, non-2xx ${r.non2xx}`;
}

/** Starts the server, runs every measurement, checks correctness and the budgets. */
export async function runApiBench(options: ApiBenchOptions): Promise<ApiBenchReport> {
  checkOptions(options);
  const log = options.log ?? (() => {});
  const loadAtStart = loadavg()[0] ?? 0;
  const priceMicros = microsOf(price);
  // First, while the machine is quiet: the load runs leave it busy for a while.
  const coldStart = await measureColdStart(options.coldStartRuns);
  log(
    `cold start of the built mite serve: fresh ${coldStart.freshMs.map(formatInteger).join(', ')} ms; restart ${coldStart.restartMs.map(formatInteger).join(', ')} ms`,
  );
  const server = await ServerChild.start(
    {
      dataDir: tempDir('mite-bench-api-'),
      users: options.users,
      offers: options.offers,
      price,
      fundingMicros: fundingMicros.toString(),
    },
    options.serverExecArgv ?? [],
  );
  try {
    const ready = await server.ready();
    log(
      `server ${ready.baseUrl} (pid ${ready.pid}): seeded ${ready.userTokens.length} users and ${ready.offerIds.length} offers in ${formatSeconds(ready.seedSeconds)} s`,
    );
    const fixture: Fixture = ready;
    const sampler = new ServerSampler(server.pid);
    const book = new PurchaseBook();
    const { connections } = options;
    const wallet = (kind: RowKind, seconds: number): RunSpec => ({
      kind,
      route: peerRoute,
      seconds,
      connections,
      requests: () => [walletRequest(fixture)],
    });
    const purchases = (kind: RowKind, seconds: number, targetRate?: number): RunSpec => ({
      kind,
      route: purchaseRoute,
      seconds,
      connections,
      requests: () => [purchaseRequest(fixture, book, kind)],
      ...(targetRate === undefined ? {} : { targetRate, slices: options.paceSlices }),
    });

    const warmup: LoadRow[] = [];
    if (options.warmupSeconds > 0) {
      const seconds = Math.max(1, Math.round(options.warmupSeconds));
      warmup.push(await runLoad(fixture.baseUrl, wallet('peer', seconds), sampler));
      warmup.push(await runLoad(fixture.baseUrl, purchases('max', seconds), sampler));
      log(`warmed up (not reported): ${warmup.map(describeRow).join('; ')}`);
    }

    const rows: LoadRow[] = [];
    const ceiling = await runLoad(
      ready.ceilingUrl,
      {
        kind: 'ceiling',
        route: ceilingRoute,
        seconds: options.peerSeconds,
        connections,
        requests: () => [{ method: 'GET', path: '/ceiling' }],
      },
      sampler,
    );
    rows.push(ceiling);
    log(describeRow(ceiling));
    const { floor, floorPair } = await runFloors(fixture, options);
    rows.push(floor, floorPair);
    log(describeRow(floor));
    log(describeRow(floorPair));
    const peer = await runLoad(fixture.baseUrl, wallet('peer', options.peerSeconds), sampler);
    rows.push(peer);
    log(describeRow(peer));
    const peerComparison = (rate: number): PeerComparison => ({
      label: peerRoute,
      rate: peer.rate,
      ratio: rate / peer.rate,
    });
    const maxRun = await runLoad(fixture.baseUrl, purchases('max', options.maxSeconds), sampler);
    const max: LoadRow = { ...maxRun, peer: peerComparison(maxRun.rate) };
    rows.push(max);
    log(describeRow(max));
    const halfRate = Math.max(1, Math.round(max.rate / 2));
    const half = await runLoad(
      fixture.baseUrl,
      purchases('half', options.halfSeconds, halfRate),
      sampler,
    );
    rows.push(half);
    log(describeRow(half));

    // Answers still on their way when autocannon stopped, then what was never answered.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const resend = await resendUnanswered(fixture.baseUrl, book);
    const purchasesDone = book.answered + resend.answered;
    const spentMicros = await spentThroughApi(fixture);
    const expectedSpentMicros = BigInt(purchasesDone) * priceMicros;
    const balance: BalanceCheck = {
      users: fixture.userTokens.length,
      priceMicros,
      answered: book.answered,
      resent: resend.resent,
      resentReplayed: resend.replayed,
      refused: book.refused,
      purchases: purchasesDone,
      expectedSpentMicros,
      spentMicros,
      ok: spentMicros === expectedSpentMicros,
    };
    const verified = await server.verify();
    const { type: _type, ...verify } = verified;
    log(
      `checked: ${formatInteger(purchasesDone)} purchases, ledger verify ${verify.ok ? 'clean' : 'NOT clean'} in ${formatSeconds(verify.seconds)} s`,
    );

    const all = [...warmup, ...rows];
    // The platform's process only: the floors ran in processes of their own.
    const platformRows = all.filter((r) => r !== floor && r !== floorPair);
    const rssSamples = platformRows.flatMap((r) =>
      r.rssMaxBytes === undefined ? [] : [r.rssMaxBytes],
    );
    const rssMaxBytes = rssSamples.length === 0 ? undefined : Math.max(...rssSamples);
    const notes = [
      `rate limits raised for the benchmark (they still run); ${fixture.userTokens.length} users, ${fixture.offerIds.length} offers at ${price}, accessPeriodSeconds 0`,
      `half: ${half.instances} autocannon instances started evenly across one second, ${formatInteger(halfRate)}/s in all`,
      `ceiling: a bare fastify route in the server process (no plugins, no database) answered ${formatInteger(ceiling.rate)}/s; purchases ran at ${formatRatio(max.rate / ceiling.rate)} of it`,
      `floor: the least a durable signed purchase costs (bench/src/purchase-floor.ts: fastify, one SQLite transaction and one fsync per event-loop turn, an Ed25519 signature; no platform layers) answered ${formatInteger(floor.rate)}/s; purchases ran at ${formatRatio(max.rate / floor.rate)} of it, the budget asks for ${formatRatio(purchasesBudgetFloorRatio)}`,
      `floor, two processes: two floors on separate files loaded at once answered ${formatInteger(floorPair.rate)}/s together, which no deployment with one ledger reaches`,
    ];
    notes.push(
      `1-minute load average ${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end (${cpus().length} cores; the benchmark itself keeps about 2 busy)`,
    );
    if (rssMaxBytes === undefined) notes.push('server RSS and CPU not sampled: no /proc');
    return {
      rows,
      warmup,
      budgets: [
        ...checkBudgets({ max, half, floor, floorPair }, rssMaxBytes),
        checkColdStart(coldStart),
      ],
      checks: checkCorrectness(all, balance, verify),
      balance,
      verify,
      server: {
        seedSeconds: ready.seedSeconds,
        ...(rssMaxBytes === undefined ? {} : { rssMaxBytes }),
      },
      coldStart,
      notes,
    };
  } finally {
    await server.stop();
  }
}

function checkBudgets(
  runs: { max: LoadRow; half: LoadRow; floor: LoadRow; floorPair: LoadRow },
  rssMaxBytes: number | undefined,
): BudgetCheck[] {
  const { max, half, floor, floorPair } = runs;
  return [
    {
      name: `purchases >= ${formatRatio(purchasesBudgetFloorRatio)} of the purchase floor`,
      status: max.rate >= purchasesBudgetFloorRatio * floor.rate ? 'PASS' : 'FAIL',
      detail: `${formatRatio(max.rate / floor.rate)}: ${formatInteger(max.rate)}/s with ${max.connections} connections, the floor ${formatInteger(floor.rate)}/s (${formatInteger(floorPair.rate)}/s in two processes); ${formatRatio(max.peer?.ratio ?? Number.NaN)} of ${peerRoute}`,
    },
    {
      name: `purchase p99 <= ${p99BudgetMs} ms at half load`,
      status: half.p99Ms <= p99BudgetMs ? 'PASS' : 'FAIL',
      detail: `p99 ${formatMs(half.p99Ms)} ms (p50 ${formatMs(half.p50Ms)} ms) at ${formatInteger(half.rate)}/s`,
    },
    rssMaxBytes === undefined
      ? { name: 'server RSS <= 256 MB under load', status: 'SKIP', detail: 'no /proc' }
      : {
          name: 'server RSS <= 256 MB under load',
          status: rssMaxBytes <= rssBudgetBytes ? 'PASS' : 'FAIL',
          detail: `max ${formatMegabytes(rssMaxBytes)} MB over every run of the platform`,
        },
  ];
}

/** The median start of each kind, the slower of the two against the budget. */
function checkColdStart(report: ColdStartReport): BudgetCheck {
  const fresh = median(report.freshMs);
  const restart = median(report.restartMs);
  return {
    name: `cold start to ready <= ${coldStartBudgetMs / 1000} s`,
    status: Math.max(fresh, restart) <= coldStartBudgetMs ? 'PASS' : 'FAIL',
    detail: `built mite serve to its banner (/healthz then 200), median of ${report.freshMs.length}: fresh data ${formatInteger(fresh)} ms, restart ${formatInteger(restart)} ms`,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] ?? Number.NaN;
  return ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
}

function checkCorrectness(
  runs: readonly LoadRow[],
  balance: BalanceCheck,
  verify: Omit<ServerVerify, 'type'>,
): CorrectnessCheck[] {
  const non2xx = runs.reduce((n, r) => n + r.non2xx, 0);
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const byStatus = (counts: Record<string, number>) =>
    Object.entries(counts)
      .filter(([status]) => !status.startsWith('2'))
      .map(([status, count]) => `${count} x ${status}`)
      .join(', ');
  const statuses = runs
    .filter((r) => r.non2xx > 0)
    .map((r) => `${r.route} ${r.kind}: ${byStatus(r.statusCodes)}`);
  const refused = byStatus(balance.refused);
  const succeeded = verify.payments.succeeded ?? 0;
  const others = Object.entries(verify.payments)
    .filter(([state]) => state !== 'succeeded')
    .map(([state, count]) => `${count} ${state}`);
  return [
    {
      name: 'no non-2xx answers, no connection errors',
      ok: non2xx === 0 && refused === '' && errors === 0,
      detail: `${non2xx} non-2xx in the runs (warm-up included)${statuses.length === 0 ? '' : ` (${statuses.join('; ')})`}${refused === '' ? '' : `; purchases refused: ${refused}`}; ${errors} connection errors`,
    },
    {
      name: 'wallet balances went down by purchases x price',
      ok: balance.ok,
      detail: `${formatInteger(balance.purchases)} purchases (${formatInteger(balance.answered)} answered 2xx + ${balance.resent} re-sent after the runs, ${balance.resentReplayed} of them replayed) x ${formatMicros(balance.priceMicros)} = ${formatMicros(balance.expectedSpentMicros)}; spent over ${balance.users} wallets through GET /v1/wallet: ${formatMicros(balance.spentMicros)}`,
    },
    {
      name: 'payments table agrees',
      ok: succeeded === balance.purchases && others.length === 0,
      detail: `${formatInteger(succeeded)} succeeded${others.length === 0 ? '' : `, ${others.join(', ')}`}`,
    },
    {
      name: 'ledger verify clean',
      ok: verify.ok,
      detail: verify.ok
        ? `in ${formatSeconds(verify.seconds)} s`
        : `${verify.problems.length} problems, first: ${verify.problems[0] ?? ''}`,
    },
  ];
}

// --- report ------------------------------------------------------------------------------------

function formatMs(ms: number): string {
  return Number.isNaN(ms) ? '-' : ms.toFixed(ms < 10 ? 2 : 1);
}

function formatMegabytes(bytes: number | undefined): string {
  return bytes === undefined ? '-' : (bytes / (1024 * 1024)).toFixed(0);
}

function formatPercent(percent: number | undefined): string {
  return percent === undefined ? '-' : `${percent.toFixed(0)}%`;
}

function formatMicros(micros: bigint): string {
  const whole = micros / 1_000_000n;
  const fraction = (micros % 1_000_000n)
    .toString()
    .padStart(6, '0')
    .replace(/0{1,4}$/, '');
  return `${whole}.${fraction}`;
}

function rowLabel(r: LoadRow): string {
  if (r.kind === 'ceiling') return `${r.route} (ceiling)`;
  if (r.kind === 'peer') return `${r.route} (peer)`;
  if (r.kind === 'max') return `${r.route}`;
  return `${r.route} at half (${formatInteger(r.targetRate ?? 0)}/s)`;
}

/** The one table, the budget lines, the correctness checks and the notes. */
export function formatApiReport(report: ApiBenchReport): string {
  const columns: Column[] = [
    { header: 'route' },
    { header: 'connections', align: 'right' },
    { header: 'req/s', align: 'right' },
    { header: 'p50 ms', align: 'right' },
    { header: 'p99 ms', align: 'right' },
    { header: 'non-2xx', align: 'right' },
    { header: 'peer req/s', align: 'right' },
    { header: 'ratio', align: 'right' },
    { header: 'server RSS MB', align: 'right' },
    { header: 'server CPU', align: 'right' },
    { header: 'client CPU', align: 'right' },
  ];
  const cells = report.rows.map((r) => [
    rowLabel(r),
    String(r.connections),
    formatInteger(r.rate),
    formatMs(r.p50Ms),
    formatMs(r.p99Ms),
    formatInteger(r.non2xx),
    r.peer === undefined ? '-' : formatInteger(r.peer.rate),
    r.peer === undefined ? '-' : formatRatio(r.peer.ratio),
    formatMegabytes(r.rssMaxBytes),
    formatPercent(r.cpuPercent),
    formatPercent(r.clientCpuPercent),
  ]);
  const lines = [formatTable(columns, cells), ''];
  lines.push(
    `peer: ${peerRoute}, measured in the same run. CPU: busy time over wall time, 100% = one core (server: the platform's process, or the floors'; client: autocannon).`,
    `servers (platform and floors) run with node ${serverNodeFlags.join(' ')}, as npm start runs Mite.`,
  );
  lines.push('', ...verdictLines(report));
  return lines.join('\n');
}

/** `npm run bench -- api [--quick]`: runs, prints the table and budgets, writes the JSON. */
export async function apiBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const base = args.quick ? apiBenchQuick : apiBenchDefaults;
  const profile = serverProfile();
  const startedAt = new Date();
  console.error(`api benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(base)}`);
  const report = await runApiBench({
    ...base,
    serverExecArgv: profile.execArgv,
    log: progressLog(startedAt),
  });
  console.log(formatApiReport(report));
  saveRun({ name: 'api', quick: args.quick, startedAt, options: base }, report);
  if (profile.dir !== undefined) {
    console.log(`server CPU profile: ${profile.dir} (summarise with cpuprofile-summary.ts)`);
  }
  failOnWrongChecks('API', report.checks);
}
