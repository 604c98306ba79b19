/**
 * Pays one challenge at the platform: `POST {platform}/v1/payments` with the challenge's echo,
 * retried on network failures, timeouts, 5xx and 429 with the SAME Idempotency-Key, so that the
 * platform replays its first answer instead of charging again.
 */
import {
  type Challenge,
  challengeEcho,
  checkCompactJws,
  decodeReceiptClaims,
  type ReceiptClaims,
} from '@mite/protocol';
import { MitePaymentError, type ReceivedProblem } from './errors.ts';

export interface PlatformPayment {
  readonly paymentId: string;
  readonly receipt: string;
  readonly claims: ReceiptClaims;
}

/** Whether the wallet was charged when the call did not give a usable receipt. */
export type Charged = 'no' | 'unknown' | 'yes';

export type PlatformOutcome =
  | { readonly ok: true; readonly payment: PlatformPayment }
  | { readonly ok: false; readonly charged: Charged; readonly error: MitePaymentError };

export interface PlatformRetry {
  /** Tries in all, the first included (default 3). */
  readonly attempts?: number;
  /** Pause before the first retry, doubled before each next one (default 250 ms). */
  readonly delayMs?: number;
  /** Per try (default 15 s); a timeout counts as a network failure and is retried. */
  readonly timeoutMs?: number;
}

export interface PlatformCall {
  readonly fetch: typeof fetch;
  /** The configured platform's base URL. */
  readonly platformUrl: URL;
  readonly token: () => Promise<string>;
  readonly challenge: Challenge;
  readonly idempotencyKey: string;
  readonly retry: PlatformRetry;
  /** Sent as `Mite-Device` (Wallet.deviceId). */
  readonly deviceId?: string | undefined;
}

/** The URL of an API path under a base URL that may itself have a path (`https://m.example/v/`). */
export function platformEndpoint(platformUrl: URL, path: string): URL {
  const base = new URL(platformUrl.href);
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  base.search = '';
  base.hash = '';
  return new URL(path, base);
}

const retryAfterMaxMs = 10_000;

