/**
 * Swapping tokens for new ones of other denominations (change, as in Cashu): the inputs are
 * spent, the outputs (blinded messages for keys issuing now) are signed, and they must be worth
 * exactly as much. No money moves: the value stays in the account of tokens outstanding. A swap
 * asks for no session, since the tokens are the authority and naming a user would link the new
 * tokens to them.
 *
 * Exactly once, by the database: the swap's row is unique on its inputs, and its tokens are
 * locked in the spent set in the same transaction. A retry of the same swap (the same inputs and
 * the same outputs: a client that lost the answer) is signed again, which gives the same
 * signatures (RSA signing is deterministic); other outputs for the same inputs are refused.
 */
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import { retryingDeadlocks } from '../db/deadlocks.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { formatAmount } from '@mite/protocol';
import { fail, ok, type Result } from '../result.ts';
import { checkTokens, lockTokens, type PresentedToken } from './spent-tokens.ts';
import type { TokenKeys } from './token-keys.ts';
import { type BlindedOutput, outputsHash, priceOutputs, signOutputs } from './token-withdrawals.ts';

export type SwapFailure =
  'validationFailed' | 'invalidToken' | 'unknownTokenKey' | 'tokenSpent' | 'tokenAmountMismatch';

export interface Swap {
  readonly swapId: string;
  readonly amountMicros: bigint;
  readonly blindSignatures: readonly { keyId: string; blindSignature: Uint8Array }[];
}

export type SwapAnswer = Result<Swap, SwapFailure> & { readonly replayed?: true };

export function createTokenSwaps(deps: {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly tokenKeys: TokenKeys;
  readonly clock: () => number;
}) {
  const { platform, batcher, tokenKeys, clock } = deps;

  async function swap(input: {
    readonly inputs: readonly PresentedToken[];
    readonly outputs: readonly BlindedOutput[];
  }): Promise<SwapAnswer> {
    const checked = await checkTokens(tokenKeys, input.inputs);
    if (!checked.ok) return checked;
    const priced = await priceOutputs(tokenKeys, input.outputs);
    if (!priced.ok) return priced;
    const { tokens, totalMicros, setHash } = checked.value;
    if (priced.value !== totalMicros) {
      return fail(
        'tokenAmountMismatch',
        `The tokens are worth ${formatAmount(totalMicros)}, the new ones ` +
          `${formatAmount(priced.value)}.`,
      );
    }
    const hash = outputsHash(input.outputs);
    const swapId = `tks_${uuidv7()}`;
    const recorded = await retryingDeadlocks(() =>
      batcher.run(async (tx) => {
        const inserted = await tx
          .insertInto('token_swaps')
          .values({
            id: swapId,
            inputs_hash: setHash,
            outputs_hash: hash,
            amount_micros: totalMicros.toString(),
            created_at: BigInt(clock()),
          })
          .onConflict((conflict) => conflict.column('inputs_hash').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted === undefined) return 'swapped' as const;
        if (await lockTokens(tx, swapId, tokens)) return 'locked' as const;
        await tx.deleteFrom('token_swaps').where('id', '=', swapId).execute();
        return 'spent' as const;
      }),
    );
    if (recorded === 'spent') return fail('tokenSpent', 'A token in this swap was spent already.');
    if (recorded === 'locked') {
      const blindSignatures = await signOutputs(tokenKeys, input.outputs);
      return ok({ swapId, amountMicros: totalMicros, blindSignatures });
    }
    return priorSwap(setHash, hash, input.outputs);
  }

  /** The inputs were swapped before: for the same outputs, a retry; else they are spent. */
  async function priorSwap(
    setHash: string,
    hash: string,
    outputs: readonly BlindedOutput[],
  ): Promise<SwapAnswer> {
    const earlier = await platform.db
      .selectFrom('token_swaps')
      .select(['id', 'outputs_hash', 'amount_micros'])
      .where('inputs_hash', '=', setHash)
      .executeTakeFirstOrThrow();
    if (earlier.outputs_hash !== hash) {
      return fail('tokenSpent', 'These tokens were swapped already, for other outputs.');
    }
    const blindSignatures = await signOutputs(tokenKeys, outputs);
    const swapped = {
      swapId: earlier.id,
      amountMicros: BigInt(earlier.amount_micros),
      blindSignatures,
    };
    return { ...ok(swapped), replayed: true };
  }

  return { swap };
}

export type TokenSwaps = ReturnType<typeof createTokenSwaps>;
