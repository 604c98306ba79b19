import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createMiteFetch,
  isMitePaymentError,
  type PaymentEvent,
  type PaymentQuote,
  type PolicyApproval,
  type PolicyChallenge,
  type ReceiptStore,
  type StoredReceipt,
} from '@mite/client';
import { formatAmount, isSecureOrLoopback, parseAmount } from '@mite/protocol';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import { payStream } from './pay-stream.ts';
import {
  appendSpending,
  configDir,
  loadSpending,
  loadWalletSession,
  spentSoFar,
  writePrivate,
} from './wallet-session.ts';

export const receiptsFileName = 'receipts.json';
/** Receipts kept on disk; the oldest go first. */
export const storedReceiptsMax = 1_000;

interface PayFlags {
  readonly max?: string;
  readonly json?: boolean;
  readonly stream?: boolean;
  readonly deposit?: string;
}

/**
 * `mite pay URL`: fetches a URL like curl, paying its HTTP 402 challenge from the stored wallet
 * session within the budget set at `mite login` (and `--max` for this one payment). The body
 * goes to standard output; to standard error, before a payment, who is paid and which limits
 * apply, and after it what was paid (all of it as JSON on standard output with --json). A URL or
 * platform on plain http is refused except on the loopback. With --stream, a metered URL is
 * paid out of a session as its body arrives (pay-stream.ts).
 */
export function createPayCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  return new Command('pay')
    .description('fetch a URL, paying its HTTP 402 challenge from your wallet within your budget')
    .argument('<url>', 'the http(s) URL to fetch')
    .option('--max <amount>', 'the most this one payment may cost, e.g. 0.05')
    .option('--json', 'print status, payment and body as one JSON object')
    .option('--stream', 'a metered URL: print the body as it comes, paying as it is used')
    .option('--deposit <amount>', 'with --stream: what the session holds, e.g. 0.50')
    .action(async (url: string, flags: PayFlags) => {
      setExitCode(await pay(url, flags, context));
    });
}

async function pay(url: string, flags: PayFlags, context: CliContext): Promise<number> {
  const target = parseTarget(url);
  if (flags.stream === true) {
    if (flags.json === true) throw new UsageError('--json and --stream cannot go together');
    checkPlatform(loadWalletSession(configDir(context.env)).platformUrl);
    return payStream(target, flags, context, budgetFor);
  }
  if (flags.deposit !== undefined) throw new UsageError('--deposit goes with --stream');
  const dir = configDir(context.env);
  const session = loadWalletSession(dir);
  checkPlatform(session.platformUrl);
  const budget = {
    ...budgetFor(
      session.budget,
      flags.max,
      spentSoFar(loadSpending(dir), target.origin, new Date()),
    ),
    // Asked before every payment (no approveAbove): says who is paid and which limits apply. The
    // consent is the command itself, within the budget set at login and --max.
    approve: (quote: PaymentQuote) => {
      quoted = quote;
      context.writeErr(describeQuote(quote, flags.max !== undefined));
      return true;
    },
  };
  let paid: PaymentEvent | undefined;
  let quoted: PaymentQuote | undefined;
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: session.platformUrl, token: session.token },
    budget,
    ...(context.ask === undefined ? {} : { approve: askToConfirm(context.ask) }),
    receiptStore: fileReceiptStore(dir),
    onPayment: (event) => {
      paid = event;
      appendSpending(dir, {
        at: new Date().toISOString(),
        origin: target.origin,
        amountMicros: event.amountMicros.toString(),
      });
    },
  });
  let response: Response;
  try {
    response = await miteFetch(target.href);
  } catch (error) {
    if (isMitePaymentError(error, 'policyChallenged') && context.ask === undefined) {
      throw new CliError(challengedHelp(error.problem?.detail), exitCodes.failure);
    }
    if (isMitePaymentError(error)) {
      const what = error.paid ? 'the payment was made' : 'nothing was paid';
      throw new CliError(`${error.code}: ${error.message} (${what})`, exitCodes.failure);
    }
    throw new CliError(`cannot fetch ${target.href}: ${String(error)}`, exitCodes.failure);
  }
  const body = Buffer.from(await response.arrayBuffer());
  const payment =
    paid === undefined
      ? null
      : {
          amount: paid.amount,
          currency: paid.currency,
          merchant: paid.merchant,
          ...(quoted === undefined ? {} : { merchantName: quoted.realm }),
          resource: paid.resource,
          paymentId: paid.paymentId,
        };
  if (flags.json === true) {
    const record = {
      url: target.href,
      status: response.status,
      paid: payment,
      body: body.toString('utf8'),
    };
    context.writeOut(`${JSON.stringify(record, null, 2)}\n`);
  } else {
    context.writeOut(body.toString('utf8'));
    context.writeErr(
      payment === null
        ? `mite: ${response.status}, nothing paid\n`
        : `mite: ${response.status}, paid ${payment.amount} ${payment.currency} to ${merchantLabel(payment.merchant, quoted?.realm)} for ${payment.resource} (${payment.paymentId})\n`,
    );
  }
  return response.ok ? exitCodes.ok : exitCodes.failure;
}

