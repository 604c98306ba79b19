/**
 * `mite tokens withdraw AMOUNT | list | spend URL`: unlinkable tokens (RFC 9474 blind signatures)
 * bought from the wallet `mite login` keeps, held in `$MITE_CONFIG_DIR/tokens.json` (owner-only: a
 * token is cash to whoever holds it), and spent at merchants that take them. A withdrawal or swap
 * whose answer was lost is finished by the next command.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  createMiteFetch,
  emptyTokenState,
  isMitePaymentError,
  resumeWithdrawals,
  type TokenState,
  type TokenStore,
  tokensValueMicros,
  TokenPaymentError,
  TokenPurse,
  type TokenSpendEvent,
  TokenWithdrawalError,
  withdrawTokens,
} from '@mite/client';
import { formatLedgerAmount, parseAmount } from '@mite/protocol';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import { budgetFor, checkPlatform, fileReceiptStore, parseTarget } from './pay-command.ts';
import {
  appendSpending,
  configDir,
  loadSpending,
  loadWalletSession,
  spentSoFar,
  writePrivate,
} from './wallet-session.ts';

export const tokensFileName = 'tokens.json';

/** The tokens file as a store: read whole, replaced whole by a rename. */
export function fileTokenStore(dir: string): TokenStore {
  const file = path.join(dir, tokensFileName);
  return {
    async load(): Promise<TokenState> {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return emptyTokenState;
      }
      return JSON.parse(text) as TokenState;
    },
    async save(state) {
      writePrivate(file, `${JSON.stringify(state, null, 2)}\n`);
    },
  };
}

function summary(state: TokenState): string {
  const pending = state.pendingWithdrawals.length + (state.pendingSwaps?.length ?? 0);
  return (
    `you hold ${formatLedgerAmount(tokensValueMicros(state))} in ${state.tokens.length} tokens` +
    (pending === 0
      ? ''
      : ` (${pending} withdrawal(s) or swap(s) pending: run again to finish them)`)
  );
}

export function createTokensCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const command = new Command('tokens').description(
    'unlinkable tokens: withdraw them from the wallet, list them, spend them',
  );
  command
    .command('withdraw')
    .description('turn AMOUNT of the wallet into tokens (one per power of two)')
    .argument('<amount>', 'e.g. 0.05')
    .option('--json', 'print the new tokens and the total as JSON')
    .action(async (amount: string, flags: { json?: boolean }) => {
      const parsed = parseAmount(amount);
      if (!parsed.ok || parsed.value === 0n) throw new UsageError(`not an amount: ${amount}`);
      const dir = configDir(context.env);
      const session = loadWalletSession(dir);
      const store = fileTokenStore(dir);
      const options = { platformUrl: session.platformUrl, sessionToken: session.token, store };
      try {
        await resumeWithdrawals(options);
        const tokens = await withdrawTokens({ ...options, amountMicros: parsed.value });
        const state = await store.load();
        context.writeOut(
          flags.json === true
            ? `${JSON.stringify({ withdrawn: tokens.length, total: formatLedgerAmount(tokensValueMicros(state)) })}\n`
            : `withdrew ${formatLedgerAmount(parsed.value)} as ${tokens.length} tokens; ${summary(state)}\n`,
        );
      } catch (error) {
        if (!(error instanceof TokenWithdrawalError)) throw error;
        const next = error.pending ? ' (kept: the next `mite tokens` command finishes it)' : '';
        throw new CliError(`withdrawal failed: ${error.message}${next}`, exitCodes.failure);
      }
      setExitCode(exitCodes.ok);
    });
  command
    .command('list')
    .description('the tokens held, and their total')
    .option('--json', 'print them as JSON')
    .action(async (flags: { json?: boolean }) => {
      const state = await fileTokenStore(configDir(context.env)).load();
      if (flags.json === true) {
        const tokens = state.tokens.map((token) => ({
          denomination: formatLedgerAmount(BigInt(token.denominationMicros)),
          keyId: token.keyId,
          redeemUntil: token.redeemUntil,
        }));
        context.writeOut(
          `${JSON.stringify({ total: formatLedgerAmount(tokensValueMicros(state)), tokens })}\n`,
        );
      } else {
        for (const token of state.tokens) {
          const denomination = formatLedgerAmount(BigInt(token.denominationMicros));
          context.writeOut(
            `${denomination.padStart(12)}  key ${token.keyId.slice(0, 12)}  until ${token.redeemUntil}\n`,
          );
        }
        context.writeOut(`${summary(state)}\n`);
      }
      setExitCode(exitCodes.ok);
    });
  addSpendCommand(command, context, setExitCode);
  return command;
}

