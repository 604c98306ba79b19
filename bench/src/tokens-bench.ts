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
 * - deposits: `deposit` of the platform's token-deposit service, `tokensPerDeposit` tokens a
 *   deposit, `depositsInFlight` at once, each token verified (node:crypto RSA-PSS verify) and
 *   locked in the spent set, the merchant credited through the ledger; counted in tokens, over a
 *   fixed pool of `depositTokens` fresh tokens (each is spent once); the budget is 10,000 a
 *   second, and the row is compared with the bare verify rate.
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
import { emsaPssEncode } from '../../packages/protocol/src/blind-rsa.ts';
import { createPlatform, noRiskRules, type Platform } from '@mite/server';
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
  /** Fresh tokens made for the deposit row (each is deposited once). */
  readonly depositTokens: number;
  readonly tokensPerDeposit: number;
  readonly depositsInFlight: number;
}

export const tokensBenchDefaults: TokensBenchOptions = {
  seconds: 10,
  tokensPerWithdrawal: 32,
  inFlight: 4,
  depositTokens: 36_000,
  // The most one credential carries (tokensPerCredentialMax), deposited as the middleware does.
  tokensPerDeposit: 12,
  // Merchants' servers depositing at once; each deposit waits for three durable commits.
  depositsInFlight: 32,
};
export const tokensBenchQuick: TokensBenchOptions = {
  ...tokensBenchDefaults,
  seconds: 2,
  depositTokens: 4_000,
};

/** The deposit budget: tokens deposited (verified and spent) per second. */
export const depositsPerSecondMin = 10_000;

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
    // One user withdraws thousands of times: tokens are measured, not the risk rules.
    riskRules: noRiskRules,
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
    const depositRow = await depositRowOf(platform, key, signer, options, log);
    const rows: Row[] = [
      signCeiling,
      signerRow,
      issueRow,
      verifyCeiling,
      bigintVerify,
      depositRow.row,
    ];
    const issueRatio = rate(issueRow) / rate(signCeiling);
    const budgets: BudgetCheck[] = [
      {
        name: `tokens issued >= ${issueRatioMin} x bare RSA sign`,
        status: issueRatio >= issueRatioMin ? 'PASS' : 'FAIL',
        detail: `${formatInteger(rate(issueRow))}/s against ${formatInteger(rate(signCeiling))}/s = ${formatRatio(issueRatio)}`,
      },
      {
        name: `tokens deposited >= ${formatInteger(depositsPerSecondMin)}/s`,
        status: rate(depositRow.row) >= depositsPerSecondMin ? 'PASS' : 'FAIL',
        detail: `${formatInteger(rate(depositRow.row))}/s (${formatRatio(rate(depositRow.row) / rate(verifyCeiling))} of bare verify)`,
      },
    ];
    const checks: CorrectnessCheck[] = [
      {
        name: 'issued tokens verify',
        ok: finishedOk,
        detail: `the last withdrawal's ${options.tokensPerWithdrawal} signatures finish into valid tokens`,
      },
      {
        name: 'every token deposited once, the merchant credited for each',
        ok: depositRow.creditedOnce,
        detail: `${depositRow.row.operations} tokens in the spent set and credited, a second deposit refused`,
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

type TokenKeyOf<P> = P extends {
  services: { tokenKeys: { publishedKeys(): Promise<(infer K)[]> } };
}
  ? K
  : never;

/**
 * Fresh tokens signed by the platform's key: the EMSA-PSS encoding of a random message signed
 * unblinded (a blinding factor of 1 is still a withdrawal's arithmetic), made before timing.
 */
function freshTokens(
  key: TokenKeyOf<Platform>,
  signer: { blindSign(message: Uint8Array): { ok: boolean; value?: Uint8Array } },
  count: number,
) {
  const emBits = key.publicKey.n.toString(2).length - 1;
  return Array.from({ length: count }, () => {
    const message = random(32);
    const encoded = emsaPssEncode(message, emBits, random(48));
    if (!encoded.ok) throw new Error('PSS encoding failed');
    const signed = signer.blindSign(encoded.value);
    if (!signed.ok || signed.value === undefined) throw new Error('signing failed');
    return { keyId: key.keyId, message, signature: signed.value };
  });
}

/** Deposits a pool of fresh tokens, `depositsInFlight` deposits at a time, and checks the result. */
async function depositRowOf(
  platform: Platform,
  key: TokenKeyOf<Platform>,
  signer: { blindSign(message: Uint8Array): { ok: boolean; value?: Uint8Array } },
  options: TokensBenchOptions,
  log: (line: string) => void,
): Promise<{ row: Row; creditedOnce: boolean }> {
  const { services, ledger } = platform;
  const merchant = await services.merchants.createMerchant({
    name: 'Bench Shop',
    feeBasisPoints: 0,
    payoutThresholdMicros: 0n,
  });
  const size = options.tokensPerDeposit;
  const count = Math.floor(options.depositTokens / size) * size;
  log(`deposits: making ${count} fresh tokens`);
  const tokens = freshTokens(key, signer, count);
  // What a withdrawal would have put in the account of tokens outstanding.
  const [funded] = await ledger.createTransfers([
    {
      id: services.transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: platformAccountIds.tokensOutstanding,
      amount: BigInt(count) * key.denominationMicros,
      ledger: ledgers.usd,
      code: transferCodes.tokenWithdrawal,
    },
  ]);
  if (funded !== 'ok') throw new Error(`funding the tokens outstanding failed: ${funded}`);
  log(
    `deposits: ${count / size} deposits of ${size} tokens, ${options.depositsInFlight} in flight`,
  );
  let next = 0;
  const deposit = (group: typeof tokens) =>
    services.tokenDeposits.deposit({
      merchantId: merchant.merchantId,
      tokens: group,
      resource: '/bench',
      challengeId: null,
      amountMicros: BigInt(group.length) * key.denominationMicros,
      accessPeriodSeconds: 0,
    });
  const startedNs = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: options.depositsInFlight }, async () => {
      while (next < count) {
        const group = tokens.slice(next, next + size);
        next += size;
        const answer = await deposit(group);
        if (!answer.ok) throw new Error(`a deposit failed: ${answer.code}`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  const again = await deposit(
    tokens
      .slice(0, size)
      .reverse()
      .slice(0, size - 1),
  );
  const [outstanding] = await ledger.lookupAccounts([platformAccountIds.tokensOutstanding]);
  const spent = await platform.platformDb.db
    .selectFrom('spent_tokens')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  const creditedOnce =
    !again.ok &&
    Number(spent.n) === count &&
    outstanding !== undefined &&
    outstanding.debitsPosted === BigInt(count) * key.denominationMicros;
  const row = {
    name: `tokens deposited (deposits of ${size}, ${options.depositsInFlight} in flight, SQLite)`,
    operations: count,
    seconds,
    against: 'verify',
  };
  return { row, creditedOnce };
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
