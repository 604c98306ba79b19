/**
 * The tokens benchmark (issue 14, item 6): how fast the platform issues blind-signed tokens,
 * against node:crypto's bare RSA-2048 signing rate measured in the same run (the ceiling: issuing
 * is one RSA private-key operation per token, plus the RFC 9474 check and the withdrawal's
 * writes); and the verifications merchants and clients make, against node:crypto's bare verify.
 *
 * Rows, each for `seconds`, one operation after another on this process's thread:
 * - ceiling: `crypto.sign('sha384', message, RSA-PSS salt 48)` with a 2048-bit key;
 * - the signer alone: `blindSign` of blinded messages (the raw operation and its fault check);
 * - issuing: `withdraw` of the platform's token-withdrawal service, `tokensPerWithdrawal` tokens a
 *   withdrawal, `inFlight` withdrawals at once (as a server's concurrent requests), on a real platform (SQLite, the wallet debited through the ledger each time),
 *   counted in tokens; the budget is at least 0.8 of the ceiling;
 * - ceiling: `crypto.verify` of RSA-PSS signatures, and @mite/protocol's `verifyBlindRsa` (the
 *   bigint verification a browser runs), for information.
 * Deposits (verify plus the spent set, budget 10,000 a second) are not built yet: the report says
 * so rather than print a number for them.
 *
 * The messages are blinded before timing starts (blinding is the client's work, not the
 * platform's); the tokens issued are finished and verified afterwards, or the run fails.
 */
