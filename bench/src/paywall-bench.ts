/**
 * The paywall benchmark (DESIGN.md section 11, "merchant route paid vs unpaid"): requests per
 * second of a merchant route behind `withPaywall` when each request carries a valid credential,
 * against the same route without payment measured in the same run; and the paywall's
 * verification alone, in process, against a raw Ed25519 verify ceiling.
 *
 * The merchant app runs in a child process (paywall-bench-server.ts) so that it and the load
 * generator (autocannon, in this process) do not share an event loop: node:http, `withPaywall`,
 * `GET /paid/article` priced 0.02 as a ticket (`accessPeriodSeconds` 86,400, so one credential
 * opens it again and again) and `GET /free/article` not priced, both answered by the same handler
 * with the same 1 KiB article. This process stands in for the platform (the middleware's
 * test-platform.ts): a fresh Ed25519 key, its JWKS served on loopback, receipts signed as the
 * platform signs them (compact JWS, EdDSA, typ `mite-receipt+jwt`, kid the RFC 7638 thumbprint).
 *
 * Credentials: `credentials` times, a challenge read from the child's 402 (`WWW-Authenticate`) and
 * a receipt signed for it (each its own payment id), formatted as `Authorization: Payment`. The
 * paid runs cycle through them: autocannon builds the fixed requests once, so the client does the
 * same work per request for every row. Before every paid run (warm-up included) each credential
 * must answer 200 with a `Payment-Receipt` header, or the benchmark stops.
 *
 * Each HTTP row runs `connections` keep-alive connections for `httpSeconds`, after a warm-up of
 * both routes (`warmupSeconds` each, not reported):
 * - peer: `GET /free/article`;
 * - `GET /paid/article` with a valid credential (must see no non-2xx);
 * - `GET /paid/article` without payment: the 402 with a fresh challenge, for information.
 * Latency percentiles are of every answer's response time (autocannon's `response` event). The
 * child's RSS and CPU time are sampled from /proc/<pid> during every run.
 *
 * Then in this process, no HTTP, for `inProcessSeconds` each, against the same ceiling:
 * - `handle()` of a paywall configured exactly like the child's, on paid requests (the same
 *   credentials), one call at a time, and with `inFlight` calls in flight (as a server sees them).
 *   After its first showing a credential is in the paywall's cache of verified credentials, so
 *   these rows measure the cached path, as the HTTP paid row does;
 * - `handle()` on the first showing of each credential, one at a time: receipts signed up front
 *   (as many as the ceiling could verify in `inProcessSeconds`, at most `firstUseCredentialsMax`),
 *   their headers flat strings as node:http gives them, each presented once, so every call decodes
 *   the credential, checks the challenge's HMAC and verifies the signature: the uncached cost;
 * - ceiling: `crypto.verify(null, data, publicKey, signature)` of the same receipts, their signing
 *   input and signature decoded beforehand, one after another.
 * The paywall verifies receipts with node:crypto's one-shot Ed25519 verify on the calling thread.
 *
 * Budgets are reported, never turned into an exit code; a failed correctness check (a paid
 * request refused, an unpaid one not 402, connection errors) fails the benchmark after the report.
 *
 * `MITE_BENCH_SERVER_CPU_PROF=DIR` runs the merchant child with `--cpu-prof --cpu-prof-dir=DIR`
 * (summarise the profile with cpuprofile-summary.ts; its main thread's file is the `.0.001` one,
 * the other is tsx's loader thread).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Paywall, PaywallRequest } from '@mite/middleware';
import { type Challenge, formatCredentialHeader, parseChallengeHeader } from '@mite/protocol';
import {
  startTestPlatform,
  signReceipt,
  type TestPlatform,
} from '../../packages/middleware/src/test-platform.ts';
import {
  accessPeriodSeconds,
  articleBytes,
  articlePrice,
  createBenchPaywall,
  freePath,
  type MerchantConfig,
  type MerchantReady,
  paidPath,
} from './paywall-bench-server.ts';
import {
  autocannon,
  type CannonRequest,
  type CannonOptions,
  type CannonResult,
} from './autocannon.ts';
import { ServerSampler, type ServerUsage } from './process-usage.ts';
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

export interface PaywallBenchOptions {
  /** Keep-alive connections of every HTTP run. */
  readonly connections: number;
  /** Per route before the measured HTTP runs; a quarter of it (at most 0.5 s) per in-process loop. */
  readonly warmupSeconds: number;
  /** Each HTTP row. */
  readonly httpSeconds: number;
  /** Each in-process row. */
  readonly inProcessSeconds: number;
  /** `handle()` calls in flight in the concurrent in-process row. */
  readonly inFlight: number;
  /** Distinct valid credentials the paid requests cycle through. */
  readonly credentials: number;
  /** Progress lines as runs finish (default: silent). */
  readonly log?: (line: string) => void;
  /** Extra node options for the merchant child (e.g. `--cpu-prof`). */
  readonly serverExecArgv?: readonly string[];
}

