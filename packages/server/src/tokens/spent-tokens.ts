/**
 * The spent set shared by deposits and swaps (DESIGN section 7, as in Cashu): a token is spent
 * when its hash is a row of `spent_tokens`. The row is inserted in the same transaction as the
 * deposit or swap that spends it, which names it (`spent_by`); that record's state says whether
 * the spending is still under way (the token is locked, pending) or done. The token hash is the
 * table's primary key, so of two deposits of one token exactly one inserts its row, whichever
 * node or process each runs on: on PostgreSQL the second insert waits for the first
 * transaction and then finds the row; on SQLite the two transactions run one after the other.
 *
 * Tokens are checked before anything is written: each signature must verify (RSASSA-PSS with
 * SHA-384, a 48-byte salt: what an RFC 9474 RSABSSA-SHA384-PSS-Deterministic signature is) under
 * a key that still takes tokens. Rows go once their key stops taking tokens, which bounds the set.
 */
import { constants, createHash, verify } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { blindRsaSaltBytes } from '@mite/protocol';
import type { PlatformSchema } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { TokenKeys } from './token-keys.ts';

/** Tokens in one deposit or swap at most. */
export const tokensPerRequestMax = 64;
/** The longest token message: clients use 32 random bytes. */
export const tokenMessageBytesMax = 128;
/** The shortest token message: fewer random bytes could repeat between clients. */
export const tokenMessageBytesMin = 16;
/** Spent-set rows of expired keys deleted per statement, so the purge never holds a long lock. */
export const spentTokensPurgeBatchMax = 5_000;

/** A token as a client presents it: its key, its message, the platform's signature on it. */
export interface PresentedToken {
  readonly keyId: string;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** A token that verified: what the spent set keys it by, what it is worth, until when. */
export interface CheckedToken {
  readonly tokenHash: string;
  readonly denominationMicros: bigint;
  readonly redeemUntilMs: number;
}

export interface CheckedTokens {
  readonly tokens: readonly CheckedToken[];
  readonly totalMicros: bigint;
  /** A hash over the tokens' hashes, sorted: the same tokens, in any order, the same hash. */
  readonly setHash: string;
}

export type TokenCheckFailure = 'validationFailed' | 'invalidToken';

/** The spent set's key of a token: it names the token and nothing else (not the payer). */
export function tokenHashOf(keyId: string, message: Uint8Array): string {
  return createHash('sha256')
    .update('mite-token-v1\0')
    .update(keyId)
    .update('\0')
    .update(message)
    .digest('base64url');
}

function setHashOf(hashes: readonly string[]): string {
  const hash = createHash('sha256').update('mite-token-set-v1');
  for (const tokenHash of [...hashes].sort()) hash.update('\0').update(tokenHash);
  return hash.digest('base64url');
}

/** Verifies each token offline and totals them; nothing is written. */
export async function checkTokens(
  tokenKeys: TokenKeys,
  presented: readonly PresentedToken[],
): Promise<Result<CheckedTokens, TokenCheckFailure>> {
  if (presented.length === 0 || presented.length > tokensPerRequestMax) {
    return fail('validationFailed', `1 to ${tokensPerRequestMax} tokens at a time.`);
  }
  const tokens: CheckedToken[] = [];
  const seen = new Set<string>();
  let totalMicros = 0n;
  for (const [index, token] of presented.entries()) {
    const length = token.message.length;
    if (length < tokenMessageBytesMin || length > tokenMessageBytesMax) {
      return fail(
        'validationFailed',
        `Token ${index}: a message is ${tokenMessageBytesMin} to ${tokenMessageBytesMax} bytes.`,
      );
    }
    const key = await tokenKeys.redeemingKey(token.keyId);
    const valid =
      key !== undefined &&
      token.signature.length === key.modulusBytes &&
      verify(
        'sha384',
        token.message,
        {
          key: key.verificationKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: blindRsaSaltBytes,
        },
        token.signature,
      );
    if (!valid) {
      return fail('invalidToken', `Token ${index} does not verify under a key that takes tokens.`);
    }
    const tokenHash = tokenHashOf(token.keyId, token.message);
    if (seen.has(tokenHash)) return fail('invalidToken', `Token ${index} is in the request twice.`);
    seen.add(tokenHash);
    tokens.push({
      tokenHash,
      denominationMicros: key.denominationMicros,
      redeemUntilMs: key.redeemUntilMs,
    });
    totalMicros += key.denominationMicros;
  }
  return ok({ tokens, totalMicros, setHash: setHashOf(tokens.map((token) => token.tokenHash)) });
}

/**
 * Locks the tokens for `spender` inside its transaction: true if every token was free. If any
 * was taken, the rows this call inserted are deleted again in the same transaction, so a refused
 * spending leaves nothing behind (and the caller removes its own record too).
 */
export async function lockTokens(
  tx: Transaction<PlatformSchema>,
  spender: string,
  tokens: readonly CheckedToken[],
): Promise<boolean> {
  // One order for every spending (the hashes'), so that two never wait for each other in a cycle.
  const ordered = [...tokens].sort((a, b) => (a.tokenHash < b.tokenHash ? -1 : 1));
  const inserted = await tx
    .insertInto('spent_tokens')
    .values(
      ordered.map((token) => ({
        token_hash: token.tokenHash,
        spent_by: spender,
        redeem_until: BigInt(token.redeemUntilMs),
      })),
    )
    .onConflict((conflict) => conflict.column('token_hash').doNothing())
    .returning('token_hash')
    .execute();
  if (inserted.length === tokens.length) return true;
  await unlockTokens(tx, spender);
  return false;
}

/** Frees the tokens a spending locked, which did not happen (a deposit the ledger refused). */
export async function unlockTokens(
  tx: Transaction<PlatformSchema> | Kysely<PlatformSchema>,
  spender: string,
): Promise<void> {
  await tx.deleteFrom('spent_tokens').where('spent_by', '=', spender).execute();
}

/**
 * Deletes rows whose key no longer takes tokens (a token of it is refused before the spent set
 * is asked), a batch at a time; the number deleted.
 */
export async function purgeExpiredSpentTokens(
  db: Kysely<PlatformSchema>,
  nowMs: number,
): Promise<number> {
  const expired = db
    .selectFrom('spent_tokens')
    .select('token_hash')
    .where('redeem_until', '<=', BigInt(nowMs))
    .limit(spentTokensPurgeBatchMax);
  const result = await db
    .deleteFrom('spent_tokens')
    .where('token_hash', 'in', expired)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