/**
 * The platform's policy asks the person to confirm a payment: at a terminal, they answer y/N
 * (no by default, as for any question about money).
 */
export function askToConfirm(ask: (question: string) => Promise<string>): PolicyApproval {
  return async (challenge: PolicyChallenge) => {
    const answer = await ask(
      `mite: the platform asks you to confirm paying ${challenge.amount} to ` +
        `${merchantLabel(challenge.merchant, challenge.merchantName)}: ${challenge.reason}. ` +
        'Pay? [y/N] ',
    );
    return /^y(es)?$/i.test(answer.trim());
  };
}

/** What a script is told when the platform asks a person to confirm: where to do it. */
export function challengedHelp(reason: unknown): string {
  const why = typeof reason === 'string' ? `${reason}; ` : '';
  return (
    `policyChallenged: the platform asks you to confirm this payment (${why}nothing was paid): ` +
    'run `mite pay` at a terminal to confirm it, or open the page in a browser and confirm ' +
    'it in the wallet\u2019s pay window'
  );
}

/** The merchant as a person knows it (the site's name, its realm), with the platform's id. */
function merchantLabel(merchantId: string, realm: string | undefined): string {
  return realm === undefined ? merchantId : `${JSON.stringify(realm)} (${merchantId})`;
}

/** Who is paid, how much, where, and what the budget still allows: one line before paying. */
export function describeQuote(quote: PaymentQuote, maxGiven: boolean): string {
  const { headroom } = quote;
  return (
    `mite: paying ${quote.amount} ${quote.currency} to ${merchantLabel(quote.merchant, quote.realm)} ` +
    `for ${quote.resource}, at ${quote.platform}; limits: ${headroom.perPayment} a payment` +
    `${maxGiven ? ' (--max)' : ''}, ${headroom.originToday} more at ${quote.origin} today, ` +
    `${headroom.total} more in all (set at \`mite login\`)\n`
  );
}

const insecureHelp =
  'Mite pays over https only (plain http only on the loopback: localhost, 127.0.0.0/8, [::1])';

export function parseTarget(url: string): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new UsageError(`only http and https URLs can be paid for, not ${target.protocol}`);
  }
  // The draft: credentials never travel over unencrypted HTTP (see isSecureOrLoopback).
  if (!isSecureOrLoopback(target)) {
    throw new UsageError(`${target.origin} is plain http: ${insecureHelp}`);
  }
  return target;
}

/** The stored platform, which a session from an older `mite login` may have on plain http. */
export function checkPlatform(platformUrl: string): void {
  let url: URL | undefined;
  try {
    url = new URL(platformUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || !isSecureOrLoopback(url)) {
    throw new UsageError(
      `the wallet's platform ${platformUrl} is not https: ${insecureHelp}; log in again with \`mite login\``,
    );
  }
}

/** The stored budget, less what earlier payments spent, and `--max` for this payment. */
export function budgetFor(
  limits: { maxPerPayment: string; maxPerOriginPerDay: string; maxTotal: string },
  max: string | undefined,
  spent: { totalMicros: bigint; originTodayMicros: bigint },
) {
  const micros = (name: string, text: string): bigint => {
    const parsed = parseAmount(text);
    if (!parsed.ok) throw new UsageError(`${name}: ${parsed.detail}`);
    return parsed.value;
  };
  let perPayment = micros('the stored maxPerPayment', limits.maxPerPayment);
  if (max !== undefined) perPayment = bigintMin(perPayment, micros('--max', max));
  const left = (limit: bigint, used: bigint) => formatAmount(limit > used ? limit - used : 0n);
  return {
    maxPerPayment: formatAmount(perPayment),
    maxPerOriginPerDay: left(
      micros('maxPerOriginPerDay', limits.maxPerOriginPerDay),
      spent.originTodayMicros,
    ),
    maxTotal: left(micros('maxTotal', limits.maxTotal), spent.totalMicros),
  };
}

function bigintMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** Receipts kept in the config directory, so an article bought once opens again next time. */
export function fileReceiptStore(dir: string): ReceiptStore {
  const file = path.join(dir, receiptsFileName);
  const read = (): Record<string, StoredReceipt> => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Record<string, StoredReceipt>;
    } catch {
      return {};
    }
  };
  const write = (entries: Record<string, StoredReceipt>): void => {
    const kept = Object.entries(entries).slice(-storedReceiptsMax);
    writePrivate(file, `${JSON.stringify(Object.fromEntries(kept))}\n`);
  };
  return {
    get: (key) => read()[key],
    put: (key, receipt) => write({ ...read(), [key]: receipt }),
    delete: (key) => {
      const entries = read();
      delete entries[key];
      write(entries);
    },
  };
}
