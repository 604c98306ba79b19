import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createMiteFetch,
  isMitePaymentError,
  type PaymentEvent,
  type ReceiptStore,
  type StoredReceipt,
} from '@mite/client';
import { formatAmount, parseAmount } from '@mite/protocol';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
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
}

/**
 * `mite pay URL`: fetches a URL like curl, paying its HTTP 402 challenge from the stored wallet
 * session within the budget set at `mite login` (and `--max` for this one payment). The body
 * goes to standard output, what was paid to standard error (or all of it as JSON with --json).
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
    .action(async (url: string, flags: PayFlags) => {
      setExitCode(await pay(url, flags, context));
    });
}

async function pay(url: string, flags: PayFlags, context: CliContext): Promise<number> {
  const target = parseTarget(url);
  const dir = configDir(context.env);
  const session = loadWalletSession(dir);
  const budget = budgetFor(
    session.budget,
    flags.max,
    spentSoFar(loadSpending(dir), target.origin, new Date()),
  );
  let paid: PaymentEvent | undefined;
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: session.platformUrl, token: session.token },
    budget,
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
        : `mite: ${response.status}, paid ${payment.amount} ${payment.currency} to ${payment.merchant} for ${payment.resource} (${payment.paymentId})\n`,
    );
  }
  return response.ok ? exitCodes.ok : exitCodes.failure;
}

function parseTarget(url: string): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new UsageError(`only http and https URLs can be paid for, not ${target.protocol}`);
  }
  return target;
}

/** The stored budget, less what earlier payments spent, and `--max` for this payment. */
function budgetFor(
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
function fileReceiptStore(dir: string): ReceiptStore {
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
