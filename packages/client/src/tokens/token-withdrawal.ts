/**
 * Withdrawing tokens from the platform: the amount split into powers of two (one token per set
 * bit), a random message for each blinded against the key of its denomination in the keyset
 * issuing now, the blinding state saved in the store before anything is sent, then the platform's
 * blind signatures finished into tokens (RFC 9474) and the pending withdrawal replaced by them.
 * A withdrawal cut off (a crash, a lost answer) stays pending and `resumeWithdrawals` sends it
 * again under the same Idempotency-Key: the platform answers the same signatures and charges once.
 */
import {
  blind,
  decodeBase64url,
  encodeBase64url,
  finalize,
  type RandomBytes,
} from '@mite/protocol';
import { fetchTokenKeys, type PublishedTokenKey } from './published-keys.ts';
import type { PendingWithdrawal, StoredToken, TokenStore } from './token-store.ts';

/** The platform's limit on blinded messages in one withdrawal. */
export const tokenWithdrawalOutputsMax = 64;
/** The longest blinded message or signature read (an 8192-bit modulus). */
const rsaBytesMax = 1_024;

export interface TokenWithdrawalOptions {
  readonly platformUrl: string | URL;
  /**
   * The user's session token (as `mite login` keeps it); absent in the platform's own pages,
   * whose session cookie goes with a same-origin request.
   */
  readonly sessionToken?: string;
  /** Sent as `Mite-Device`: the platform's risk rules count withdrawals by device. */
  readonly deviceId?: string;
  readonly store: TokenStore;
  readonly fetch?: typeof fetch;
  /** Random bytes (crypto.getRandomValues by default); tests fix them. */
  readonly random?: RandomBytes;
  readonly nowMs?: () => number;
}

export class TokenWithdrawalError extends Error {
  constructor(
    message: string,
    /** Whether the withdrawal stays pending, to be resumed (the platform may have charged). */
    readonly pending: boolean,
  ) {
    super(message);
    this.name = 'TokenWithdrawalError';
  }
}

const defaultRandom: RandomBytes = (length) =>
  globalThis.crypto.getRandomValues(new Uint8Array(length));

/** The keys of the keyset issuing now, by denomination. */
function issuingKeys(
  keys: readonly PublishedTokenKey[],
  nowMs: number,
): Map<bigint, PublishedTokenKey> {
  const issuing = keys.filter((key) => key.issueFromMs <= nowMs && nowMs < key.issueUntilMs);
  return new Map(issuing.map((key) => [key.denominationMicros, key]));
}

/** The powers of two that add up to `amountMicros`, largest first. */
export function denominationsOf(amountMicros: bigint): bigint[] {
  const parts: bigint[] = [];
  for (let bit = 0n, rest = amountMicros; rest > 0n; bit += 1n, rest >>= 1n) {
    if ((rest & 1n) === 1n) parts.push(1n << bit);
  }
  return parts.reverse();
}

/** Prepares (blinds) a withdrawal of exactly `amountMicros`; nothing is sent or saved. */
export function prepareWithdrawal(
  keys: readonly PublishedTokenKey[],
  amountMicros: bigint,
  platformUrl: string,
  random: RandomBytes,
  nowMs: number,
): PendingWithdrawal {
  const byDenomination = issuingKeys(keys, nowMs);
  const parts = denominationsOf(amountMicros);
  if (parts.length === 0) throw new TokenWithdrawalError('withdraw more than nothing', false);
  if (parts.length > tokenWithdrawalOutputsMax) {
    throw new TokenWithdrawalError(`at most ${tokenWithdrawalOutputsMax} tokens at a time`, false);
  }
  const outputs = parts.map((denomination) => {
    const key = byDenomination.get(denomination);
    if (key === undefined) {
      throw new TokenWithdrawalError(
        `the platform issues no token of ${denomination} micro-units`,
        false,
      );
    }
    const message = random(32);
    const blinded = blind(key.publicKey, message, random);
    if (!blinded.ok)
      throw new TokenWithdrawalError(`cannot blind for key ${key.keyId}: ${blinded.code}`, false);
    return {
      keyId: key.keyId,
      denominationMicros: denomination.toString(),
      redeemUntil: new Date(key.redeemUntilMs).toISOString(),
      message: encodeBase64url(message),
      blindedMessage: encodeBase64url(blinded.value.blindedMessage),
      inverse: encodeBase64url(blinded.value.inverse),
    };
  });
  const idempotencyKey = `tokens-${encodeBase64url(random(16))}`;
  return { idempotencyKey, platformUrl, outputs };
}

async function replaceState(
  store: TokenStore,
  change: (
    state: Awaited<ReturnType<TokenStore['load']>>,
  ) => Awaited<ReturnType<TokenStore['load']>>,
): Promise<void> {
  await store.save(change(await store.load()));
}

