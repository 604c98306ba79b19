/**
 * `mite pay --stream URL`: fetches a metered URL (paid by the second, token, byte or request out
 * of a session), printing the body as it arrives while the client pays the vouchers the merchant
 * asks for; at the end (or on Ctrl-C) it closes the session with its last voucher and says what
 * was charged, the rest of the deposit going back. The budget and the spending log are
 * `mite pay`'s.
 */
import {
  createMiteFetch,
  isMitePaymentError,
  type MiteFetch,
  type PaymentQuote,
  type SessionSummary,
} from '@mite/client';
import { formatAmount, parseAmount } from '@mite/protocol';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import {
  appendSpending,
  configDir,
  loadSpending,
  loadWalletSession,
  spentSoFar,
} from './wallet-session.ts';

export interface StreamFlags {
  readonly max?: string;
  readonly deposit?: string;
}

/** The session's merchant as a person knows it. */
function merchantLabel(summary: SessionSummary): string {
  return `${JSON.stringify(summary.merchantName)} (${summary.merchant})`;
}

/** What a deposit is held for, and what the budget still allows: one line before paying. */
export function describeDeposit(quote: PaymentQuote): string {
  const unit =
    quote.session === undefined ? '' : ` at ${quote.session.unitPrice} a ${quote.session.unitType}`;
  const what = quote.session?.topUp === true ? 'topping up the session' : 'holding a deposit of';
  return (
    `mite: ${what} ${quote.amount} ${quote.currency} with ${JSON.stringify(quote.realm)} ` +
    `(${quote.merchant}) for ${quote.resource}${unit}, at ${quote.platform}; only what is used ` +
    `is paid; limits: ${quote.headroom.perPayment} a payment, ${quote.headroom.originToday} more at ` +
    `${quote.origin} today, ${quote.headroom.total} more in all\n`
  );
}

/** The closing line: what the session cost and what went back. */
export function describeClosed(summary: SessionSummary, status: number): string {
  const released = summary.depositMicros - summary.paidMicros;
  return (
    `mite: ${status}, paid ${formatAmount(summary.paidMicros)} USD to ${merchantLabel(summary)} ` +
    `for ${summary.url} (session ${summary.sessionId}, ${summary.unitPrice} a ${summary.unitType}; ` +
    `${formatAmount(released)} of the ${formatAmount(summary.depositMicros)} deposit released)\n`
  );
}

function depositMicros(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const parsed = parseAmount(text);
  if (!parsed.ok || parsed.value === 0n)
    throw new UsageError(`--deposit: ${text} is not an amount above 0`);
  return parsed.value;
}

/** Writes the body to standard output as it arrives. */
async function printBody(response: Response, context: CliContext): Promise<void> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  for await (const chunk of response.body) {
    const text = decoder.decode(chunk as Uint8Array, { stream: true });
    if (text !== '') context.writeOut(text);
  }
  const rest = decoder.decode();
  if (rest !== '') context.writeOut(rest);
}

function failure(error: unknown, url: URL): CliError {
  if (isMitePaymentError(error)) {
    const what = error.paid ? 'money was held or paid' : 'nothing was paid';
    return new CliError(`${error.code}: ${error.message} (${what})`, exitCodes.failure);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(`cannot stream ${url.href}: ${message}`, exitCodes.failure);
}

/** Closes the sessions, logs what they cost against the budget, and prints it. */
async function closeAll(
  miteFetch: MiteFetch,
  dir: string,
  target: URL,
  status: number | undefined,
  context: CliContext,
): Promise<void> {
  const summaries = await miteFetch.closeSessions();
  if (status !== undefined && summaries.length === 0 && miteFetch.spent().totalMicros === 0n) {
    context.writeErr(`mite: ${status}, nothing paid\n`);
  }
  for (const summary of summaries) {
    if (summary.paidMicros > 0n) {
      appendSpending(dir, {
        at: new Date().toISOString(),
        origin: target.origin,
        amountMicros: summary.paidMicros.toString(),
      });
    }
    context.writeErr(describeClosed(summary, status ?? 0));
  }
}

export async function payStream(
  target: URL,
  flags: StreamFlags,
  context: CliContext,
  budgetFor: (
    limits: { maxPerPayment: string; maxPerOriginPerDay: string; maxTotal: string },
    max: string | undefined,
    spent: { totalMicros: bigint; originTodayMicros: bigint },
  ) => { maxPerPayment: string; maxPerOriginPerDay: string; maxTotal: string },
): Promise<number> {
  const dir = configDir(context.env);
  const session = loadWalletSession(dir);
  const deposit = depositMicros(flags.deposit);
  const spent = spentSoFar(loadSpending(dir), target.origin, new Date());
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: session.platformUrl, token: session.token },
    budget: {
      ...budgetFor(session.budget, flags.max, spent),
      approve: (quote: PaymentQuote) => {
        context.writeErr(describeDeposit(quote));
        return true;
      },
    },
    sessions: deposit === undefined ? {} : { depositMicros: deposit },
    // A URL sold once rather than by the unit is paid as `mite pay` pays it.
    onPayment: (event) => {
      appendSpending(dir, {
        at: new Date().toISOString(),
        origin: target.origin,
        amountMicros: event.amountMicros.toString(),
      });
      context.writeErr(`mite: paid ${event.amount} ${event.currency} once for ${event.resource}\n`);
    },
  });
  const stop = new AbortController();
  void context.waitForShutdownSignal().then(() => stop.abort());
  let status: number | undefined;
  try {
    const response = await miteFetch(target.href, { signal: stop.signal });
    status = response.status;
    await printBody(response, context);
  } catch (error) {
    if (!stop.signal.aborted) {
      await closeAll(miteFetch, dir, target, status, context).catch(() => undefined);
      throw failure(error, target);
    }
  }
  await closeAll(miteFetch, dir, target, status, context);
  return status !== undefined && status >= 200 && status < 300 ? exitCodes.ok : exitCodes.failure;
}
