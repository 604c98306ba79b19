/**
 * The streaming benchmark (issue 16, DESIGN.md section 11): what the merchant's session meter
 * costs per voucher, against the primitive each voucher costs at least, measured in the same run.
 * The report is made of sections, each its own rows, budgets and checks; `streamingSections` lists
 * them, and a section is one function over the shared options, so that another joins the list
 * without touching the others.
 *
 * The vouchers section, one voucher after another on this process's thread:
 * - ceilings: SHA-256 of one 32-byte word with node:crypto's one-shot `hash`, and with
 *   @noble/hashes (what a browser hashes with), for the PayWord rows;
 * - PayWord vouchers through `meter.acceptVoucher` (the middleware's verifier: the session read,
 *   the checks, one SHA-256, the conditional write), in the in-memory store and, for information,
 *   in a SQLite file; and whole voucher credentials through `meter.handle` (a HEAD request read as
 *   the adapters hand it over: the header decoded, the voucher taken, the receipt written), for
 *   information. Each voucher pays one unit more than the last. Budget: 200,000 a second in memory.
 * - ceiling: node:crypto's Ed25519 `verify`, with a `KeyObject`; Ed25519 vouchers through
 *   `meter.acceptVoucher`, each 1 micro-unit more, signed before timing (signing is the client's
 *   work). Budget: 0.8 of the bare verify.
 */
import { generateKeyPairSync, hash, type KeyObject, sign, verify } from 'node:crypto';
import path from 'node:path';
import {
  createMemorySessionStore,
  createSessionMeter,
  type SessionMeter,
  type SessionStore,
  type StoredSession,
} from '@mite/middleware';
import { createSqliteSessionStore } from '@mite/middleware/sqlite';
import {
  decodeBase64url,
  formatSessionCredentialHeader,
  issueSessionChallenge,
  paywordChain,
  type SessionChallenge,
  type SessionVoucher,
  sessionRequest,
  voucherMessage,
} from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import { sha256 } from '@noble/hashes/sha2.js';
import { saveRun } from './results.ts';
import { runSessionApiSection } from './session-api-bench.ts';
import {
  type BudgetCheck,
  type CorrectnessCheck,
  failOnWrongChecks,
  progressLog,
  verdictLines,
} from './run.ts';
import { formatInteger, formatRatio, formatTable } from './table.ts';

export interface StreamingBenchOptions {
  /** How long each timed row runs. */
  readonly seconds: number;
  /** Units a PayWord chain commits to (each session of the PayWord rows pays this many). */
  readonly chainLength: number;
  /** Voucher credentials timed through `meter.handle` (written before timing). */
  readonly credentials: number;
}

export const streamingBenchDefaults: StreamingBenchOptions = {
  seconds: 3,
  chainLength: 100_000,
  credentials: 20_000,
};
export const streamingBenchQuick: StreamingBenchOptions = {
  seconds: 1,
  chainLength: 50_000,
  credentials: 5_000,
};

/** The PayWord budget: vouchers verified a second on one core, in memory. */
export const paywordVouchersPerSecondMin = 200_000;
/** The Ed25519 budget: vouchers verified against bare node:crypto verifies. */
export const signedVoucherRatioMin = 0.8;

export interface Row {
  readonly name: string;
  readonly operations: number;
  readonly seconds: number;
  /** The ceiling this row is compared with (its key in the report's `ceilings`). */
  readonly against?: string;
}

export interface SectionReport {
  readonly rows: Row[];
  /** Rows by key that others are compared with. */
  readonly ceilings: Readonly<Record<string, Row>>;
  readonly budgets: BudgetCheck[];
  readonly checks: CorrectnessCheck[];
  readonly notes: string[];
}

export const rate = (row: Row): number => row.operations / row.seconds;

/** Runs `step(i)` for `seconds` (or until it answers false), timing it on the clock. */
async function timed(
  name: string,
  seconds: number,
  step: (index: number) => unknown,
): Promise<Row> {
  const startedNs = process.hrtime.bigint();
  // Infinity: until the step says it is done.
  const endNs = Number.isFinite(seconds)
    ? startedNs + BigInt(Math.round(seconds * 1e9))
    : undefined;
  let operations = 0;
  for (;;) {
    // The clock is read once per 256 operations: reading it costs as much as a hash.
    for (let batch = 0; batch < 256; batch += 1) {
      let answer = step(operations);
      if (answer instanceof Promise) answer = await answer;
      if (answer === false) return finish();
      operations += 1;
    }
    if (endNs !== undefined && process.hrtime.bigint() >= endNs) return finish();
  }
  function finish(): Row {
    return { name, operations, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9 };
  }
}

