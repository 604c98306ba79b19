import { accountTransfersLimitMax, type Ledger, type TransferRecord } from '@mite/ledger';
import { type AccountBalance, accountBalance } from '../ledger/account-balance.ts';
import { newAccountId, transferCodes, walletAccount } from '../ledger/chart-of-accounts.ts';

export interface WalletServiceDeps {
  readonly ledger: Ledger;
}

/** One movement of money into or out of a wallet, as its owner sees it. */
export interface WalletEntry {
  readonly transferId: bigint;
  readonly direction: 'in' | 'out';
  readonly amountMicros: bigint;
  /** Why the money moved: a name from transferCodes (topUp, payment, ...), or `other`. */
  readonly kind: string;
  /** When the ledger recorded it, in nanoseconds since the epoch: the history's order. */
  readonly recordedAtNs: bigint;
  /** The transfer's `userData`: the payment or refund whose leg it is (ledger/chain-user-data.ts). */
  readonly userData: bigint;
}

export interface WalletHistoryQuery {
  /** At most this many entries, 1 to accountTransfersLimitMax. */
  readonly limit: number;
  /** Only entries recorded before this (exclusive): where the previous page ended. */
  readonly beforeNs?: bigint;
}

const transferKinds = new Map<number, string>(
  Object.entries(transferCodes).map(([kind, code]) => [code, kind]),
);

/**
 * A payment session's transfers say what they did to the wallet: the hold of a deposit (money set
 * aside, not spent), the settlement that paid the merchant out of it (a purchase, under the
 * settlement's payment id), and the release of what was not used.
 */
function kindOf(transfer: TransferRecord): string {
  if (transfer.code === transferCodes.sessionHold) {
    if (transfer.flags.postPending) return 'sessionPayment';
    if (transfer.flags.voidPending) return 'sessionRelease';
    return 'sessionHold';
  }
  return transferKinds.get(transfer.code) ?? 'other';
}

function entryOf(walletAccountId: bigint, transfer: TransferRecord): WalletEntry {
  const released = transfer.flags.voidPending;
  return {
    transferId: transfer.id,
    // A release gives the held money back: it comes in, as a refund does.
    direction: transfer.creditAccountId === walletAccountId || released ? 'in' : 'out',
    amountMicros: transfer.amount,
    kind: kindOf(transfer),
    recordedAtNs: transfer.timestamp,
    userData: transfer.userData,
  };
}

/**
 * A user's wallet: a ledger account (chart-of-accounts.ts `walletAccount`) that cannot go below
 * zero. This service makes it, says what it holds and lists what moved through it; purchases,
 * refunds and top-ups move the money themselves, in their own ledger transfers. The user service
 * keeps which account is whose.
 */
export function createWalletService(deps: WalletServiceDeps) {
  const { ledger } = deps;

  /** Makes a new, empty wallet account and returns its ledger account id. */
  async function createWallet(): Promise<bigint> {
    const walletAccountId = newAccountId();
    const [created] = await ledger.createAccounts([walletAccount(walletAccountId)]);
    // The id is 127 random bits: `exists` would be a collision, not a retry.
    if (created !== 'ok') throw new Error(`could not create a wallet account: ${created}`);
    return walletAccountId;
  }

  /** What the wallet can spend and what pending purchases hold; undefined for no such account. */
  async function balance(walletAccountId: bigint): Promise<AccountBalance | undefined> {
    const [account] = await ledger.lookupAccounts([walletAccountId]);
    return account === undefined ? undefined : accountBalance(account);
  }

  /** The wallet's entries, newest first. */
  async function history(
    walletAccountId: bigint,
    query: WalletHistoryQuery,
  ): Promise<WalletEntry[]> {
    const { limit, beforeNs } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > accountTransfersLimitMax) {
      throw new Error(
        `bug: a wallet history limit must be an integer in 1..${accountTransfersLimitMax}`,
      );
    }
    // Nothing is recorded before the epoch.
    if (beforeNs !== undefined && beforeNs <= 0n) return [];
    const transfers = await ledger.getAccountTransfers({
      accountId: walletAccountId,
      limit,
      reversed: true,
      ...(beforeNs === undefined ? {} : { timestampMax: beforeNs - 1n }),
    });
    return transfers.map((transfer) => entryOf(walletAccountId, transfer));
  }

  return { createWallet, balance, history };
}

export type WalletService = ReturnType<typeof createWalletService>;
