/**
 * A wallet's money in and out as its owner reads it: one movement per purchase, refund or
 * top-up. A purchase moves money in one linked chain of legs (each merchant's share and the
 * platform's fee), and a refund gives them back the same way; every leg of a chain carries its
 * payment's or refund's id in the transfer's `userData` (ledger/chain-user-data.ts), so the legs
 * are added up into one movement here and named by the merchant paid. Legs recorded before the
 * ids were written (userData 0) are shown one by one, as they were. A payment session's holds are
 * not movements (movesMoney); its settlement is, under its payment.
 */
import { accountTransfersLimitMax } from '@mite/ledger';
import type { PlatformDb } from '../db/platform-db.ts';
import { chainRecordId } from '../ledger/chain-user-data.ts';
import { splitPartiesMax } from '../merchants/merchant-service.ts';
import type { WalletEntry, WalletService } from './wallet-service.ts';

/** The most legs one chain has: a share for each party of a split, and the platform's fee. */
export const chainLegsMax = splitPartiesMax + 1;

/** One movement: a whole purchase or refund, or a single transfer (a top-up). */
export interface WalletMovement {
  /** The id of its first leg. */
  readonly transferId: bigint;
  readonly direction: 'in' | 'out';
  /** All its legs together. */
  readonly amountMicros: bigint;
  /** `payment` for a purchase (the platform's fee included), `refund`, `topUp`, ... */
  readonly kind: string;
  /** The purchase, or the purchase a refund gave back; null for anything else. */
  readonly paymentId: string | null;
  /** The merchant the purchase paid (the seller of a split one); null for anything else. */
  readonly merchantName: string | null;
  /** When the ledger recorded its first leg (ns since the epoch): a page ends after it. */
  readonly recordedAtNs: bigint;
}

interface Chain {
  readonly key: string;
  readonly kind: string;
  readonly recordId: string | undefined;
  readonly legs: WalletEntry[];
}

/** Which chain an entry is a leg of: a purchase's, a refund's, or its own. */
function chainOf(entry: WalletEntry): Omit<Chain, 'legs'> {
  if (entry.kind === 'payment' || entry.kind === 'platformFee' || entry.kind === 'sessionPayment') {
    const paymentId = chainRecordId('pay_', entry.userData);
    if (paymentId !== undefined)
      return {
        key: paymentId,
        kind: entry.kind === 'sessionPayment' ? 'sessionPayment' : 'payment',
        recordId: paymentId,
      };
  } else if (entry.kind === 'refund') {
    const refundId = chainRecordId('ref_', entry.userData);
    if (refundId !== undefined) return { key: refundId, kind: 'refund', recordId: refundId };
  }
  return { key: `transfer:${entry.transferId}`, kind: entry.kind, recordId: undefined };
}

/**
 * Whether a chain moved the wallet's money: a payment session's hold only sets money aside (the
 * balance shows it as reserved) and its release gives that back, so neither is a movement; what
 * the session paid is, when it settles (`sessionPayment`).
 */
function movesMoney(chain: Chain): boolean {
  return chain.kind !== 'sessionHold' && chain.kind !== 'sessionRelease';
}

/** Entries (newest first) gathered into chains: the legs of one chain are adjacent. */
function chainsOf(entries: readonly WalletEntry[]): Chain[] {
  const chains: Chain[] = [];
  for (const entry of entries) {
    const chain = chainOf(entry);
    const last = chains.at(-1);
    if (last?.key === chain.key) last.legs.push(entry);
    else chains.push({ ...chain, legs: [entry] });
  }
  return chains;
}

export function createWalletMovements(deps: {
  readonly wallets: WalletService;
  readonly platform: PlatformDb;
}) {
  const db = deps.platform.db;

  /**
   * Up to `limit` chains, newest first, each with all its legs: the wallet's history is read in
   * growing pieces until a chain follows the last one wanted (so that one is whole) or the
   * history ends. `limit` chains never need more than `limit * chainLegsMax` legs.
   */
  async function readChains(
    walletAccountId: bigint,
    limit: number,
    beforeNs: bigint | undefined,
  ): Promise<Chain[]> {
    const entries: WalletEntry[] = [];
    let before = beforeNs;
    let piece = Math.min(accountTransfersLimitMax, 2 * limit + 1);
    for (;;) {
      const read = await deps.wallets.history(walletAccountId, {
        limit: piece,
        ...(before === undefined ? {} : { beforeNs: before }),
      });
      entries.push(...read);
      const chains = chainsOf(entries).filter(movesMoney);
      const ended = read.length < piece;
      if (ended || chains.length > limit || entries.length > limit * chainLegsMax) {
        return chains.slice(0, limit);
      }
      before = read.at(-1)?.recordedAtNs;
      piece = Math.min(accountTransfersLimitMax, piece * 2);
    }
  }

  /** The merchant's name and the payment of each purchase or refund among `chains`. */
  async function namesOf(
    chains: readonly Chain[],
  ): Promise<Map<string, { paymentId: string; merchantName: string }>> {
    const names = new Map<string, { paymentId: string; merchantName: string }>();
    const ids = (kind: string) =>
      chains.flatMap((chain) =>
        chain.kind === kind && chain.recordId !== undefined ? [chain.recordId] : [],
      );
    const paymentIds = [...ids('payment'), ...ids('sessionPayment')];
    const refundIds = ids('refund');
    if (paymentIds.length > 0) {
      const rows = await db
        .selectFrom('payments')
        .innerJoin('merchants', 'merchants.id', 'payments.merchant_id')
        .select(['payments.id as id', 'merchants.name as merchantName'])
        .where('payments.id', 'in', paymentIds)
        .execute();
      for (const row of rows)
        names.set(row.id, { paymentId: row.id, merchantName: row.merchantName });
    }
    if (refundIds.length > 0) {
      const rows = await db
        .selectFrom('refunds')
        .innerJoin('payments', 'payments.id', 'refunds.payment_id')
        .innerJoin('merchants', 'merchants.id', 'payments.merchant_id')
        .select(['refunds.id as id', 'payments.id as paymentId', 'merchants.name as merchantName'])
        .where('refunds.id', 'in', refundIds)
        .execute();
      for (const row of rows) names.set(row.id, row);
    }
    return names;
  }

  /**
   * The wallet's movements, newest first: at most `limit`, each whole. A page that ends after a
   * movement's `recordedAtNs` (its first leg) starts with the next older movement, whole too.
   */
  async function list(
    walletAccountId: bigint,
    query: { readonly limit: number; readonly beforeNs?: bigint },
  ): Promise<WalletMovement[]> {
    const chains = await readChains(walletAccountId, query.limit, query.beforeNs);
    const names = await namesOf(chains);
    return chains.map((chain) => {
      // Newest first: the chain's first leg is its last entry here.
      const first = chain.legs.at(-1);
      if (first === undefined) throw new Error('bug: a chain without legs');
      const named = chain.recordId === undefined ? undefined : names.get(chain.recordId);
      return {
        transferId: first.transferId,
        direction: first.direction,
        amountMicros: chain.legs.reduce((sum, leg) => sum + leg.amountMicros, 0n),
        kind: chain.kind,
        paymentId: named?.paymentId ?? null,
        merchantName: named?.merchantName ?? null,
        recordedAtNs: first.recordedAtNs,
      };
    });
  }

  return { list };
}

export type WalletMovements = ReturnType<typeof createWalletMovements>;
