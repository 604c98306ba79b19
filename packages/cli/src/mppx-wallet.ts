/**
 * The wallet `mite login` keeps, as options of the `mite` method for the mppx SDK
 * (`mite(walletMethodOptions())` from `@mite/client/mppx`), so that the stock `mppx` command-line
 * tool pays from it as `mite pay` does (examples/mppx/mppx.config.mjs): the same platform and
 * session token, the budget set at login less what earlier runs spent (spending.json), the same
 * receipts file, and one line on standard error before and after each payment.
 *
 * One difference stays: mppx tells a method the challenge only, never the URL, so a payment made
 * here counts against the merchant (`merchant <id>`) rather than the site's origin, in this run
 * and in spending.json (see `miteSiteOf` in @mite/client/mppx).
 */
import type { PaymentEvent, PaymentQuote } from '@mite/client';
import type { MiteMethodOptions } from '@mite/client/mppx';
import { formatAmount, parseAmount } from '@mite/protocol';
import { UsageError } from './errors.ts';
import { budgetFor, checkPlatform, describeQuote, fileReceiptStore } from './pay-command.ts';
import {
  appendSpending,
  configDir,
  loadSpending,
  loadWalletSession,
  spentSoFar,
} from './wallet-session.ts';

export type WalletMethodOptions = Required<
  Pick<MiteMethodOptions, 'wallet' | 'budget' | 'receiptStore' | 'onPayment'>
>;

/** What a line of the terminal goes to (default: standard error). */
export type WriteLine = (text: string) => void;

function perOriginLimitMicros(text: string): bigint {
  const parsed = parseAmount(text);
  if (!parsed.ok) throw new UsageError(`the stored maxPerOriginPerDay: ${parsed.detail}`);
  return parsed.value;
}

/**
 * The `mite` method's options from the session in `$MITE_CONFIG_DIR` (default
 * `~/.config/mite`): throws, saying to run `mite login`, when there is none. The total limit
 * counts every earlier payment from the start; the origin of a payment is known only once its
 * challenge is read, so the daily limit of that origin is checked against earlier runs' spending
 * just before paying (the approval step), and a payment past it is refused unpaid.
 */
export function walletMethodOptions(
  env: Readonly<Record<string, string | undefined>> = process.env,
  writeErr: WriteLine = (text) => void process.stderr.write(text),
): WalletMethodOptions {
  const dir = configDir(env);
  const session = loadWalletSession(dir);
  checkPlatform(session.platformUrl);
  const earlier = spentSoFar(loadSpending(dir), '', new Date());
  const limits = budgetFor(session.budget, undefined, { ...earlier, originTodayMicros: 0n });
  const originLimit = perOriginLimitMicros(session.budget.maxPerOriginPerDay);
  const approve = (quote: PaymentQuote): boolean => {
    const { originTodayMicros } = spentSoFar(loadSpending(dir), quote.origin, new Date());
    const left = originLimit > originTodayMicros ? originLimit - originTodayMicros : 0n;
    if (quote.amountMicros > left) {
      writeErr(
        `mite: ${quote.amount} more to ${quote.origin} today would pass its daily limit of ` +
          `${formatAmount(originLimit)} (${formatAmount(originTodayMicros)} paid today; ` +
          'set at `mite login`)\n',
      );
      return false;
    }
    const inRun = parseAmount(quote.headroom.originToday);
    const shown = inRun.ok && inRun.value < left ? inRun.value : left;
    const headroom = { ...quote.headroom, originToday: formatAmount(shown) };
    writeErr(describeQuote({ ...quote, headroom }, false));
    return true;
  };
  return {
    wallet: { platformUrl: session.platformUrl, token: session.token },
    budget: { ...limits, approve },
    receiptStore: fileReceiptStore(dir),
    onPayment: (event: PaymentEvent) => {
      appendSpending(dir, {
        at: new Date().toISOString(),
        origin: event.origin,
        amountMicros: event.amountMicros.toString(),
      });
      writeErr(
        `mite: paid ${event.amount} ${event.currency} to ${event.merchant} for ` +
          `${event.resource} (${event.paymentId})\n`,
      );
    },
  };
}