/** One of the rows `interleaved` times together. */
interface Contender {
  readonly name: string;
  readonly against?: string;
  /** One operation (its index among this contender's); false: nothing left to do. */
  step(index: number): unknown;
}

/** How long each contender runs before the next takes its turn. */
const sliceSeconds = 0.05;

/**
 * Times rows against each other in turns of `sliceSeconds` until each has run `seconds`, so that
 * a machine shared with other work slows them alike and their ratio stays true.
 */
async function interleaved(seconds: number, contenders: readonly Contender[]): Promise<Row[]> {
  const totals = contenders.map(() => ({ operations: 0, seconds: 0, done: false }));
  while (totals.some((total) => !total.done && total.seconds < seconds)) {
    for (const [index, contender] of contenders.entries()) {
      const total = totals[index];
      if (total === undefined || total.done || total.seconds >= seconds) continue;
      const offset = total.operations;
      const slice = await timed(contender.name, sliceSeconds, (at) => contender.step(offset + at));
      total.operations += slice.operations;
      total.seconds += slice.seconds;
      if (slice.seconds < sliceSeconds) total.done = true;
    }
  }
  return contenders.map((contender, index) => ({
    name: contender.name,
    operations: totals[index]?.operations ?? 0,
    seconds: totals[index]?.seconds ?? 0,
    ...(contender.against === undefined ? {} : { against: contender.against }),
  }));
}

const challengeSecret = new Uint8Array(32).fill(7);
const unitMicros = 10n;
const resource = '/stream';

function benchMeter(store: SessionStore): SessionMeter {
  return createSessionMeter({
    merchantId: 'mer_bench',
    realm: 'bench.example',
    platformUrl: 'http://127.0.0.1:9',
    challengeSecret,
    routes: [{ method: 'GET', path: resource, unitPrice: '0.00001', unitType: 'second' }],
    apiKey: 'mk_bench',
    store,
    checkpointIntervalMs: 0,
  });
}

/** The challenge the bench's sessions echo (as a client opening at `/stream` would). */
function benchChallenge(): SessionChallenge {
  return issueSessionChallenge({
    secret: challengeSecret,
    realm: 'bench.example',
    request: sessionRequest({
      unitPriceMicros: unitMicros,
      currency: 'USD',
      recipient: 'mer_bench',
      platform: 'http://127.0.0.1:9',
      resource,
      unitType: 'second',
      minVoucherDeltaMicros: unitMicros,
      idleTimeoutSeconds: 300,
      vouchers: ['payword', 'ed25519'],
    }),
    expiresAtSeconds: Math.floor(Date.now() / 1000) + 300,
  });
}

let sessionCount = 0;

function sessionId(): string {
  sessionCount += 1;
  return `ses_${sessionCount.toString(16).padStart(32, '0')}`;
}

function benchSession(
  challenge: SessionChallenge,
  commitment: StoredSession['commitment'],
  depositMicros: bigint,
): StoredSession {
  return {
    channelId: sessionId(),
    challengeId: challenge.id,
    resource,
    payer: 'psn_bench',
    unitPriceMicros: unitMicros,
    unitType: 'second',
    minVoucherDeltaMicros: commitment.kind === 'payword' ? unitMicros : 1n,
    commitment,
    depositMicros,
    sequence: 0,
    grant: 'bench.grant.unsigned',
    openUntilSeconds: Math.floor(Date.now() / 1000) + 3_600,
    acceptedMicros: 0n,
    proof: commitment.kind === 'payword' ? commitment.anchor : new Uint8Array(0),
    spentMicros: 0n,
    checkpointedMicros: 0n,
    state: 'open',
    closeReason: undefined,
    lastActivityMs: Date.now(),
  };
}

/**
 * PayWord vouchers through `meter.acceptVoucher`, one unit more each; a session is opened for
 * every `chainLength` vouchers, all on one chain (the verifier's work is the same).
 */