/** Sends a pending withdrawal and, once signed, turns it into tokens in the store. */
async function send(
  pending: PendingWithdrawal,
  keys: readonly PublishedTokenKey[],
  options: TokenWithdrawalOptions,
): Promise<StoredToken[]> {
  const fetchImpl = options.fetch ?? fetch;
  const drop = () =>
    replaceState(options.store, (state) => ({
      ...state,
      pendingWithdrawals: state.pendingWithdrawals.filter(
        (other) => other.idempotencyKey !== pending.idempotencyKey,
      ),
    }));
  let response: Response;
  try {
    response = await fetchImpl(new URL('/v1/tokens/withdrawals', options.platformUrl), {
      method: 'POST',
      headers: {
        ...(options.sessionToken === undefined
          ? {}
          : { authorization: `Bearer ${options.sessionToken}` }),
        'content-type': 'application/json',
        'idempotency-key': pending.idempotencyKey,
        ...(options.deviceId === undefined ? {} : { 'mite-device': options.deviceId }),
      },
      body: JSON.stringify({
        outputs: pending.outputs.map((o) => ({ keyId: o.keyId, blindedMessage: o.blindedMessage })),
      }),
    });
  } catch (error) {
    throw new TokenWithdrawalError(`the platform could not be reached: ${String(error)}`, true);
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status >= 500 || response.status === 429) {
    throw new TokenWithdrawalError(`the platform answered ${response.status}; try again`, true);
  }
  if (response.status !== 201) {
    // Refused: nothing was charged under this key, and nothing ever will be.
    await drop();
    throw new TokenWithdrawalError(String(body.detail ?? body.title ?? response.status), false);
  }
  const tokens = finish(pending, keys, body.blindSignatures);
  await replaceState(options.store, (state) => ({
    tokens: [...state.tokens, ...tokens],
    pendingWithdrawals: state.pendingWithdrawals.filter(
      (other) => other.idempotencyKey !== pending.idempotencyKey,
    ),
  }));
  return tokens;
}

/** Unblinds each signature and checks it (RFC 9474 Finalize); throws if any is wrong. */
export function finish(
  pending: Pick<PendingWithdrawal, 'outputs'>,
  keys: readonly PublishedTokenKey[],
  signatures: unknown,
): StoredToken[] {
  const list = Array.isArray(signatures) ? (signatures as { blindSignature?: unknown }[]) : [];
  if (list.length !== pending.outputs.length) {
    throw new TokenWithdrawalError('the platform answered the wrong number of signatures', true);
  }
  return pending.outputs.map((output, index) => {
    const key = keys.find((candidate) => candidate.keyId === output.keyId);
    const blindSignature = decodeBase64url(String(list[index]?.blindSignature ?? ''), rsaBytesMax);
    const message = decodeBase64url(output.message, rsaBytesMax);
    const inverse = decodeBase64url(output.inverse, rsaBytesMax);
    if (key === undefined || !blindSignature.ok || !message.ok || !inverse.ok) {
      throw new TokenWithdrawalError(`the signature for key ${output.keyId} is unreadable`, true);
    }
    const signature = finalize(key.publicKey, message.value, blindSignature.value, inverse.value);
    if (!signature.ok) {
      throw new TokenWithdrawalError(
        `the platform\u2019s signature for ${output.keyId} is not valid`,
        true,
      );
    }
    return {
      keyId: output.keyId,
      denominationMicros: output.denominationMicros,
      message: output.message,
      signature: encodeBase64url(signature.value),
      redeemUntil: output.redeemUntil,
    };
  });
}

/** Withdraws exactly `amountMicros` as tokens into the store, and answers the new tokens. */
export async function withdrawTokens(
  options: TokenWithdrawalOptions & { readonly amountMicros: bigint },
): Promise<StoredToken[]> {
  const platformUrl = new URL(options.platformUrl);
  const keys = await fetchTokenKeys(platformUrl, options.fetch ?? fetch);
  const pending = prepareWithdrawal(
    keys,
    options.amountMicros,
    platformUrl.origin,
    options.random ?? defaultRandom,
    (options.nowMs ?? Date.now)(),
  );
  // Saved before it is sent: after a crash, resumeWithdrawals still holds what finishes it.
  await replaceState(options.store, (state) => ({
    ...state,
    pendingWithdrawals: [...state.pendingWithdrawals, pending],
  }));
  return send(pending, keys, options);
}

/** Sends again every withdrawal to this platform left pending; answers the tokens they gave. */
export async function resumeWithdrawals(options: TokenWithdrawalOptions): Promise<StoredToken[]> {
  const platformUrl = new URL(options.platformUrl);
  const pending = (await options.store.load()).pendingWithdrawals.filter(
    (withdrawal) => withdrawal.platformUrl === platformUrl.origin,
  );
  if (pending.length === 0) return [];
  const keys = await fetchTokenKeys(platformUrl, options.fetch ?? fetch);
  const tokens: StoredToken[] = [];
  for (const withdrawal of pending) tokens.push(...(await send(withdrawal, keys, options)));
  return tokens;
}