import {
  constants,
  type KeyObject,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { blind, finalize, verifyBlindRsa } from '@mite/protocol';
import { createPlatform, type Platform } from '@mite/server';
import {
  ledgers,
  platformAccountIds,
  transferCodes,
} from '../../packages/server/src/ledger/chart-of-accounts.ts';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { saveRun } from './results.ts';
import {
  type BudgetCheck,
  type CorrectnessCheck,
  failOnWrongChecks,
  progressLog,
  verdictLines,
} from './run.ts';
import { formatInteger, formatRatio, formatTable } from './table.ts';

export interface TokensBenchOptions {
  readonly seconds: number;
  readonly tokensPerWithdrawal: number;
  /** Withdrawals in flight at once. */
  readonly inFlight: number;
}

export const tokensBenchDefaults: TokensBenchOptions = {
  seconds: 10,
  tokensPerWithdrawal: 32,
  inFlight: 4,
};
export const tokensBenchQuick: TokensBenchOptions = { ...tokensBenchDefaults, seconds: 2 };

/** What the bench user's wallet starts with: more than any run spends on 1-micro-unit tokens. */
const benchWalletMicros = 1_000_000_000n;

/** The issuing budget: tokens issued per second against bare RSA signing. */
export const issueRatioMin = 0.8;

interface Row {
  readonly name: string;
  readonly operations: number;
  readonly seconds: number;
  /** The ceiling this row is compared with, if any. */
  readonly against?: string;
}

const random = (length: number) => new Uint8Array(randomBytes(length));

/**
 * Runs `step` (which does `unit` operations) again and again for `seconds`, `inFlight` at a
 * time (as a server takes concurrent requests: one's signing overlaps another's commit).
 */
async function timed(
  seconds: number,
  unit: number,
  step: () => unknown,
  inFlight = 1,
): Promise<Row & { name: '' }> {
  const startedNs = process.hrtime.bigint();
  const endNs = startedNs + BigInt(Math.round(seconds * 1e9));
  let operations = 0;
  const loop = async () => {
    while (process.hrtime.bigint() < endNs) {
      await step();
      operations += unit;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  return { name: '', operations, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9 };
}

const rate = (row: Row) => row.operations / row.seconds;

function pssOptions(key: KeyObject) {
  return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 };
}

async function startPlatform(): Promise<{ platform: Platform; userId: string }> {
  const platform = await createPlatform({
    dataDir: tempDir('mite-bench-tokens-'),
    env: {},
    logger: pino({ level: 'silent' }),
    backgroundJobs: false,
    funding: { provider: 'sandbox' },
    tokenDenominationsMicros: [1n],
  });
  const { users, transferIds } = platform.services;
  const signedUp = await users.signUp({
    email: 'bench@example.com',
    password: 'a long passphrase',
  });
  if (!signedUp.ok) throw new Error(`sign-up failed: ${signedUp.code}`);
  const profile = await users.profile(signedUp.value.userId);
  if (profile === undefined) throw new Error('the bench user vanished');
  // Funded straight through the ledger, as a confirmed top-up would (top-ups have a maximum).
  const [funded] = await platform.ledger.createTransfers([
    {
      id: transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: benchWalletMicros,
      ledger: ledgers.usd,
      code: transferCodes.topUp,
    },
  ]);
  if (funded !== 'ok') throw new Error(`funding the bench wallet failed: ${funded}`);
  return { platform, userId: signedUp.value.userId };
}

export async function runTokensBench(
  options: TokensBenchOptions,
  log: (line: string) => void,
): Promise<{ rows: Row[]; budgets: BudgetCheck[]; checks: CorrectnessCheck[]; notes: string[] }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = random(64);
  log('ceiling: node:crypto RSA-2048 PSS sign');
  const signCeiling = {
    ...(await timed(options.seconds, 1, () => sign('sha384', message, pssOptions(privateKey)))),
    name: 'node:crypto sign (RSA-2048 PSS-SHA384), ceiling',
  };
  const signature = sign('sha384', message, pssOptions(privateKey));
  const verifyCeiling = {
    ...(await timed(options.seconds, 1, () =>
      verify('sha384', message, pssOptions(publicKey), signature),
    )),
    name: 'node:crypto verify, ceiling',
  };

  const { platform, userId } = await startPlatform();
  try {
    const { tokenKeys, tokenWithdrawals } = platform.services;
    const [key] = await tokenKeys.publishedKeys();
    if (key === undefined) throw new Error('no token key');
    const signer = await tokenKeys.signerFor(key.keyId);
    if (signer === undefined) throw new Error('no signer');
    // Enough blinded messages for the signer row, made before timing (the client's work).
    const pool = Array.from({ length: 256 }, () => {
      const token = random(32);
      const blinded = blind(key.publicKey, token, random);
      if (!blinded.ok) throw new Error('blinding failed');
      return { token, ...blinded.value };
    });
    log('the signer alone: blindSign');
    let next = 0;
    const signerRow = {
      ...(await timed(options.seconds, 1, () =>
        signer.blindSign(pool[next++ % pool.length]?.blindedMessage ?? new Uint8Array()),
      )),
      name: 'blindSign (raw RSA + RFC 9474 check)',
      against: 'sign',
    };
    log(`issuing: withdrawals of ${options.tokensPerWithdrawal} tokens`);
    const outputs = pool
      .slice(0, options.tokensPerWithdrawal)
      .map((item) => ({ keyId: key.keyId, blindedMessage: item.blindedMessage }));
    let withdrawals = 0;
    let last: Awaited<ReturnType<typeof tokenWithdrawals.withdraw>> | undefined;
    const issueRow = {
      ...(await timed(
        options.seconds,
        options.tokensPerWithdrawal,
        async () => {
          last = await tokenWithdrawals.withdraw({
            userId,
            idempotencyKey: `bench-${withdrawals++}`,
            outputs,
          });
          if (!last.ok) throw new Error(`a withdrawal failed: ${last.code}`);
        },
        options.inFlight,
      )),
      name: `tokens issued (withdrawals of ${options.tokensPerWithdrawal}, ${options.inFlight} in flight, SQLite)`,
      against: 'sign',
    };
    const finishedOk =
      last !== undefined &&
      last.ok &&
      last.value.blindSignatures.every((signed, index) => {
        const item = pool[index];
        if (item === undefined) return false;
        const done = finalize(key.publicKey, item.token, signed.blindSignature, item.inverse);
        return done.ok && verifyBlindRsa(key.publicKey, item.token, done.value);
      });
    const [first] = pool;
    const firstSigned = first === undefined ? undefined : signer.blindSign(first.blindedMessage);
    const tokenSignature =
      first !== undefined && firstSigned?.ok === true
        ? finalize(key.publicKey, first.token, firstSigned.value, first.inverse)
        : undefined;
    if (first === undefined || tokenSignature === undefined || !tokenSignature.ok)
      throw new Error('no token to verify');
    log('verification: verifyBlindRsa (bigint, as browsers run it)');
    const bigintVerify = {
      ...(await timed(options.seconds, 1, () =>
        verifyBlindRsa(key.publicKey, first.token, tokenSignature.value),
      )),
      name: 'verifyBlindRsa (@mite/protocol, bigint)',
      against: 'verify',
    };
    const rows: Row[] = [signCeiling, signerRow, issueRow, verifyCeiling, bigintVerify];
    const issueRatio = rate(issueRow) / rate(signCeiling);
    const budgets: BudgetCheck[] = [
      {
        name: `tokens issued >= ${issueRatioMin} x bare RSA sign`,
        status: issueRatio >= issueRatioMin ? 'PASS' : 'FAIL',
        detail: `${formatInteger(rate(issueRow))}/s against ${formatInteger(rate(signCeiling))}/s = ${formatRatio(issueRatio)}`,
      },
      { name: 'deposits >= 10,000/s', status: 'SKIP', detail: 'deposits are not built yet' },
    ];
    const checks: CorrectnessCheck[] = [
      {
        name: 'issued tokens verify',
        ok: finishedOk,
        detail: `the last withdrawal's ${options.tokensPerWithdrawal} signatures finish into valid tokens`,
      },
      {
        name: 'the wallet paid for every token',
        ok: await walletPaid(platform, userId, issueRow.operations),
        detail: `${issueRow.operations} tokens of 1 micro-unit debited`,
      },
    ];
    return { rows, budgets, checks, notes: [`withdrawals: ${withdrawals}`] };
  } finally {
    await platform.close();
  }
}

async function walletPaid(platform: Platform, userId: string, tokens: number): Promise<boolean> {
  const balance = await platform.services.wallets.balance(
    (await platform.services.users.profile(userId))?.walletAccountId ?? 0n,
  );
  return balance?.availableMicros === benchWalletMicros - BigInt(tokens);
}

export function formatTokensReport(report: Awaited<ReturnType<typeof runTokensBench>>): string {
  const ceilings = {
    sign: report.rows[0] === undefined ? 0 : rate(report.rows[0]),
    verify: report.rows[3] === undefined ? 0 : rate(report.rows[3]),
  };
  const table = formatTable(
    [
      { header: 'operation' },
      { header: 'per second', align: 'right' },
      { header: 'x ceiling', align: 'right' },
    ],
    report.rows.map((row) => [
      row.name,
      formatInteger(rate(row)),
      row.against === undefined
        ? ''
        : formatRatio(rate(row) / ceilings[row.against as 'sign' | 'verify']),
    ]),
  );
  return [table, '', ...verdictLines(report)].join('\n');
}

export async function tokensBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const options = args.quick ? tokensBenchQuick : tokensBenchDefaults;
  const startedAt = new Date();
  console.error(`tokens benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(options)}`);
  const report = await runTokensBench(options, progressLog(startedAt));
  console.log(formatTokensReport(report));
  saveRun({ name: 'tokens', quick: args.quick, startedAt, options }, report);
  failOnWrongChecks('tokens', report.checks);
}
