/**
 * Withdrawing tokens (DESIGN section 7): a user sends blinded messages, each for a key of the
 * keyset issuing now (its denomination is the key's), and gets the blind signatures back, which
 * only the user can turn into tokens; the platform never sees the tokens themselves. The wallet
 * is debited by the sum of the denominations, put to the platform's policy first as every
 * movement of a user's money is, into the account of tokens outstanding.
 *
 * Exactly once per user and Idempotency-Key, by the database: the withdrawal's row is unique on
 * them and fixes the ledger transfer's id before it is submitted, so that a retry, a concurrent
 * duplicate or a request after a crash submits the same transfer (which the ledger makes once)
 * and signs the same blinded messages again (RSA signing is deterministic: the same signatures).
 * A withdrawal whose transfer moved the money but whose answer was lost is finished by its retry;
 * the client keeps its blinding state until it has the signatures, as @mite/client does.
 */
import { createHash } from 'node:crypto';
import type { CreateTransferResult, Ledger, TimeOrderedIds } from '@mite/ledger';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import { walletIdsCachedMax } from '../payments/purchase-core.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import type { Insertable, Transaction } from 'kysely';
import type { PlatformSchema, TokenWithdrawalsTable } from '../db/schema.ts';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import {
  addSpending,
  countedSpendingJson,
  giveBackSpending,
  type SpendingCharge,
  type SpendingPlan,
} from '../limits/monthly-spending.ts';
import type { SpendingLimits } from '../limits/spending-limits.ts';
import { type PolicyGate, type PolicyRefusal, stops } from '../policy/policy-decisions.ts';
import type { RequestOrigin } from '../policy/policy.ts';
import { fail, ok, type Result } from '../result.ts';
import type { TokenKeys } from './token-keys.ts';

/** Blinded messages in one withdrawal at most. */
export const tokenWithdrawalOutputsMax = 64;

export interface BlindedOutput {
  readonly keyId: string;
  readonly blindedMessage: Uint8Array;
}

export interface Withdrawal {
  readonly withdrawalId: string;
  readonly amountMicros: bigint;
  /** One per output, in its order. */
  readonly blindSignatures: readonly { keyId: string; blindSignature: Uint8Array }[];
}

export type WithdrawalError =
  | 'unknownTokenKey'
  | 'validationFailed'
  | 'insufficientFunds'
  | 'idempotencyKeyReused'
  | PolicyRefusal;

export interface TokenWithdrawalsDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly tokenKeys: TokenKeys;
  readonly policy: PolicyGate;
  /** Withdrawals count against the monthly caps (limits/spending-limits.ts). */
  readonly limits: SpendingLimits;
  readonly batcher: TransactionBatcher;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
}

type WithdrawalRow = Pick<
  TokenWithdrawalsTable,
  'id' | 'state' | 'transfer_id' | 'amount_micros' | 'outputs_hash'
> & { user_id: string };

/** A hash of the outputs, to tell a retry from another request under the same key. */
export function outputsHash(outputs: readonly BlindedOutput[]): string {
  const hash = createHash('sha256');
  for (const output of outputs) {
    hash.update(`${output.keyId}\0`).update(output.blindedMessage).update('\0');
  }
  return hash.digest('base64url');
}

/** The outputs' total, if every key issues now and every message has its key's length. */
export async function priceOutputs(
  tokenKeys: TokenKeys,
  outputs: readonly BlindedOutput[],
): Promise<Result<bigint, 'unknownTokenKey' | 'validationFailed'>> {
  if (outputs.length === 0 || outputs.length > tokenWithdrawalOutputsMax) {
    return fail('validationFailed', `1 to ${tokenWithdrawalOutputsMax} outputs at a time.`);
  }
  let totalMicros = 0n;
  for (const output of outputs) {
    const key = await tokenKeys.issuingKey(output.keyId);
    if (key === undefined) return fail('unknownTokenKey', `No key ${output.keyId} issues now.`);
    if (output.blindedMessage.length !== key.modulusBytes) {
      return fail(
        'validationFailed',
        `A blinded message for ${output.keyId} is ${key.modulusBytes} bytes.`,
      );
    }
    totalMicros += key.denominationMicros;
  }
  return ok(totalMicros);
}