/** About 50 s. */
export const paywallBenchDefaults: PaywallBenchOptions = {
  connections: 32,
  warmupSeconds: 2,
  httpSeconds: 10,
  inProcessSeconds: 3,
  inFlight: 32,
  credentials: 16,
};

/** About 12 s. */
export const paywallBenchQuick: PaywallBenchOptions = {
  ...paywallBenchDefaults,
  warmupSeconds: 1,
  httpSeconds: 2,
  inProcessSeconds: 1,
};

export type HttpRowKind = 'peer' | 'paid' | 'unpaid';

export type { ServerUsage } from './process-usage.ts';

export interface Comparison {
  readonly label: string;
  readonly rate: number;
  /** This row's rate over the compared one's. */
  readonly ratio: number;
}

export interface HttpRow extends ServerUsage {
  readonly kind: HttpRowKind;
  readonly label: string;
  readonly connections: number;
  readonly seconds: number;
  /** Responses received. */
  readonly requests: number;
  /** Responses per second. */
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
  /** autocannon's own latency summary (integer ms). */
  readonly autocannonLatency: { p50: number; p99: number; average: number; max: number };
  readonly peer?: Comparison;
}

export type LoopRowKind = 'handleSequential' | 'handleConcurrent' | 'handleFirstUse' | 'ceiling';

export interface LoopRow {
  readonly kind: LoopRowKind;
  readonly label: string;
  /** Calls in flight (1: one after another). */
  readonly inFlight: number;
  readonly seconds: number;
  readonly operations: number;
  readonly rate: number;
  /** This process's CPU time over the loop's wall time (100 = one core busy). */
  readonly cpuPercent: number;
  readonly ceiling?: Comparison;
}

export type { BudgetCheck, BudgetStatus, CorrectnessCheck } from './run.ts';

export interface PaywallBenchReport {
  /** peer, paid, unpaid. */
  readonly http: HttpRow[];
  readonly warmup: HttpRow[];
  /** handle() one at a time, handle() with calls in flight, the verify ceiling. */
  readonly inProcess: LoopRow[];
  /** handle() on the first showing of each credential (nothing cached), one at a time. */
  readonly firstUse: LoopRow;
  readonly budgets: BudgetCheck[];
  readonly checks: CorrectnessCheck[];
  readonly server: { readonly startSeconds: number; readonly rssMaxBytes?: number };
  readonly notes: string[];
}

// --- budgets (DESIGN.md section 11) ------------------------------------------------------------

const paidOverUnpaidBudget = 0.7;

const peerLabel = `GET ${freePath} (peer)`;
const paidLabel = `GET ${paidPath} with a valid credential`;
const unpaidLabel = `GET ${paidPath} without payment (402)`;
const ceilingLabel = 'Ed25519 verify, node:crypto (ceiling)';
/** The most receipts signed up front for the first-use row. */
const firstUseCredentialsMax = 20_000;

// --- the merchant child ------------------------------------------------------------------------

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const serverScript = fileURLToPath(new URL('./paywall-bench-server.ts', import.meta.url));

/** The merchant app in a child process: its ready line, and `exit` on stdin. */
class MerchantChild {
  private readonly exitPromise: Promise<void>;
  private exited: Error | undefined;
  private readonly killOnExit = () => this.child.kill('SIGKILL');
  private readonly readyPromise: Promise<MerchantReady>;