/** `mite tokens spend URL [--max AMOUNT]`. */
function addSpendCommand(
  command: Command,
  context: CliContext,
  setExitCode: (code: number) => void,
): void {
  command
    .command('spend')
    .description(
      'fetch a URL, paying its HTTP 402 with tokens (never from the wallet); print the body',
    )
    .argument('<url>', 'the http(s) URL to fetch')
    .option('--max <amount>', 'the most this one payment may cost, e.g. 0.05')
    .action(async (url: string, flags: { max?: string }) => {
      setExitCode(await spend(url, flags, context));
    });
}

/** Finishes what an earlier command left pending: withdrawals, then swaps. */
async function resumePending(
  options: { platformUrl: string; sessionToken: string; store: TokenStore },
  purse: TokenPurse,
): Promise<void> {
  try {
    await resumeWithdrawals(options);
    await purse.resumeSwaps();
  } catch (error) {
    if (!(error instanceof TokenWithdrawalError || error instanceof TokenPaymentError)) throw error;
    const next = error.pending ? ' (kept: the next `mite tokens` command finishes it)' : '';
    throw new CliError(
      `finishing an earlier command failed: ${error.message}${next}`,
      exitCodes.failure,
    );
  }
}

/**
 * `mite tokens spend URL`: `mite pay` with tokens alone, within the budget set at login. The body
 * goes to standard output, what was paid to standard error; a 402 the tokens cannot pay (the
 * merchant takes none, too few are held) is one line and a non-zero exit, and pays nothing.
 */
async function spend(url: string, flags: { max?: string }, context: CliContext): Promise<number> {
  const target = parseTarget(url);
  const dir = configDir(context.env);
  const session = loadWalletSession(dir);
  checkPlatform(session.platformUrl);
  const store = fileTokenStore(dir);
  const purse = new TokenPurse({ store, platformUrl: session.platformUrl });
  await resumePending(
    { platformUrl: session.platformUrl, sessionToken: session.token, store },
    purse,
  );
  let spent: TokenSpendEvent | undefined;
  const miteFetch = createMiteFetch({
    wallet: { platformUrl: session.platformUrl, token: session.token },
    budget: budgetFor(
      session.budget,
      flags.max,
      spentSoFar(loadSpending(dir), target.origin, new Date()),
    ),
    receiptStore: fileReceiptStore(dir),
    tokens: {
      store,
      only: true,
      onSpend: (event) => {
        spent = event;
        const at = new Date().toISOString();
        appendSpending(dir, {
          at,
          origin: target.origin,
          amountMicros: event.amountMicros.toString(),
        });
      },
    },
  });
  let response: Response;
  try {
    response = await miteFetch(target.href);
  } catch (error) {
    if (isMitePaymentError(error))
      throw new CliError(`${error.code}: ${error.message}`, exitCodes.failure);
    throw new CliError(`cannot fetch ${target.href}: ${String(error)}`, exitCodes.failure);
  }
  context.writeOut(Buffer.from(await response.arrayBuffer()).toString('utf8'));
  const paid =
    spent === undefined
      ? 'nothing paid'
      : `paid ${formatLedgerAmount(spent.amountMicros)} in ${spent.tokens} tokens to ${spent.merchant} for ${spent.resource}`;
  context.writeErr(`mite: ${response.status}, ${paid}; ${summary(await store.load())}\n`);
  return response.ok ? exitCodes.ok : exitCodes.failure;
}