/** The last segment of a problem `type` (`/v1/problems/insufficient-funds` -> `insufficient-funds`). */
export function problemSlug(problem: ReceivedProblem | undefined): string | undefined {
  const type = problem?.type;
  if (typeof type !== 'string') return undefined;
  return type
    .replace(/[?#].*$/, '')
    .split('/')
    .pop();
}

/** Reads a problem+json (or any JSON object) body; undefined when there is none. */
export async function readProblem(response: Response): Promise<ReceivedProblem | undefined> {
  const type = response.headers.get('content-type') ?? '';
  if (!/json/i.test(type)) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  try {
    const json: unknown = await response.json();
    return typeof json === 'object' && json !== null && !Array.isArray(json)
      ? (json as ReceivedProblem)
      : undefined;
  } catch {
    return undefined;
  }
}

function describe(problem: ReceivedProblem | undefined, status: number): string {
  const text = problem?.detail ?? problem?.title;
  return typeof text === 'string' ? `${status}: ${text}` : `HTTP ${status}`;
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Math.min(Number(value.trim()) * 1000, retryAfterMaxMs);
}

async function readPayment(response: Response): Promise<PlatformOutcome> {
  const refuse = (detail: string, cause?: unknown): PlatformOutcome => ({
    ok: false,
    charged: 'yes',
    error: new MitePaymentError('badReceipt', `the platform's receipt is unusable: ${detail}`, {
      status: response.status,
      paid: true,
      cause,
    }),
  });
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    return refuse('the answer is not JSON', error);
  }
  if (typeof body !== 'object' || body === null) return refuse('the answer is not an object');
  const { paymentId, receipt, claims } = body as Record<string, unknown>;
  if (typeof paymentId !== 'string') return refuse('paymentId is missing');
  const jws = checkCompactJws(receipt as string);
  if (!jws.ok) return refuse(jws.detail);
  const decoded = decodeReceiptClaims(claims);
  if (!decoded.ok) return refuse(decoded.detail);
  if (decoded.value.paymentId !== paymentId) return refuse('the claims name another payment');
  return { ok: true, payment: { paymentId, receipt: jws.value, claims: decoded.value } };
}

/** The payment request itself: one attempt, under the same Idempotency-Key as every other. */
function postPayment(
  call: PlatformCall,
  url: URL,
  token: string,
  body: string,
  timeoutMs: number,
): Promise<Response> {
  return call.fetch(url.href, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, application/problem+json',
      'idempotency-key': call.idempotencyKey,
      ...(call.deviceId === undefined ? {} : { 'mite-device': call.deviceId }),
    },
    body,
    // A payment API does not redirect; following one could carry the token elsewhere.
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** One attempt's answer: final, or worth another try (after `waitMs` at least, when given). */
type AttemptAnswer =
  | { readonly final: true; readonly outcome: PlatformOutcome }
  | {
      readonly final: false;
      readonly outcome: PlatformOutcome;
      readonly waitMs: number | undefined;
    };

/** What the platform's answer to one attempt means: a payment, a refusal, or a reason to retry. */
async function answerOf(response: Response): Promise<AttemptAnswer> {
  const { status } = response;
  if (status === 200 || status === 201) {
    return { final: true, outcome: await readPayment(response) };
  }
  const problem = await readProblem(response);
  const slug = problemSlug(problem);
  const details = problem === undefined ? { status } : { status, problem };
  const message = describe(problem, status);
  if (status >= 500 || (status === 409 && slug === 'idempotency-request-in-progress')) {
    const outcome: PlatformOutcome = {
      ok: false,
      charged: 'unknown',
      error: new MitePaymentError('paymentFailed', `the platform failed: ${message}`, {
        ...details,
        outcomeUnknown: true,
      }),
    };
    return { final: false, outcome, waitMs: retryAfterMs(response) };
  }
  if (status === 429) {
    const outcome: PlatformOutcome = {
      ok: false,
      charged: 'no',
      error: new MitePaymentError('paymentFailed', `the platform is busy: ${message}`, details),
    };
    return { final: false, outcome, waitMs: retryAfterMs(response) };
  }
  const code =
    status === 401 || status === 403
      ? 'walletUnauthorized'
      : slug === 'insufficient-funds'
        ? 'insufficientFunds'
        : slug === 'duplicate-payment'
          ? 'duplicatePayment'
          : 'paymentFailed';
  return {
    final: true,
    outcome: {
      ok: false,
      charged: 'no',
      error: new MitePaymentError(code, `the platform refused the payment: ${message}`, details),
    },
  };
}

/** Pays the challenge; never throws (every failure is an outcome saying whether money moved). */
export async function payAtPlatform(call: PlatformCall): Promise<PlatformOutcome> {
  const attempts = Math.max(1, call.retry.attempts ?? 3);
  const delayMs = call.retry.delayMs ?? 250;
  const timeoutMs = call.retry.timeoutMs ?? 15_000;
  const url = platformEndpoint(call.platformUrl, 'v1/payments');
  const body = JSON.stringify({ challenge: challengeEcho(call.challenge) });
  let token: string;
  try {
    token = await call.token();
  } catch (error) {
    return {
      ok: false,
      charged: 'no',
      error: new MitePaymentError('walletUnauthorized', 'the wallet token is unavailable', {
        cause: error,
      }),
    };
  }
  let last: PlatformOutcome | undefined;
  let pauseMs = delayMs;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    if (attempt > 1) {
      await sleep(pauseMs);
      pauseMs *= 2;
    }
    let response: Response;
    try {
      response = await postPayment(call, url, token, body, timeoutMs);
    } catch (error) {
      // The request may have reached the platform and been taken: only a retry with the same
      // key can tell, and the platform answers it with the first outcome.
      last = {
        ok: false,
        charged: 'unknown',
        error: new MitePaymentError(
          'paymentFailed',
          `the platform could not be reached (${attempts} tries); the payment may have been taken`,
          { outcomeUnknown: true, cause: error },
        ),
      };
      continue;
    }
    const answer = await answerOf(response);
    if (answer.final) return answer.outcome;
    last = answer.outcome;
    if (answer.waitMs !== undefined) pauseMs = Math.max(pauseMs, answer.waitMs);
  }
  return (
    last ?? {
      ok: false,
      charged: 'no',
      error: new MitePaymentError('paymentFailed', 'the platform was not called'),
    }
  );
}