  private constructor(private readonly child: ChildProcess) {
    process.on('exit', this.killOnExit);
    if (child.stdout === null) throw new Error('bug: the merchant child has no stdout pipe');
    const lines = createInterface({ input: child.stdout });
    let onReady: (ready: MerchantReady) => void = () => {};
    let onExit: (error: Error) => void = () => {};
    this.readyPromise = new Promise((resolve, reject) => {
      onReady = resolve;
      onExit = reject;
    });
    lines.on('line', (line) => {
      try {
        const message = JSON.parse(line) as MerchantReady;
        if (message.type === 'ready') return onReady(message);
      } catch {
        // Not a message: passed on below.
      }
      process.stderr.write(`paywall-bench-server (stdout): ${line}\n`);
    });
    this.exitPromise = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        process.off('exit', this.killOnExit);
        this.exited = new Error(`the merchant child exited (${signal ?? `code ${code}`})`);
        onExit(this.exited);
        resolve();
      });
    });
  }

  static start(config: MerchantConfig, execArgv: readonly string[] = []): MerchantChild {
    const child = spawn(
      process.execPath,
      [...execArgv, '--import', 'tsx', serverScript, JSON.stringify(config)],
      { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    return new MerchantChild(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  ready(): Promise<MerchantReady> {
    return this.readyPromise;
  }

  /** Asks the child to close its server and exit; kills it if it has not within 10 s. */
  async stop(): Promise<void> {
    if (this.exited !== undefined) return;
    this.child.stdin?.end('exit\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

// --- credentials -------------------------------------------------------------------------------

interface PaidCredential {
  /** The `Authorization` value. */
  readonly header: string;
  /** The receipt inside it (compact JWS). */
  readonly receipt: string;
}

/** A fresh challenge for the paid route, as any client reads it from the 402. */
async function challengeFromServer(baseUrl: string): Promise<Challenge> {
  const response = await fetch(`${baseUrl}${paidPath}`);
  await response.arrayBuffer();
  const header = response.headers.get('www-authenticate');
  if (response.status !== 402 || header === null) {
    throw new Error(`GET ${paidPath} without payment answered ${response.status}, not a 402`);
  }
  const challenge = parseChallengeHeader(header, { nowSeconds: Math.floor(Date.now() / 1000) });
  if (!challenge.ok) throw new Error(`GET ${paidPath} sent a bad challenge: ${challenge.detail}`);
  return challenge.value;
}

/** Pays `count` challenges on the test platform: each a receipt of its own, signed now. */
async function makeCredentials(
  baseUrl: string,
  platform: TestPlatform,
  count: number,
): Promise<PaidCredential[]> {
  const credentials: PaidCredential[] = [];
  for (let i = 0; i < count; i++) {
    const challenge = await challengeFromServer(baseUrl);
    const claims = platform.claimsFor(challenge, Math.floor(Date.now() / 1000));
    const receipt = await signReceipt(claims, platform.signingKey);
    credentials.push({
      header: formatCredentialHeader({ challenge, payload: { receipt } }),
      receipt,
    });
  }
  return credentials;
}

/**
 * A header value as node:http hands it over: a flat string. Text built by concatenation (as the
 * protocol's base64url encoder builds it) is a rope in V8, which the first regular expression run
 * over it flattens at a cost no request from a socket pays.
 */
function asReceived(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/** Pays one challenge `count` times (each a payment of its own): distinct credentials. */
async function makeFreshCredentials(
  challenge: Challenge,
  platform: TestPlatform,
  count: number,
): Promise<PaidCredential[]> {
  const credentials: PaidCredential[] = [];
  for (let i = 0; i < count; i++) {
    const claims = platform.claimsFor(challenge, Math.floor(Date.now() / 1000));
    const receipt = await signReceipt(claims, platform.signingKey);
    credentials.push({
      header: asReceived(formatCredentialHeader({ challenge, payload: { receipt } })),
      receipt,
    });
  }
  return credentials;
}

/**
 * Before a paid run: every credential opens the paid route (200 and `Payment-Receipt`), the free
 * route answers 200 without one, and the paid route without payment a 402 with a challenge.
 * Throws otherwise: a run with refused credentials would measure refusals.
 */
async function checkRoutes(baseUrl: string, credentials: readonly PaidCredential[]): Promise<void> {
  for (const [i, credential] of credentials.entries()) {
    const response = await fetch(`${baseUrl}${paidPath}`, {
      headers: { authorization: credential.header },
    });
    const body = await response.text();
    if (response.status !== 200 || response.headers.get('payment-receipt') === null) {
      throw new Error(
        `credential ${i}: GET ${paidPath} answered ${response.status}${response.status === 200 ? ' without Payment-Receipt' : `: ${body}`}`,
      );
    }
    if (Buffer.byteLength(body) !== articleBytes) {
      throw new Error(`credential ${i}: the paid article is ${Buffer.byteLength(body)} bytes`);
    }
  }
  const free = await fetch(`${baseUrl}${freePath}`);
  const freeBody = await free.text();
  if (free.status !== 200 || free.headers.get('payment-receipt') !== null) {
    throw new Error(`GET ${freePath} answered ${free.status} (expected 200, no Payment-Receipt)`);
  }
  if (Buffer.byteLength(freeBody) !== articleBytes) {
    throw new Error(`the free article is ${Buffer.byteLength(freeBody)} bytes`);
  }
  await challengeFromServer(baseUrl);
}

// --- HTTP runs ---------------------------------------------------------------------------------

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
    instance.on('response', (_client, _status, _bytes, responseTimeMs) => {
      latencies.push(responseTimeMs);
    });
  });
}

/** Nearest rank on sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1] ?? Number.NaN;
}

interface HttpSpec {
  readonly kind: HttpRowKind;
  readonly label: string;
  readonly seconds: number;
  readonly connections: number;
  readonly requests: CannonRequest[];
}

async function runHttp(baseUrl: string, spec: HttpSpec, sampler: ServerSampler): Promise<HttpRow> {
  sampler.start();
  const { result, latencies } = await runInstance({
    url: baseUrl,
    connections: spec.connections,
    duration: spec.seconds,
    // autocannon builds fixed requests once and each connection cycles through them.
    requests: spec.requests.map((request) => ({ ...request })),
  });
  const usage = sampler.stop();
  const sorted = Float64Array.from(latencies).sort();
  const statusCodes: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) {
    statusCodes[status] = count;
  }
  return {
    kind: spec.kind,
    label: spec.label,
    connections: spec.connections,
    seconds: result.duration,
    requests: result.requests.total,
    rate: result.requests.total / result.duration,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    autocannonLatency: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      average: result.latency.average,
      max: result.latency.max,
    },
    ...usage,
  };
}

// --- in-process loops --------------------------------------------------------------------------

function paidRequests(credentials: readonly PaidCredential[]): PaywallRequest[] {
  return credentials.map((credential) => ({
    method: 'GET',
    url: paidPath,
    headers: { host: '127.0.0.1', authorization: credential.header },
  }));
}

async function handlePaid(paywall: Paywall, request: PaywallRequest): Promise<void> {
  const outcome = await paywall.handle(request);
  if (outcome.kind !== 'paid') {
    const detail = 'code' in outcome ? ` (${outcome.code})` : '';
    throw new Error(`handle() on a paid request answered ${outcome.kind}${detail}`);
  }
  outcome.settle(200);
}

interface LoopMeasure {
  readonly seconds: number;
  readonly operations: number;
  readonly cpuPercent: number;
}

async function measure(run: () => Promise<number>): Promise<LoopMeasure> {
  const cpuAtStart = process.cpuUsage();
  const startedAt = performance.now();
  const operations = await run();
  const seconds = (performance.now() - startedAt) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  return { seconds, operations, cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100 };
}

/** `handle()` on paid requests for `seconds`, `inFlight` calls at a time. */
function handleLoop(
  paywall: Paywall,
  requests: readonly PaywallRequest[],
  inFlight: number,
  seconds: number,
): Promise<LoopMeasure> {
  return measure(async () => {
    const endAt = performance.now() + seconds * 1000;
    let operations = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, lane) => {
        let next = lane;
        while (performance.now() < endAt) {
          await handlePaid(paywall, requests[next++ % requests.length] as PaywallRequest);
          operations++;
        }
      }),
    );
    return operations;
  });
}

/** `handle()` on each request once, one at a time, for at most `seconds`. */
function firstUseLoop(
  paywall: Paywall,
  requests: readonly PaywallRequest[],
  seconds: number,
): Promise<LoopMeasure> {
  return measure(async () => {
    const endAt = performance.now() + seconds * 1000;
    let operations = 0;
    while (operations < requests.length && performance.now() < endAt) {
      await handlePaid(paywall, requests[operations] as PaywallRequest);
      operations++;
    }
    return operations;
  });
}

/** A challenge for the paid route from the in-process paywall (the child's secret and realm). */
async function challengeInProcess(paywall: Paywall): Promise<Challenge> {
  const outcome = await paywall.handle({ method: 'GET', url: paidPath, headers: {} });
  if (outcome.kind !== 'paymentRequired') {
    throw new Error(`handle() on ${paidPath} without payment answered ${outcome.kind}`);
  }
  const header = outcome.headers['WWW-Authenticate'] ?? '';
  const challenge = parseChallengeHeader(header, { nowSeconds: Math.floor(Date.now() / 1000) });
  if (!challenge.ok) throw new Error(`handle() sent a bad challenge: ${challenge.detail}`);
  return challenge.value;
}

interface SignedInput {
  readonly data: Buffer;
  readonly signature: Buffer;
}

/** A compact JWS's signing input and signature, decoded once, outside the measured loop. */
function signedInput(jws: string): SignedInput {
  const [header, payload, signature] = jws.split('.');
  if (header === undefined || payload === undefined || signature === undefined) {
    throw new Error('a receipt that is not a compact JWS');
  }
  return {
    data: Buffer.from(`${header}.${payload}`, 'ascii'),
    signature: Buffer.from(signature, 'base64url'),
  };
}

/** The ceiling: node:crypto's one-shot Ed25519 verify of the receipts, one after another. */
function verifyLoop(
  publicKey: KeyObject,
  inputs: readonly SignedInput[],
  seconds: number,
): Promise<LoopMeasure> {
  return measure(() => {
    const endAt = performance.now() + seconds * 1000;
    let operations = 0;
    while (performance.now() < endAt) {
      for (let i = 0; i < 16; i++) {
        const input = inputs[operations % inputs.length] as SignedInput;
        if (!verify(null, input.data, publicKey, input.signature)) {
          throw new Error('a receipt signature did not verify with node:crypto');
        }
        operations++;
      }
    }
    return Promise.resolve(operations);
  });
}

// --- the benchmark -----------------------------------------------------------------------------

function checkOptions(options: PaywallBenchOptions): void {
  const positive = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer`);
  };
  positive('connections', options.connections);
  positive('httpSeconds', options.httpSeconds);
  positive('inFlight', options.inFlight);
  positive('credentials', options.credentials);
  if (!(options.inProcessSeconds > 0)) throw new Error('inProcessSeconds must be positive');
  if (!(options.warmupSeconds >= 0)) throw new Error('warmupSeconds must not be negative');
}

function describeHttp(r: HttpRow): string {
  return `${r.label}: ${formatInteger(r.requests)} in ${formatSeconds(r.seconds)} s = ${formatInteger(r.rate)}/s, p50 ${formatMs(r.p50Ms)} ms, p99 ${formatMs(r.p99Ms)} ms, non-2xx ${r.non2xx}, errors ${r.errors}`;
}

function describeLoop(r: LoopRow): string {
  return `${r.label}: ${formatInteger(r.operations)} in ${formatSeconds(r.seconds)} s = ${formatInteger(r.rate)}/s, CPU ${formatPercent(r.cpuPercent)}`;
}

function loopRow(
  kind: LoopRowKind,
  label: string,
  inFlight: number,
  measured: LoopMeasure,
): LoopRow {
  return { kind, label, inFlight, ...measured, rate: measured.operations / measured.seconds };
}

/** Starts the platform stand-in and the merchant app, runs every measurement, checks budgets. */
export async function runPaywallBench(options: PaywallBenchOptions): Promise<PaywallBenchReport> {
  checkOptions(options);
  const log = options.log ?? (() => {});
  const loadAtStart = loadavg()[0] ?? 0;
  const platform = await startTestPlatform();
  const config: MerchantConfig = {
    platformUrl: platform.url,
    challengeSecretHex: randomBytes(32).toString('hex'),
  };
  const startedAt = performance.now();
  const server = MerchantChild.start(config, options.serverExecArgv);
  try {
    const ready = await server.ready();
    const startSeconds = (performance.now() - startedAt) / 1000;
    const { baseUrl } = ready;
    log(`merchant app ${baseUrl} (pid ${ready.pid}) ready in ${formatSeconds(startSeconds)} s`);
    const credentials = await makeCredentials(baseUrl, platform, options.credentials);
    await checkRoutes(baseUrl, credentials);
    log(`${credentials.length} credentials, each answered 200 with Payment-Receipt`);
    let routeChecks = 1;

    const sampler = new ServerSampler(server.pid);
    const { connections } = options;
    const free: CannonRequest[] = [{ method: 'GET', path: freePath }];
    const paid: CannonRequest[] = credentials.map((credential) => ({
      method: 'GET',
      path: paidPath,
      headers: { authorization: credential.header },
    }));
    const unpaid: CannonRequest[] = [{ method: 'GET', path: paidPath }];
    const spec = (kind: HttpRowKind, seconds: number): HttpSpec => ({
      kind,
      label: kind === 'peer' ? peerLabel : kind === 'paid' ? paidLabel : unpaidLabel,
      seconds,
      connections,
      requests: kind === 'peer' ? free : kind === 'paid' ? paid : unpaid,
    });

    const warmup: HttpRow[] = [];
    if (options.warmupSeconds > 0) {
      const seconds = Math.max(1, Math.round(options.warmupSeconds));
      warmup.push(await runHttp(baseUrl, spec('peer', seconds), sampler));
      warmup.push(await runHttp(baseUrl, spec('paid', seconds), sampler));
      await checkRoutes(baseUrl, credentials);
      routeChecks++;
      log(`warmed up (not reported): ${warmup.map(describeHttp).join('; ')}`);
    }

    const peer = await runHttp(baseUrl, spec('peer', options.httpSeconds), sampler);
    log(describeHttp(peer));
    const compared = (rate: number): Comparison => ({
      label: peerLabel,
      rate: peer.rate,
      ratio: rate / peer.rate,
    });
    await checkRoutes(baseUrl, credentials);
    routeChecks++;
    const paidRun = await runHttp(baseUrl, spec('paid', options.httpSeconds), sampler);
    const paidRow: HttpRow = { ...paidRun, peer: compared(paidRun.rate) };
    log(describeHttp(paidRow));
    const unpaidRun = await runHttp(baseUrl, spec('unpaid', options.httpSeconds), sampler);
    const unpaidRow: HttpRow = { ...unpaidRun, peer: compared(unpaidRun.rate) };
    log(describeHttp(unpaidRow));
    const http = [peer, paidRow, unpaidRow];

    // In process: the same paywall configuration, the same credentials, no HTTP.
    const paywall = createBenchPaywall(config);
    const requests = paidRequests(credentials);
    for (const request of requests) await handlePaid(paywall, request);
    const publicKey = createPublicKey(platform.signingKey.privateKey);
    const inputs = credentials.map((credential) => signedInput(credential.receipt));
    const loopWarmup = Math.min(0.5, options.warmupSeconds / 4);
    if (loopWarmup > 0) {
      await handleLoop(paywall, requests, options.inFlight, loopWarmup);
      await verifyLoop(publicKey, inputs, loopWarmup);
    }
    const ceiling = loopRow(
      'ceiling',
      ceilingLabel,
      1,
      await verifyLoop(publicKey, inputs, options.inProcessSeconds),
    );
    log(describeLoop(ceiling));
    const versus = (rate: number): Comparison => ({
      label: ceilingLabel,
      rate: ceiling.rate,
      ratio: rate / ceiling.rate,
    });
    const sequential = loopRow(
      'handleSequential',
      'handle(), paid, one at a time (in process, cached)',
      1,
      await handleLoop(paywall, requests, 1, options.inProcessSeconds),
    );
    log(describeLoop(sequential));
    const concurrent = loopRow(
      'handleConcurrent',
      `handle(), paid, ${options.inFlight} in flight (in process, cached)`,
      options.inFlight,
      await handleLoop(paywall, requests, options.inFlight, options.inProcessSeconds),
    );
    log(describeLoop(concurrent));
    // First showings: receipts signed up front, enough to keep the loop busy for its duration.
    const firstUseCount = Math.min(
      firstUseCredentialsMax,
      Math.max(16, Math.ceil(ceiling.rate * options.inProcessSeconds)),
    );
    const firstUseWarmup = loopWarmup > 0 ? Math.min(500, Math.ceil(firstUseCount / 4)) : 0;
    const fresh = paidRequests(
      await makeFreshCredentials(
        await challengeInProcess(paywall),
        platform,
        firstUseWarmup + firstUseCount,
      ),
    );
    if (firstUseWarmup > 0) {
      await firstUseLoop(paywall, fresh.slice(0, firstUseWarmup), loopWarmup);
    }
    const firstUseRun = loopRow(
      'handleFirstUse',
      'handle(), paid, first use of each credential (in process, uncached)',
      1,
      await firstUseLoop(paywall, fresh.slice(firstUseWarmup), options.inProcessSeconds),
    );
    const firstUse: LoopRow = { ...firstUseRun, ceiling: versus(firstUseRun.rate) };
    log(`${describeLoop(firstUse)} (${formatInteger(firstUseCount)} receipts signed up front)`);
    const inProcess: LoopRow[] = [
      { ...sequential, ceiling: versus(sequential.rate) },
      { ...concurrent, ceiling: versus(concurrent.rate) },
      ceiling,
    ];

    const all = [...warmup, ...http];
    const rssSamples = all.flatMap((r) => (r.rssMaxBytes === undefined ? [] : [r.rssMaxBytes]));
    const rssMaxBytes = rssSamples.length === 0 ? undefined : Math.max(...rssSamples);
    const notes = [
      `merchant app: node:http behind withPaywall in a child process; both routes answer the same ${articleBytes}-byte article; ${paidPath} costs ${articlePrice} with accessPeriodSeconds ${accessPeriodSeconds} (a ticket), ${credentials.length} credentials in turn`,
      `before every paid run (${routeChecks}, warm-up included) each credential answered 200 with Payment-Receipt`,
      `in process: the child's paywall configuration; the ceiling verifies the same receipts, signing input and signature decoded beforehand; handle() verifies receipts with node:crypto on the calling thread; the cached rows show the same ${credentials.length} credentials again (the paywall's cache of verified credentials; the very same strings each call, so warmer than a server's requests: the HTTP paid row is the realistic cached cost), the first-use row ${formatInteger(firstUse.operations)} distinct credentials once each (decoding, HMAC and signature every time)`,
      `server RSS max ${formatMegabytes(rssMaxBytes)} MB over every run (warm-up included)`,
      `1-minute load average ${loadAtStart.toFixed(2)} at the start, ${(loadavg()[0] ?? 0).toFixed(2)} at the end (${cpus().length} cores; server, autocannon and the thread pool share them)`,
    ];
    if (rssMaxBytes === undefined) notes.push('server RSS and CPU not sampled: no /proc');
    return {
      http,
      warmup,
      inProcess,
      firstUse,
      budgets: checkBudgets(peer, paidRow),
      checks: checkCorrectness(warmup, http),
      server: { startSeconds, ...(rssMaxBytes === undefined ? {} : { rssMaxBytes }) },
      notes,
    };
  } finally {
    await server.stop();
    await platform.close();
  }
}

