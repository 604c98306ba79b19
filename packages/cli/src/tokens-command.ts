/**
 * `mite tokens withdraw AMOUNT | list`: unlinkable tokens (RFC 9474 blind signatures) bought from
 * the wallet `mite login` keeps, held in `$MITE_CONFIG_DIR/tokens.json` (owner-only: a token is
 * cash to whoever holds it). A withdrawal whose answer was lost is finished by the next command.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  emptyTokenState,
  resumeWithdrawals,
  type TokenState,
  type TokenStore,
  tokensValueMicros,
  TokenWithdrawalError,
  withdrawTokens,
} from '@mite/client';
import { formatLedgerAmount, parseAmount } from '@mite/protocol';
import { Command } from 'commander';
import type { CliContext } from './cli-context.ts';
import { CliError, exitCodes, UsageError } from './errors.ts';
import { configDir, loadWalletSession, writePrivate } from './wallet-session.ts';

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
  const pending = state.pendingWithdrawals.length;
  return (
    `you hold ${formatLedgerAmount(tokensValueMicros(state))} in ${state.tokens.length} tokens` +
    (pending === 0 ? '' : ` (${pending} withdrawal(s) pending: run again to finish them)`)
  );
}

export function createTokensCommand(
  context: CliContext,
  setExitCode: (code: number) => void,
): Command {
  const command = new Command('tokens').description(
    'unlinkable tokens: withdraw them from the wallet, list them',
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
  return command;
}