function paywordContender(
  name: string,
  meter: SessionMeter,
  chain: { readonly words: readonly Uint8Array[]; readonly anchor: Uint8Array },
  failures: { count: number },
): Contender {
  const challenge = benchChallenge();
  const chainLength = chain.words.length - 1;
  const commitment = { kind: 'payword' as const, anchor: chain.anchor, chainLength };
  const deposit = BigInt(chainLength) * unitMicros;
  let channelId = '';
  return {
    name,
    against: 'sha',
    async step(index) {
      const units = (index % chainLength) + 1;
      if (units === 1) {
        const session = benchSession(challenge, commitment, deposit);
        channelId = session.channelId;
        await meter.store.open(session);
      }
      const voucher: SessionVoucher = {
        channelId,
        cumulativeMicros: BigInt(units) * unitMicros,
        proof: { kind: 'payword', word: chain.words[units] ?? new Uint8Array() },
      };
      if (!(await meter.acceptVoucher(voucher)).ok) failures.count += 1;
    },
  };
}

/** The PayWord rows: the SHA-256 ceilings and the in-memory verifier, timed in turns. */
async function paywordRows(
  options: StreamingBenchOptions,
  chain: { readonly words: readonly Uint8Array[]; readonly anchor: Uint8Array },
  failures: { count: number },
): Promise<Row[]> {
  const word = new Uint8Array(32).fill(1);
  const memoryMeter = benchMeter(createMemorySessionStore());
  return interleaved(options.seconds, [
    {
      name: 'SHA-256 of 32 bytes, node:crypto hash(), ceiling',
      step: () => hash('sha256', word, 'buffer'),
    },
    { name: 'SHA-256 of 32 bytes, @noble/hashes, peer', against: 'sha', step: () => sha256(word) },
    paywordContender(
      'PayWord vouchers verified (acceptVoucher, in-memory store)',
      memoryMeter,
      chain,
      failures,
    ),
  ]);
}

/** PayWord vouchers into a SQLite file, for information. */
async function sqliteRow(
  options: StreamingBenchOptions,
  chain: { readonly words: readonly Uint8Array[]; readonly anchor: Uint8Array },
  failures: { count: number },
): Promise<Row> {
  const store = createSqliteSessionStore({
    file: path.join(tempDir('mite-bench-streaming-'), 'sessions.db'),
  });
  try {
    const name = 'PayWord vouchers verified (acceptVoucher, SQLite store, WAL)';
    const contender = paywordContender(name, benchMeter(store), chain, failures);
    const row = await timed(name, options.seconds, (index) => contender.step(index));
    return { ...row, against: 'sha' };
  } finally {
    store.close();
  }
}

export async function runVoucherSection(
  options: StreamingBenchOptions,
  log: (line: string) => void,
): Promise<SectionReport> {
  log(`a PayWord chain of ${options.chainLength} units`);
  const paywordChainOf = paywordChain(new Uint8Array(32).fill(3), options.chainLength);
  const chain = {
    words: Array.from({ length: options.chainLength + 1 }, (_, units) =>
      paywordChainOf.word(units),
    ),
    anchor: paywordChainOf.anchor,
  };
  const failures = { count: 0 };
  log('SHA-256 ceilings and PayWord vouchers through meter.acceptVoucher, in memory, in turns');
  const [nodeSha, nobleSha, payword] = await paywordRows(options, chain, failures);
  if (nodeSha === undefined || nobleSha === undefined || payword === undefined) {
    throw new Error('bug: the PayWord rows are missing');
  }
  log('PayWord vouchers through meter.acceptVoucher, SQLite');
  const paywordSqlite = await sqliteRow(options, chain, failures);
  log(`PayWord voucher credentials through meter.handle (${options.credentials})`);
  const headers = await credentialRow(options, chain, failures);
  const forged = await forgedRefused(chain);
  const signed = await signedRows(options, log);
  const paywordRate = rate(payword);
  const signedRatio = rate(signed.meterRow) / rate(signed.ceiling);
  const paywordCount = payword.operations + paywordSqlite.operations + headers.operations;
  return {
    rows: [nodeSha, nobleSha, payword, paywordSqlite, headers, signed.ceiling, signed.meterRow],
    ceilings: { sha: nodeSha, ed25519: signed.ceiling },
    budgets: [
      {
        name: `PayWord vouchers >= ${formatInteger(paywordVouchersPerSecondMin)}/s (in memory, one core)`,
        status: paywordRate >= paywordVouchersPerSecondMin ? 'PASS' : 'FAIL',
        detail:
          `${formatInteger(paywordRate)}/s (${formatRatio(paywordRate / rate(nodeSha))} of bare ` +
          `node:crypto SHA-256, ${formatRatio(paywordRate / rate(nobleSha))} of @noble/hashes)`,
      },
      {
        name: `Ed25519 vouchers >= ${signedVoucherRatioMin} x bare Ed25519 verify`,
        status: signedRatio >= signedVoucherRatioMin ? 'PASS' : 'FAIL',
        detail: `${formatInteger(rate(signed.meterRow))}/s against ${formatInteger(rate(signed.ceiling))}/s = ${formatRatio(signedRatio)}`,
      },
    ],
    checks: [
      {
        name: 'every PayWord voucher accepted',
        ok: failures.count === 0,
        detail: `${paywordCount} vouchers, ${failures.count} refused`,
      },
      {
        name: 'a forged PayWord word refused',
        ok: forged,
        detail: 'one bit changed in the next word: voucherInvalid',
      },
      {
        name: 'every Ed25519 voucher accepted',
        ok: signed.failures === 0,
        detail: `${signed.meterRow.operations} vouchers, ${signed.failures} refused`,
      },
    ],
    notes: [
      `PayWord sessions of ${options.chainLength} units; Ed25519 vouchers 1 micro-unit apart`,
      `the ceilings and their voucher rows run in turns of ${sliceSeconds * 1000} ms`,
    ],
  };
}