function checkBudgets(peer: HttpRow, paid: HttpRow): BudgetCheck[] {
  const ratio = paid.rate / peer.rate;
  return [
    {
      name: `paid route >= ${Math.round(paidOverUnpaidBudget * 100)}% of the unpaid route`,
      status: ratio >= paidOverUnpaidBudget ? 'PASS' : 'FAIL',
      detail: `${formatInteger(paid.rate)}/s paid vs ${formatInteger(peer.rate)}/s unpaid = ${formatRatio(ratio)} (${paid.connections} connections)`,
    },
  ];
}

function checkCorrectness(
  warmup: readonly HttpRow[],
  http: readonly HttpRow[],
): CorrectnessCheck[] {
  const runs = [...warmup, ...http];
  const byStatus = (counts: Record<string, number>, expected: string) =>
    Object.entries(counts)
      .filter(([status]) => status !== expected)
      .map(([status, count]) => `${count} x ${status}`)
      .join(', ');
  const answeredOnly = (kind: HttpRowKind, expected: string) => {
    const rows = runs.filter((r) => r.kind === kind);
    const others = rows.map((r) => byStatus(r.statusCodes, expected)).filter((s) => s !== '');
    const requests = rows.reduce((n, r) => n + r.requests, 0);
    return {
      ok: others.length === 0,
      detail: `${formatInteger(requests)} answers${others.length === 0 ? '' : `; others: ${others.join('; ')}`}`,
    };
  };
  const paidNon2xx = runs.filter((r) => r.kind === 'paid').reduce((n, r) => n + r.non2xx, 0);
  const errors = runs.reduce((n, r) => n + r.errors, 0);
  const timeouts = runs.reduce((n, r) => n + r.timeouts, 0);
  return [
    {
      name: 'paid requests: no non-2xx',
      ok: paidNon2xx === 0 && answeredOnly('paid', '200').ok,
      detail: `${paidNon2xx} non-2xx (warm-up included); ${answeredOnly('paid', '200').detail}`,
    },
    { name: 'free requests: all 200', ...answeredOnly('peer', '200') },
    { name: 'unpaid requests: all 402', ...answeredOnly('unpaid', '402') },
    {
      name: 'no connection errors',
      ok: errors === 0,
      detail: `${errors} errors (${timeouts} timeouts) over every run`,
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

/** The one table, the budget line, the correctness checks and the notes. */
export function formatPaywallReport(report: PaywallBenchReport): string {
  const columns: Column[] = [
    { header: 'what' },
    { header: 'conns', align: 'right' },
    { header: 'per second', align: 'right' },
    { header: 'p50 ms', align: 'right' },
    { header: 'p99 ms', align: 'right' },
    { header: 'non-2xx', align: 'right' },
    { header: 'peer/ceiling /s', align: 'right' },
    { header: 'ratio', align: 'right' },
    { header: 'server RSS MB', align: 'right' },
    { header: 'server CPU', align: 'right' },
    { header: 'bench CPU', align: 'right' },
  ];
  const httpCells = report.http.map((r) => [
    r.label,
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
  const [sequential, concurrent, ...rest] = report.inProcess;
  const loops = [sequential, concurrent, report.firstUse, ...rest].filter(
    (r): r is LoopRow => r !== undefined,
  );
  const loopCells = loops.map((r) => [
    r.label,
    r.inFlight === 1 ? '-' : String(r.inFlight),
    formatInteger(r.rate),
    '-',
    '-',
    '-',
    r.ceiling === undefined ? '-' : formatInteger(r.ceiling.rate),
    r.ceiling === undefined ? '-' : formatRatio(r.ceiling.ratio),
    '-',
    '-',
    formatPercent(r.cpuPercent),
  ]);
  const lines = [formatTable(columns, [...httpCells, ...loopCells]), ''];
  lines.push(
    `HTTP rows: ratio to ${peerLabel.replace(' (peer)', '')}, measured in the same run; conns = keep-alive connections. In-process rows: ratio to the ceiling; conns = calls in flight.`,
    'CPU: busy time over wall time, 100% = one core (server: the child process; bench: this process, autocannon or the loop).',
    '',
    ...verdictLines(report),
  );
  return lines.join('\n');
}

/** `npm run bench -- paywall [--quick]`: runs, prints the table and budget, writes the JSON. */
export async function paywallBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const options = args.quick ? paywallBenchQuick : paywallBenchDefaults;
  const profile = serverProfile();
  const startedAt = new Date();
  console.error(`paywall benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(options)}`);
  const report = await runPaywallBench({
    ...options,
    serverExecArgv: profile.execArgv,
    log: progressLog(startedAt),
  });
  console.log(formatPaywallReport(report));
  saveRun({ name: 'paywall', quick: args.quick, startedAt, options }, report);
  if (profile.dir !== undefined) {
    console.log(`merchant CPU profile: ${profile.dir} (summarise with cpuprofile-summary.ts)`);
  }
  failOnWrongChecks('paywall', report.checks);
}
