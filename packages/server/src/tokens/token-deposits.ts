/**
 * A merchant's deposit of the tokens a client paid it with (DESIGN section 7). The merchant has
 * verified them offline already; the platform verifies them again, then in one transaction
 * records the deposit (pending) and locks every token in the spent set (spent-tokens.ts), so
 * that of two deposits of one token exactly one goes ahead. Then the money moves as a purchase's
 * does, priced by the purchase core's pricing (the merchant's share after the platform's fee),
 * as one linked ledger chain from the account of tokens outstanding; and the outcome, with the
 * merchant's `payment.succeeded` event, commits in one durable unit before the answer.
 *
 * A deposit is its tokens: the same tokens deposited again by the same merchant (a retry whose
 * answer was lost) get the same deposit's answer and move nothing; by another merchant, or with
 * any token of it in another set, they are refused as spent. Nothing recorded names the user
 * who withdrew the tokens, or the withdrawal: the spent set keys a token by the hash of its
 * message, which the platform first sees here (it signed only the blinded message).
 */
import type { CreateTransferResult, Ledger, Transfer } from '@mite/ledger';
import { currency, formatAmount } from '@mite/protocol';
import type { Transaction } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PlatformSchema, TokenDepositsTable } from '../db/schema.ts';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { chainUserData } from '../ledger/chain-user-data.ts';
import { ledgers, platformAccountIds } from '../ledger/chart-of-accounts.ts';
import type { Leg, PurchasePricing } from '../payments/purchase-pricing.ts';
import type { PaidReceipt, PurchaseReceipts } from '../payments/purchase-receipts.ts';
import { tokenPayer } from '../payments/purchase-receipts.ts';
import { fail, ok, type Result } from '../result.ts';
import type { AccountFreezes } from '../review/account-freezes.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import { checkTokens, lockTokens, type PresentedToken, unlockTokens } from './spent-tokens.ts';
import type { TokenKeys } from './token-keys.ts';

/** Deposits left pending this long are taken to be cut off by a crash and finished. */
export const tokenDepositPendingGraceMs = 60_000;
/** Interrupted deposits one reconciler run finishes at most; the next run takes the rest. */
export const tokenDepositReconcileBatchMax = 100;

export interface DepositRequest {
  readonly merchantId: string;
  readonly tokens: readonly PresentedToken[];
  /** What the tokens paid for, as the merchant's challenge named it. */
  readonly resource: string;
  readonly challengeId: string | null;
  /** The price the merchant asked: the tokens must add up to it exactly. */
  readonly amountMicros: bigint;
  /** Asked for; capped by the merchant's longest access for a challenge. */
  readonly accessPeriodSeconds: number;
}

export type DepositFailure =
  | 'validationFailed'
  | 'invalidToken'
  | 'tokenSpent'
  | 'tokenAmountMismatch'
  | 'idempotencyRequestInProgress'
  | 'accountFrozen';

export type DepositAnswer = Result<PaidReceipt, DepositFailure> & { readonly replayed?: true };

export interface TokenDepositsDeps {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly ledger: Ledger;
  readonly tokenKeys: TokenKeys;
  readonly pricing: PurchasePricing;
  readonly receipts: PurchaseReceipts;
  readonly clock: () => number;
  /** Whether a merchant is frozen (review/): a frozen merchant's deposits are refused. */
  readonly freezes: Pick<AccountFreezes, 'merchantFrozen'>;
}

type DepositRow = Pick<
  TokenDepositsTable,
  | 'id'
  | 'merchant_id'
  | 'amount_micros'
  | 'legs'
  | 'resource'
  | 'challenge_id'
  | 'access_until'
  | 'state'
  | 'created_at'
>;

const depositColumns = [
  'id',
  'merchant_id',
  'amount_micros',
  'legs',
  'resource',
  'challenge_id',
  'access_until',
  'state',
  'created_at',
] as const;

