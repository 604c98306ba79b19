/**
 * The paying user's calls about payment sessions, with the wallet's session token (as
 * platform-client.ts pays a charge): open a session on a merchant's session challenge with a
 * deposit and a voucher commitment (`POST /v1/payment-sessions`), top it up (`POST .../top-ups`),
 * and close it as the payer (`POST .../close`, when the merchant cannot be told). Opens and
 * top-ups move money, so a retry after a network failure, a timeout, a 5xx or a 429 carries the
 * same Idempotency-Key, and the platform answers it with its first answer.
 */
import {
  decodeBase64urlJson,
  decodeSessionGrantClaims,
  jwsLengthMax,
  type SessionChallenge,
  sessionChallengeEcho,
  type SessionGrantClaims,
  type SessionVoucherWire,
} from '@mite/protocol';
import { MitePaymentError } from '../errors.ts';
import {
  type Charged,
  platformEndpoint,
  type PlatformRetry,
  problemSlug,
  readProblem,
} from '../platform-client.ts';

export interface UserPlatform {
  readonly fetch: typeof fetch;
  readonly platformUrl: URL;
  readonly token: () => Promise<string>;
  readonly retry: PlatformRetry;
  readonly deviceId: string | undefined;
}

/** What a voucher commitment is on the wire of `POST /v1/payment-sessions`. */
export type CommitmentWire =
  | { readonly kind: 'payword'; readonly anchor: string; readonly chainLength: number }
  | { readonly kind: 'ed25519'; readonly key: string };

/** A session's grant from the platform, its claims read (the merchant checks its signature). */
export interface Granted {
  readonly sessionId: string;
  readonly grant: string;
  readonly claims: SessionGrantClaims;
}

export type PlatformSessionOutcome =
  | { readonly ok: true; readonly granted: Granted }
  | { readonly ok: false; readonly charged: Charged; readonly error: MitePaymentError };

const defaultAttempts = 3;
const defaultDelayMs = 250;
const defaultTimeoutMs = 15_000;

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** The grant in an answer, its claims decoded (not its signature: the merchant checks that). */
function grantedOf(body: unknown): Granted | undefined {
  const { session, grant } = (body ?? {}) as { session?: { id?: unknown }; grant?: unknown };
  if (typeof grant !== 'string' || grant.length > jwsLengthMax) return undefined;
  const payload = grant.split('.')[1];
  const json = payload === undefined ? undefined : decodeBase64urlJson(payload, jwsLengthMax);
  const claims = json?.ok === true ? decodeSessionGrantClaims(json.value) : undefined;
  if (claims?.ok !== true || claims.value.claims.channelId !== session?.id) return undefined;
  return { sessionId: claims.value.claims.channelId, grant, claims: claims.value.claims };
}

function refusalOf(status: number, problem: Record<string, unknown> | undefined): MitePaymentError {
  const slug = problemSlug(problem);
  const detail = typeof problem?.['detail'] === 'string' ? problem['detail'] : `HTTP ${status}`;
  const code =
    slug === 'insufficient-funds' || problem?.['miteCode'] === 'insufficientFunds'
      ? 'insufficientFunds'
      : slug === 'policy-blocked'
        ? 'policyBlocked'
        : status === 401 || status === 403
          ? 'walletUnauthorized'
          : 'paymentFailed';
  return new MitePaymentError(code, `the platform refused the session: ${detail}`, {
    status,
    ...(problem === undefined ? {} : { problem }),
  });
}

