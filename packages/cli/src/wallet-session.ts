/**
 * The wallet session `mite login` stores and `mite pay` spends from: the platform, the session
 * token, and the budget the user set, in `$MITE_CONFIG_DIR` (default `~/.config/mite`), readable
 * by the owner only. Spending is logged beside it so that the per-origin daily and total limits
 * hold across invocations, not only within one.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { UsageError } from './errors.ts';

export const walletFileName = 'wallet.json';
export const spendingFileName = 'spending.json';
/** Spending entries kept: older ones no longer count towards a daily limit. */
export const spendingEntriesMax = 10_000;

export interface WalletBudget {
  /** Decimal strings of the currency's major unit. */
  readonly maxPerPayment: string;
  readonly maxPerOriginPerDay: string;
  readonly maxTotal: string;
}

export const defaultBudget: WalletBudget = {
  maxPerPayment: '1.00',
  maxPerOriginPerDay: '5.00',
  maxTotal: '20.00',
};

export interface WalletSession {
  readonly platformUrl: string;
  readonly email: string;
  readonly token: string;
  readonly expiresAt: string;
  readonly budget: WalletBudget;
}

export interface SpendingEntry {
  readonly at: string;
  readonly origin: string;
  readonly amountMicros: string;
}

export function configDir(env: Readonly<Record<string, string | undefined>>): string {
  const explicit = env.MITE_CONFIG_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  return path.join(env.HOME ?? homedir(), '.config', 'mite');
}

/** Writes a file readable by the owner only, atomically (a rename). */
export function writePrivate(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

export function saveWalletSession(dir: string, session: WalletSession): void {
  writePrivate(path.join(dir, walletFileName), `${JSON.stringify(session, null, 2)}\n`);
}

export function loadWalletSession(dir: string): WalletSession {
  const file = path.join(dir, walletFileName);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`no wallet session in ${dir}: log in first with \`mite login\``);
  }
  const session = JSON.parse(text) as WalletSession;
  if (typeof session.token !== 'string' || typeof session.platformUrl !== 'string') {
    throw new UsageError(`${file} is not a wallet session: log in again with \`mite login\``);
  }
  return { ...session, budget: { ...defaultBudget, ...session.budget } };
}

export function loadSpending(dir: string): SpendingEntry[] {
  try {
    return JSON.parse(readFileSync(path.join(dir, spendingFileName), 'utf8')) as SpendingEntry[];
  } catch {
    return [];
  }
}

export function appendSpending(dir: string, entry: SpendingEntry): void {
  const entries = [...loadSpending(dir), entry].slice(-spendingEntriesMax);
  writePrivate(path.join(dir, spendingFileName), `${JSON.stringify(entries)}\n`);
}

/** What was spent in total, and at `origin` since the start of today (UTC). */
export function spentSoFar(
  entries: readonly SpendingEntry[],
  origin: string,
  now: Date,
): { totalMicros: bigint; originTodayMicros: bigint } {
  const today = now.toISOString().slice(0, 10);
  let totalMicros = 0n;
  let originTodayMicros = 0n;
  for (const entry of entries) {
    const amount = BigInt(entry.amountMicros);
    totalMicros += amount;
    if (entry.origin === origin && entry.at.slice(0, 10) === today) originTodayMicros += amount;
  }
  return { totalMicros, originTodayMicros };
}