/** Whole voucher credentials (written before timing) through the meter, as a HEAD delivers them. */
async function credentialRow(
  options: StreamingBenchOptions,
  chain: { readonly words: readonly Uint8Array[]; readonly anchor: Uint8Array },
  failures: { count: number },
): Promise<Row> {
  const meter = benchMeter(createMemorySessionStore());
  const challenge = benchChallenge();
  const chainLength = chain.words.length - 1;
  const count = Math.min(options.credentials, chainLength);
  const commitment = { kind: 'payword' as const, anchor: chain.anchor, chainLength };
  const session = benchSession(challenge, commitment, BigInt(chainLength) * unitMicros);
  await meter.store.open(session);
  const credentials = Array.from({ length: count }, (_, index) =>
    formatSessionCredentialHeader({
      challenge,
      payload: {
        action: 'voucher',
        voucher: {
          channelId: session.channelId,
          cumulativeMicros: BigInt(index + 1) * unitMicros,
          proof: { kind: 'payword', word: chain.words[index + 1] ?? new Uint8Array() },
        },
      },
    }),
  );
  const name = 'PayWord voucher credentials (meter.handle of a HEAD), information';
  const row = await timed(name, Number.POSITIVE_INFINITY, async (index) => {
    const authorization = credentials[index];
    if (authorization === undefined) return false;
    const outcome = await meter.handle({
      method: 'HEAD',
      url: resource,
      headers: { authorization },
    });
    if (outcome.kind !== 'answer' || outcome.status !== 204) failures.count += 1;
    return true;
  });
  return { ...row, against: 'sha' };
}

async function forgedRefused(chain: {
  readonly words: readonly Uint8Array[];
  readonly anchor: Uint8Array;
}): Promise<boolean> {
  const meter = benchMeter(createMemorySessionStore());
  const chainLength = chain.words.length - 1;
  const commitment = { kind: 'payword' as const, anchor: chain.anchor, chainLength };
  const session = benchSession(benchChallenge(), commitment, BigInt(chainLength) * unitMicros);
  await meter.store.open(session);
  const word = (chain.words[1] ?? new Uint8Array(32)).slice();
  word[0] = (word[0] ?? 0) ^ 1;
  const answer = await meter.acceptVoucher({
    channelId: session.channelId,
    cumulativeMicros: unitMicros,
    proof: { kind: 'payword', word },
  });
  return !answer.ok && answer.code === 'voucherInvalid';
}

/** An Ed25519 key pair, and the raw public key a grant commits to. */
function nodeKeys(): { privateKey: KeyObject; publicKey: KeyObject; raw: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = decodeBase64url(publicKey.export({ format: 'jwk' }).x ?? '', 64);
  if (!raw.ok) throw new Error('bug: an Ed25519 public key that does not export');
  return { privateKey, publicKey, raw: raw.value };
}