async function attempt(
  platform: UserPlatform,
  url: URL,
  body: unknown,
  idempotencyKey: string | undefined,
): Promise<{ readonly retry: boolean; readonly outcome: PlatformSessionOutcome }> {
  let response: Response;
  try {
    response = await platform.fetch(url.href, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await platform.token()}`,
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
        ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
        ...(platform.deviceId === undefined ? {} : { 'mite-device': platform.deviceId }),
      },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(platform.retry.timeoutMs ?? defaultTimeoutMs),
    });
  } catch (error) {
    const unreachable = new MitePaymentError('paymentFailed', 'the platform could not be reached', {
      outcomeUnknown: true,
      cause: error,
    });
    return { retry: true, outcome: { ok: false, charged: 'unknown', error: unreachable } };
  }
  if (response.ok) {
    const granted = grantedOf(await response.json().catch(() => undefined));
    if (granted !== undefined) return { retry: false, outcome: { ok: true, granted } };
    const bad = new MitePaymentError('badReceipt', 'the platform answered without a usable grant', {
      status: response.status,
      paid: true,
    });
    return { retry: false, outcome: { ok: false, charged: 'yes', error: bad } };
  }
  const problem = (await readProblem(response)) as Record<string, unknown> | undefined;
  const retry = response.status >= 500 || response.status === 429;
  const charged: Charged = response.status >= 500 ? 'unknown' : 'no';
  return { retry, outcome: { ok: false, charged, error: refusalOf(response.status, problem) } };
}

/** POSTs with retries under one Idempotency-Key; never throws. */
async function post(
  platform: UserPlatform,
  path: string,
  body: unknown,
  idempotencyKey: string | undefined,
): Promise<PlatformSessionOutcome> {
  const url = platformEndpoint(platform.platformUrl, path);
  const attempts = Math.max(1, platform.retry.attempts ?? defaultAttempts);
  let pauseMs = platform.retry.delayMs ?? defaultDelayMs;
  let last: PlatformSessionOutcome | undefined;
  for (let tried = 1; tried <= attempts; tried += 1) {
    if (tried > 1) {
      await sleep(pauseMs);
      pauseMs *= 2;
    }
    let answer: Awaited<ReturnType<typeof attempt>>;
    try {
      answer = await attempt(platform, url, body, idempotencyKey);
    } catch (error) {
      const unavailable = new MitePaymentError(
        'walletUnauthorized',
        'the wallet token is unavailable',
        {
          cause: error,
        },
      );
      return { ok: false, charged: 'no', error: unavailable };
    }
    last = answer.outcome;
    if (!answer.retry) return last;
  }
  return (
    last ?? { ok: false, charged: 'no', error: new MitePaymentError('paymentFailed', 'no call') }
  );
}

const sessionsPath = 'v1/payment-sessions';
const sessionPath = (sessionId: string) => `${sessionsPath}/${encodeURIComponent(sessionId)}`;

export function openSessionAtPlatform(
  platform: UserPlatform,
  challenge: SessionChallenge,
  depositMicros: bigint,
  commitment: CommitmentWire,
): Promise<PlatformSessionOutcome> {
  const body = {
    challenge: sessionChallengeEcho(challenge),
    deposit: depositMicros.toString(),
    voucher: commitment,
  };
  return post(platform, sessionsPath, body, crypto.randomUUID());
}

export function topUpAtPlatform(
  platform: UserPlatform,
  sessionId: string,
  amountMicros: bigint,
): Promise<PlatformSessionOutcome> {
  const body = { amount: amountMicros.toString() };
  return post(platform, `${sessionPath(sessionId)}/top-ups`, body, crypto.randomUUID());
}

/** The payer's close: the platform settles after its grace period at the highest voucher. */
export async function closeAtPlatform(
  platform: UserPlatform,
  sessionId: string,
  voucher: SessionVoucherWire | undefined,
): Promise<boolean> {
  const url = platformEndpoint(platform.platformUrl, `${sessionPath(sessionId)}/close`);
  try {
    const response = await platform.fetch(url.href, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await platform.token()}`,
        'content-type': 'application/json',
        accept: 'application/json, application/problem+json',
      },
      body: JSON.stringify(voucher === undefined ? {} : { voucher }),
      redirect: 'error',
      signal: AbortSignal.timeout(platform.retry.timeoutMs ?? defaultTimeoutMs),
    });
    await response.body?.cancel().catch(() => undefined);
    return response.ok || response.status === 410;
  } catch {
    return false;
  }
}
