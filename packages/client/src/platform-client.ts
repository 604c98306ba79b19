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
  formatAmount,
  parseBaseUnits,
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

/**
 * What the `approve` callback is shown when the platform's policy asks the user to confirm a
 * payment (a `policy-challenged` answer): why, by which rule, and the payment in question.
 */
export interface PolicyChallenge {
  /** Why the platform asks, in words for the person paying. */
  readonly reason: string;
  /** The rule that asked (`velocity.payments`, ...). */
  readonly rule: string;
  /** The amount, as a decimal string in the wallet's currency ("0.05"). */
  readonly amount: string;
  readonly amountMicros: bigint;
  /** The merchant paid: its platform id, and its name as the challenge gives it (the realm). */
  readonly merchant: string;
  readonly merchantName: string;
  /** The platform's decision, which the client confirms before sending the payment again. */
  readonly decisionId: string;
}

/** Says whether the person confirms a payment the platform's policy challenged. */
export type PolicyApproval = (challenge: PolicyChallenge) => boolean | Promise<boolean>;

/** The header a payment sent again names the confirmed decision in. */
export const policyConfirmationHeader = 'mite-policy-confirmation';

export interface PlatformCall {
  readonly fetch: typeof fetch;
  /** The configured platform's base URL. */
  readonly platformUrl: URL;
  readonly token: () => Promise<string>;
  readonly challenge: Challenge;
  readonly idempotencyKey: string;
  readonly retry: PlatformRetry;
  /** Asked when the platform's policy challenges the payment; without it, that is a failure. */
  readonly approve?: PolicyApproval | undefined;
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
  confirmation: string | undefined,
): Promise<Response> {
  return call.fetch(url.href, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, application/problem+json',
      'idempotency-key': call.idempotencyKey,
      ...(confirmation === undefined ? {} : { [policyConfirmationHeader]: confirmation }),
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
    slug === 'policy-challenged'
      ? 'policyChallenged'
      : slug === 'policy-blocked'
        ? 'policyBlocked'
        : status === 401 || status === 403
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

/**
 * Pays the challenge; never throws (every failure is an outcome saying whether money moved). A
 * payment the platform's policy challenges is put to `approve`; if it says yes, the decision is
 * confirmed and the payment sent once more, under the same Idempotency-Key, naming it.
 */
export async function payAtPlatform(call: PlatformCall): Promise<PlatformOutcome> {
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
  const first = await postWithRetries(call, token, undefined);
  const asked = policyChallengeOf(first, call.challenge);
  if (asked === undefined || call.approve === undefined) return first;
  if (!(await approves(call.approve, asked))) return first;
  const confirmed = await confirmDecision(call, token, asked.decisionId);
  if (confirmed !== undefined) return { ok: false, charged: 'no', error: confirmed };
  return postWithRetries(call, token, asked.decisionId);
}

/** What to ask the person about a policy challenge; undefined for any other outcome. */
function policyChallengeOf(
  outcome: PlatformOutcome,
  challenge: Challenge,
): PolicyChallenge | undefined {
  if (outcome.ok || outcome.error.code !== 'policyChallenged') return undefined;
  const problem = outcome.error.problem;
  const decisionId = problem?.decisionId;
  if (typeof decisionId !== 'string') return undefined;
  const amountMicros = parseBaseUnits(challenge.request.amount);
  if (!amountMicros.ok) return undefined;
  return {
    reason:
      typeof problem?.detail === 'string' ? problem.detail : 'the platform asks you to confirm',
    rule: typeof problem?.rule === 'string' ? problem.rule : 'unknown',
    amount: formatAmount(amountMicros.value),
    amountMicros: amountMicros.value,
    merchant: challenge.request.recipient,
    merchantName: challenge.realm,
    decisionId,
  };
}

/** The callback's yes; a callback that throws says no. */
async function approves(approve: PolicyApproval, asked: PolicyChallenge): Promise<boolean> {
  try {
    return (await approve(asked)) === true;
  } catch {
    return false;
  }
}

/** Confirms the decision at the platform: undefined once it is, else why not. */
async function confirmDecision(
  call: PlatformCall,
  token: string,
  decisionId: string,
): Promise<MitePaymentError | undefined> {
  const path = `v1/policy-decisions/${encodeURIComponent(decisionId)}/confirmation`;
  const url = platformEndpoint(call.platformUrl, path);
  let response: Response;
  try {
    response = await call.fetch(url.href, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/json, application/problem+json',
      },
      redirect: 'error',
      signal: AbortSignal.timeout(call.retry.timeoutMs ?? 15_000),
    });
  } catch (error) {
    return new MitePaymentError('policyChallenged', 'the confirmation could not be sent', {
      cause: error,
    });
  }
  if (response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  const problem = await readProblem(response);
  const details =
    problem === undefined ? { status: response.status } : { status: response.status, problem };
  return new MitePaymentError(
    'policyChallenged',
    `the platform refused the confirmation: ${describe(problem, response.status)}`,
    details,
  );
}

/** The payment sent, and sent again on network failures, 5xx and 429, with one key. */
async function postWithRetries(
  call: PlatformCall,
  token: string,
  confirmation: string | undefined,
): Promise<PlatformOutcome> {
  const attempts = Math.max(1, call.retry.attempts ?? 3);
  const delayMs = call.retry.delayMs ?? 250;
  const timeoutMs = call.retry.timeoutMs ?? 15_000;
  const url = platformEndpoint(call.platformUrl, 'v1/payments');
  const body = JSON.stringify({ challenge: challengeEcho(call.challenge) });
  let last: PlatformOutcome | undefined;
  let pauseMs = delayMs;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    if (attempt > 1) {
      await sleep(pauseMs);
      pauseMs *= 2;
    }
    let response: Response;
    try {
      response = await postPayment(call, url, token, body, timeoutMs, confirmation);
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