/** Ed25519 vouchers for one session, 1 micro-unit apart, signed before timing. */
function signedVouchers(
  keys: ReturnType<typeof nodeKeys>,
  channelId: string,
  count: number,
): SessionVoucher[] {
  return Array.from({ length: count }, (_, index) => {
    const cumulativeMicros = BigInt(index + 1);
    const signature = sign(null, voucherMessage(channelId, cumulativeMicros), keys.privateKey);
    return { channelId, cumulativeMicros, proof: { kind: 'ed25519', signature } };
  });
}

/** The bare verify and the meter's Ed25519 vouchers, timed in turns. */
async function signedRows(
  options: StreamingBenchOptions,
  log: (line: string) => void,
): Promise<{ ceiling: Row; meterRow: Row; failures: number }> {
  const keys = nodeKeys();
  const message = voucherMessage('ses_00000000000000000000000000000000', 1_000n);
  const signature = sign(null, message, keys.privateKey);
  const bareVerify = () => verify(null, message, keys.publicKey, signature);
  // As many vouchers as a bare verify could check in the row's time, from a short calibration
  // (the meter is not faster than the verify it makes); more would only cost signing time.
  const calibration = await timed('calibration', 0.2, bareVerify);
  const count = Math.ceil(rate(calibration) * options.seconds * 1.25) + 256;
  log(`signing ${count} Ed25519 vouchers`);
  const meter = benchMeter(createMemorySessionStore());
  const commitment = { kind: 'ed25519' as const, voucherKey: keys.raw };
  const session = benchSession(benchChallenge(), commitment, BigInt(count) + 1n);
  await meter.store.open(session);
  const vouchers = signedVouchers(keys, session.channelId, count);
  log('the bare Ed25519 verify and Ed25519 vouchers through meter.acceptVoucher, in turns');
  let failures = 0;
  const [ceiling, meterRow] = await interleaved(options.seconds, [
    { name: 'Ed25519 verify, node:crypto with a KeyObject, ceiling', step: bareVerify },
    {
      name: 'Ed25519 vouchers verified (acceptVoucher, in-memory store)',
      against: 'ed25519',
      async step(index) {
        const voucher = vouchers[index];
        if (voucher === undefined) return false;
        if (!(await meter.acceptVoucher(voucher)).ok) failures += 1;
        return true;
      },
    },
  ]);
  if (ceiling === undefined || meterRow === undefined) throw new Error('bug: rows missing');
  return { ceiling, meterRow, failures };
}

/**
 * The report's sections, in order: the vouchers, then sessions opened and closed a second through
 * the platform's API against the purchase rate measured in the same run (session-api-bench.ts).
 */
export const streamingSections: readonly ((
  options: StreamingBenchOptions,
  log: (line: string) => void,
) => Promise<SectionReport>)[] = [runVoucherSection, runSessionApiSection];

export async function runStreamingBench(
  options: StreamingBenchOptions,
  log: (line: string) => void,
): Promise<SectionReport[]> {
  const reports: SectionReport[] = [];
  for (const section of streamingSections) reports.push(await section(options, log));
  return reports;
}

export function formatSection(report: SectionReport): string {
  const table = formatTable(
    [
      { header: 'operation' },
      { header: 'per second', align: 'right' },
      { header: 'x ceiling', align: 'right' },
    ],
    report.rows.map((row) => {
      const ceiling = row.against === undefined ? undefined : report.ceilings[row.against];
      return [
        row.name,
        formatInteger(rate(row)),
        ceiling === undefined ? '' : formatRatio(rate(row) / rate(ceiling)),
      ];
    }),
  );
  return [table, '', ...verdictLines(report)].join('\n');
}

export async function streamingBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const options = args.quick ? streamingBenchQuick : streamingBenchDefaults;
  const startedAt = new Date();
  console.error(`streaming benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(options)}`);
  const sections = await runStreamingBench(options, progressLog(startedAt));
  console.log(sections.map(formatSection).join('\n\n'));
  saveRun({ name: 'streaming', quick: args.quick, startedAt, options }, { sections });
  failOnWrongChecks(
    'streaming',
    sections.flatMap((section) => section.checks),
  );
}