/** Signs outputs priced (and paid for) already: a refusal now is a bug. */
export async function signOutputs(
  tokenKeys: TokenKeys,
  outputs: readonly BlindedOutput[],
): Promise<{ keyId: string; blindSignature: Uint8Array }[]> {
  const blindSignatures = [];
  for (const output of outputs) {
    const signer = await tokenKeys.signerFor(output.keyId);
    if (signer === undefined) throw new Error(`bug: the paid-for key ${output.keyId} vanished`);
    const signed = signer.blindSign(output.blindedMessage);
    if (!signed.ok) throw new Error(`bug: a priced blinded message was refused: ${signed.detail}`);
    blindSignatures.push({ keyId: output.keyId, blindSignature: signed.value });
  }
  return blindSignatures;
}

export function createTokenWithdrawals(deps: TokenWithdrawalsDeps) {
  const { platform, ledger, tokenKeys, policy, transferIds, clock } = deps;
  const db = platform.db;
  // A user's wallet account never changes once the user exists.
  const walletIds = new LRUCache<string, bigint>({ max: walletIdsCachedMax });

  async function withdraw(input: {
    userId: string;
    idempotencyKey: string;
    outputs: readonly BlindedOutput[];
    /** The challenged decision the user confirmed, named by a retry (policy-confirmations.ts). */
    confirmationId?: string | undefined;
    /** Where the request came from, which risk rules count by. */
    origin?: RequestOrigin;
  }): Promise<Result<Withdrawal, WithdrawalError>> {
    const hash = outputsHash(input.outputs);
    const earlier = await rowFor(input.userId, input.idempotencyKey);
    if (earlier !== undefined) return resume(earlier, hash, input.outputs);
    const total = await priceOutputs(tokenKeys, input.outputs);
    if (!total.ok) return total;
    const subject = {
      kind: 'tokenWithdrawal' as const,
      userId: input.userId,
      amountMicros: total.value,
      atMs: clock(),
      origin: input.origin,
    };
    const id = `tkw_${uuidv7()}`;
    const { confirmationId } = input;
    const presented =
      confirmationId === undefined ? undefined : { decisionId: confirmationId, requestId: id };
    const decision = await policy.decide(subject, presented);
    if (stops(decision)) return policy.refuse(subject, decision);
    const plan = await deps.limits.planFor(subject);
    const values = {
      id,
      user_id: input.userId,
      idempotency_key: input.idempotencyKey,
      outputs_hash: hash,
      amount_micros: total.value.toString(),
      transfer_id: transferIds.next().toString(),
      state: 'pending' as const,
      created_at: BigInt(clock()),
      completed_at: null,
      spending: countedSpendingJson(plan),
    };
    const recorded = await retryingDeadlocks(() =>
      deps.batcher.run((tx) => recordPending(tx, values, plan)),
    );
    if (recorded.kind === 'capReached') {
      // The policy saw room under the cap, and a payment racing this one took it first.
      return policy.refuse(subject, deps.limits.refusalFor(subject, recorded.charge));
    }
    const inserted = recorded.kind === 'recorded' ? recorded.row : undefined;
    const row = inserted ?? (await rowFor(input.userId, input.idempotencyKey));
    if (row === undefined) throw new Error('bug: a token withdrawal vanished after its insert');
    return resume(row, hash, input.outputs);
  }

  /**
   * The pending withdrawal and its monthly spending, in one transaction: a cap refuses it whole.
   * A concurrent duplicate inserted first is the withdrawal (`exists`), resumed by the caller.
   */
  async function recordPending(
    tx: Transaction<PlatformSchema>,
    values: Insertable<TokenWithdrawalsTable>,
    plan: SpendingPlan,
  ): Promise<
    | { kind: 'recorded'; row: WithdrawalRow }
    | { kind: 'exists' }
    | { kind: 'capReached'; charge: SpendingCharge }
  > {
    const row = await tx
      .insertInto('token_withdrawals')
      .values(values)
      .onConflict((conflict) => conflict.columns(['user_id', 'idempotency_key']).doNothing())
      .returning(['id', 'state', 'transfer_id', 'amount_micros', 'outputs_hash', 'user_id'])
      .executeTakeFirst();
    if (row === undefined) return { kind: 'exists' };
    const refused = await addSpending(tx, values.user_id, plan, BigInt(values.amount_micros));
    if (refused === undefined) return { kind: 'recorded', row };
    await tx.deleteFrom('token_withdrawals').where('id', '=', row.id).execute();
    return { kind: 'capReached', charge: refused };
  }

  async function rowFor(
    userId: string,
    idempotencyKey: string,
  ): Promise<WithdrawalRow | undefined> {
    return db
      .selectFrom('token_withdrawals')
      .select(['id', 'state', 'transfer_id', 'amount_micros', 'outputs_hash', 'user_id'])
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
  }

  /** Finishes a withdrawal from its row: its transfer submitted (once), then its signatures. */
  async function resume(
    row: WithdrawalRow,
    hash: string,
    outputs: readonly BlindedOutput[],
  ): Promise<Result<Withdrawal, WithdrawalError>> {
    if (row.outputs_hash !== hash) {
      return fail('idempotencyKeyReused', 'This Idempotency-Key was used for other outputs.');
    }
    let state = row.state;
    if (state === 'pending') state = await submit(row);
    if (state === 'failed')
      return fail('insufficientFunds', 'The wallet holds less than the tokens cost.');
    const blindSignatures = await signOutputs(tokenKeys, outputs);
    return ok({ withdrawalId: row.id, amountMicros: BigInt(row.amount_micros), blindSignatures });
  }

  /** Submits the withdrawal's one transfer and records its outcome, once. */
  async function walletIdOf(userId: string): Promise<bigint> {
    const cached = walletIds.get(userId);
    if (cached !== undefined) return cached;
    const user = await db
      .selectFrom('users')
      .select('wallet_account_id')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow();
    const walletId = BigInt(user.wallet_account_id);
    walletIds.set(userId, walletId);
    return walletId;
  }

  async function submit(row: WithdrawalRow): Promise<'succeeded' | 'failed'> {
    const [result] = await ledger.createTransfers([
      {
        id: BigInt(row.transfer_id),
        debitAccountId: await walletIdOf(row.user_id),
        creditAccountId: platformAccountIds.tokensOutstanding,
        amount: BigInt(row.amount_micros),
        ledger: ledgers.usd,
        code: transferCodes.tokenWithdrawal,
      },
    ]);
    const outcome = outcomeOf(result);
    await deps.batcher.run(async (tx) => {
      const ended = await tx
        .updateTable('token_withdrawals')
        .set({ state: outcome, completed_at: BigInt(clock()) })
        .where('id', '=', row.id)
        .where('state', '=', 'pending')
        .returning(['spending'])
        .executeTakeFirst();
      // A withdrawal that failed bought no tokens: what it counted against its caps is given back.
      if (ended !== undefined && outcome === 'failed') {
        await giveBackSpending(tx, row.user_id, ended.spending, BigInt(row.amount_micros));
      }
    });
    return outcome;
  }

  return { withdraw };
}

/** `exists`: an earlier submission made it; `idAlreadyFailed`: an earlier one failed for good. */
function outcomeOf(result: CreateTransferResult | undefined): 'succeeded' | 'failed' {
  if (result === 'ok' || result === 'exists') return 'succeeded';
  if (result === 'exceedsCredits' || result === 'idAlreadyFailed') return 'failed';
  throw new Error(`bug: a token withdrawal's transfer failed with ${String(result)}`);
}

export type TokenWithdrawals = ReturnType<typeof createTokenWithdrawals>;