export function createTokenDeposits(deps: TokenDepositsDeps) {
  const { platform, batcher, ledger, tokenKeys, pricing, receipts, clock } = deps;
  const db = platform.db;

  async function deposit(request: DepositRequest): Promise<DepositAnswer> {
    // Refused before the tokens are looked at, so that none is spent: the payer keeps them.
    if (await deps.freezes.merchantFrozen(request.merchantId)) {
      return fail('accountFrozen', 'This merchant is frozen; its deposits are refused.');
    }
    const checked = await checkTokens(tokenKeys, request.tokens);
    if (!checked.ok) return checked;
    const { tokens, totalMicros, setHash } = checked.value;
    if (totalMicros !== request.amountMicros) {
      return fail(
        'tokenAmountMismatch',
        `The tokens are worth ${formatAmount(totalMicros)}, the price is ` +
          `${formatAmount(request.amountMicros)}.`,
      );
    }
    const terms = await pricing.termsOf(request.merchantId);
    if (terms === undefined) throw new Error(`bug: merchant ${request.merchantId} not found`);
    const nowMs = clock();
    const accessSeconds = Math.min(
      request.accessPeriodSeconds,
      terms.challengeAccessPeriodSecondsMax,
    );
    const legs = await pricing.legsFor({
      merchantId: request.merchantId,
      priceMicros: totalMicros,
      // All of it to the depositing merchant (less the platform's fee).
      splits: [{ merchantId: request.merchantId, shareBasisPoints: 10_000 }],
    });
    const row: DepositRow = {
      id: `tkd_${uuidv7()}`,
      merchant_id: request.merchantId,
      amount_micros: totalMicros.toString(),
      legs: JSON.stringify(legs),
      resource: request.resource,
      challenge_id: request.challengeId,
      access_until: BigInt(nowMs + accessSeconds * 1000),
      state: 'pending',
      created_at: BigInt(nowMs),
    };
    const recorded = await retryingDeadlocks(() =>
      batcher.run(async (tx) => {
        const inserted = await tx
          .insertInto('token_deposits')
          .values({ ...row, tokens_hash: setHash, token_count: tokens.length, completed_at: null })
          .onConflict((conflict) => conflict.column('tokens_hash').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted === undefined) return 'deposited' as const;
        if (await lockTokens(tx, row.id, tokens)) return 'locked' as const;
        await tx.deleteFrom('token_deposits').where('id', '=', row.id).execute();
        return 'spent' as const;
      }),
    );
    if (recorded === 'spent') return spentAlready();
    if (recorded === 'deposited') return priorDeposit(request.merchantId, setHash);
    const outcome = await submit(row.id, legs);
    await finish(row.id, outcome);
    if (outcome !== 'succeeded') return spentAlready();
    return ok(receiptOf(row));
  }

  function spentAlready(): DepositAnswer {
    return fail('tokenSpent', 'A token in this payment was spent already.');
  }

  /** The same tokens were deposited before: the same merchant's retry, or a double spend. */
  async function priorDeposit(merchantId: string, setHash: string): Promise<DepositAnswer> {
    const earlier = await db
      .selectFrom('token_deposits')
      .select(depositColumns)
      .where('tokens_hash', '=', setHash)
      .executeTakeFirst();
    if (earlier === undefined) throw new Error('bug: a deposit conflicted with nothing');
    if (earlier.merchant_id !== merchantId || earlier.state === 'failed') return spentAlready();
    if (earlier.state === 'pending') {
      return fail(
        'idempotencyRequestInProgress',
        'This deposit is still being made: ask again in a minute.',
      );
    }
    return { ...ok(receiptOf(earlier)), replayed: true };
  }

  function receiptOf(row: DepositRow): PaidReceipt {
    const terms = {
      merchantId: row.merchant_id,
      resource: row.resource,
      priceMicros: BigInt(row.amount_micros),
      challengeId: row.challenge_id,
    };
    return receipts.tokenReceiptFor(
      row.id,
      terms,
      Number(row.created_at),
      Number(row.access_until),
    );
  }

  /** The deposit's chain from the tokens outstanding; every leg carries the deposit's id. */
  async function submit(depositId: string, legs: readonly Leg[]): Promise<'succeeded' | 'failed'> {
    const userData = chainUserData(depositId);
    const transfers: Transfer[] = legs.map((leg, index) => ({
      id: BigInt(leg.transferId),
      debitAccountId: platformAccountIds.tokensOutstanding,
      creditAccountId: BigInt(leg.creditAccountId),
      amount: BigInt(leg.amountMicros),
      ledger: ledgers.usd,
      code: leg.code,
      flags: { linked: index < legs.length - 1 },
      userData,
    }));
    return outcomeOf(await ledger.createTransfers(transfers));
  }

  /**
   * Records the outcome with what goes with it, once: for a success the merchant's event, for a
   * failure the release of the tokens' locks (they were not spent).
   */
  async function finish(depositId: string, outcome: 'succeeded' | 'failed'): Promise<void> {
    const nowMs = clock();
    await batcher.run((tx) => recordOutcome(tx, depositId, outcome, nowMs));
  }

  async function recordOutcome(
    tx: Transaction<PlatformSchema>,
    depositId: string,
    outcome: 'succeeded' | 'failed',
    nowMs: number,
  ): Promise<void> {
    const updated = await tx
      .updateTable('token_deposits')
      .set({ state: outcome, completed_at: BigInt(nowMs) })
      .where('id', '=', depositId)
      .where('state', '=', 'pending')
      .returning(['merchant_id', 'resource', 'challenge_id', 'amount_micros'])
      .executeTakeFirst();
    if (updated === undefined) return;
    if (outcome === 'failed') {
      await unlockTokens(tx, depositId);
      return;
    }
    await enqueueWebhookEvent(tx, {
      merchantId: updated.merchant_id,
      type: 'payment.succeeded',
      payload: {
        paymentId: depositId,
        offerId: null,
        resource: updated.resource,
        challengeId: updated.challenge_id,
        amount: formatAmount(BigInt(updated.amount_micros)),
        currency,
        payer: tokenPayer,
      },
      nowMs,
    });
  }

  /**
   * Finishes deposits a crash left pending past the grace period, oldest first: their transfer
   * ids are fixed, so the chain is found done or made now, never twice. The number looked at.
   */
  async function reconcilePending(): Promise<number> {
    const stale = await db
      .selectFrom('token_deposits')
      .select(['id', 'legs'])
      .where('state', '=', 'pending')
      .where('created_at', '<', BigInt(clock() - tokenDepositPendingGraceMs))
      .orderBy('created_at')
      .limit(tokenDepositReconcileBatchMax)
      .execute();
    for (const row of stale) {
      const legs = JSON.parse(row.legs) as Leg[];
      const done = await ledger.lookupTransfers(legs.map((leg) => BigInt(leg.transferId)));
      await finish(row.id, done.length === legs.length ? 'succeeded' : await submit(row.id, legs));
    }
    return stale.length;
  }

  return { deposit, reconcilePending };
}

export type TokenDeposits = ReturnType<typeof createTokenDeposits>;

/**
 * `exists`: an earlier submission of the same chain made it. The account of tokens outstanding
 * holds what every unspent token is worth, so a verified, unspent token always finds its value
 * there; a refusal other than a repeat is a broken invariant, not an expected failure.
 */
function outcomeOf(results: readonly CreateTransferResult[]): 'succeeded' | 'failed' {
  const failure = results.find(
    (result) => result !== 'ok' && result !== 'linkedEventFailed' && result !== 'exists',
  );
  if (failure === undefined) return 'succeeded';
  if (failure === 'idAlreadyFailed') return 'failed';
  throw new Error(`bug: a token deposit's transfers failed with ${failure}`);
}
