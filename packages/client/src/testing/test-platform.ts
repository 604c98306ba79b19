/**
 * A loopback stand-in for the platform's `POST /v1/payments`, implementing the contract the client
 * pays against: Bearer session tokens, Idempotency-Key (a retry gets the first answer again, a
 * key reused on another body is refused), the challenge echo checked with the protocol's
 * decoders, balances in bigint, a challenge paid at most once, receipts signed as compact JWS
 * (EdDSA) with `jose`, and RFC 9457 problems. Faults can be injected to test the client's
 * retries. Test-only: it uses Node modules and `jose`, which the client does not depend on.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  canonicalJson,
  checkChallengeTimes,
  decodeChallengeEcho,
  formatAmount,
  parseAmount,
  type ReceiptClaims,
  receiptMediaType,
  requestAmountMicros,
  sameCurrency,
} from '@mite/protocol';
import {
  calculateJwkThumbprint,
  CompactSign,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
} from 'jose';
import { listen, readBody, sendJson } from './http.ts';

/** What the next payment requests suffer, to test the client's retries. */
export type PlatformFault =
  /** The connection is cut before anything is done: nothing is charged. */
  | 'dropBeforeCommit'
  /** The payment is taken and its answer kept for replay, then the connection is cut. */
  | 'dropAfterCommit'
  /** 500, nothing is done (and nothing kept for the key, as the real platform does). */
  | 'serverError';

export interface TestPlatformOptions {
  /** Milliseconds since the epoch (default `Date.now`). */
  readonly clock?: () => number;
  /** Session token -> balance, as decimal strings. */
  readonly accounts?: Readonly<Record<string, string>>;
  readonly currency?: string;
}

export interface PlatformPaymentRecord {
  readonly paymentId: string;
  readonly token: string;
  readonly amountMicros: bigint;
  readonly challengeId: string;
  readonly merchantId: string;
  readonly resource: string;
  readonly idempotencyKey: string;
}

export interface PlatformAttempt {
  readonly idempotencyKey: string | undefined;
  readonly status: number | 'dropped';
  readonly replayed: boolean;
  /** The `Mite-Device` header the attempt carried. */
  readonly device?: string;
}

export interface TestPlatform {
  readonly url: string;
  readonly jwks: { readonly keys: readonly JWK[] };
  /** Every payment taken, in order. */
  readonly payments: readonly PlatformPaymentRecord[];
  /** Every POST /v1/payments received, in order. */
  readonly attempts: readonly PlatformAttempt[];
  balanceOf(token: string): bigint;
  setBalance(token: string, amount: string): void;
  injectFaults(...faults: PlatformFault[]): void;
  close(): Promise<void>;
}

const problemPrefix = '/v1/problems/';

function sendProblem(
  response: ServerResponse,
  status: number,
  slug: string,
  detail: string,
): { status: number; body: unknown } {
  const body = { type: `${problemPrefix}${slug}`, title: slug.replace(/-/g, ' '), status, detail };
  sendJson(response, status, body, { 'content-type': 'application/problem+json' });
  return { status, body };
}

function identity(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
}

interface KeptAnswer {
  readonly requestHash: string;
  answer?: { readonly status: number; readonly body: unknown };
}

function micros(amount: string): bigint {
  const parsed = parseAmount(amount);
  if (!parsed.ok) throw new RangeError(parsed.detail);
  return parsed.value;
}

export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const clock = options.clock ?? Date.now;
  const currency = options.currency ?? 'USD';
  const balances = new Map<string, bigint>(
    Object.entries(options.accounts ?? {}).map(([token, amount]) => [token, micros(amount)]),
  );
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] };
  const payments: PlatformPaymentRecord[] = [];
  const attempts: PlatformAttempt[] = [];
  const paidChallenges = new Set<string>();
  const kept = new Map<string, KeptAnswer>();
  const faults: PlatformFault[] = [];
  let ownUrl = '';

  async function sign(claims: ReceiptClaims, key: CryptoKey): Promise<string> {
    return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: receiptMediaType })
      .sign(key);
  }

  /** The payment itself, once the key is known to be fresh. Debits before any await. */
  async function pay(
    response: ServerResponse,
    token: string,
    idempotencyKey: string,
    body: unknown,
  ): Promise<{ status: number; body: unknown }> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return sendProblem(response, 400, 'validation', 'the body is a JSON object');
    }
    const fields = Object.keys(body);
    if (fields.length !== 1 || fields[0] !== 'challenge') {
      return sendProblem(response, 400, 'validation', 'the body is { "challenge": echo }');
    }
    const decoded = decodeChallengeEcho((body as { challenge: unknown }).challenge, 'challenge');
    if (!decoded.ok) return sendProblem(response, 422, 'validation', decoded.detail);
    const challenge = decoded.value;
    const nowSeconds = Math.floor(clock() / 1000);
    const times = checkChallengeTimes(challenge, nowSeconds);
    if (!times.ok) return sendProblem(response, 422, 'challenge-expired', times.detail);
    const { request } = challenge;
    if (identity(request.methodDetails.platform) !== identity(ownUrl)) {
      return sendProblem(response, 422, 'wrong-platform', 'the challenge names another platform');
    }
    if (!sameCurrency(request.currency, currency)) {
      return sendProblem(response, 422, 'unsupported-currency', `this platform keeps ${currency}`);
    }
    if (paidChallenges.has(challenge.id)) {
      return sendProblem(response, 409, 'duplicate-payment', 'this challenge was paid already');
    }
    const amount = requestAmountMicros(request);
    const balance = balances.get(token) ?? 0n;
    if (balance < amount) {
      return sendProblem(
        response,
        409,
        'insufficient-funds',
        `the wallet holds ${formatAmount(balance)}, the price is ${formatAmount(amount)}`,
      );
    }
    balances.set(token, balance - amount);
    paidChallenges.add(challenge.id);
    const paymentId = `pay_${randomUUID()}`;
    payments.push({
      paymentId,
      token,
      amountMicros: amount,
      challengeId: challenge.id,
      merchantId: request.recipient,
      resource: request.methodDetails.resource,
      idempotencyKey,
    });
    const payer = `psn_${createHash('sha256').update(`${token}\n${request.recipient}`).digest('hex').slice(0, 16)}`;
    const claims: ReceiptClaims = {
      paymentId,
      merchantId: request.recipient,
      resource: request.methodDetails.resource,
      amount: formatAmount(amount),
      currency,
      payer,
      issuedAt: nowSeconds,
      accessUntil: nowSeconds + request.methodDetails.accessPeriodSeconds,
      challengeId: challenge.id,
    };
    const receipt = await sign(claims, privateKey);
    const answer = { status: 201, body: { paymentId, receipt, claims } };
    return answer;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://platform').pathname;
    if (request.method === 'GET' && path === '/v1/keys') {
      sendJson(response, 200, jwks);
      return;
    }
    if (request.method !== 'POST' || path !== '/v1/payments') {
      sendProblem(response, 404, 'not-found', `no route ${request.method} ${path}`);
      return;
    }
    const text = await readBody(request);
    const idempotencyKey = request.headers['idempotency-key'];
    const key = typeof idempotencyKey === 'string' ? idempotencyKey : undefined;
    const record = (status: number | 'dropped', replayed = false): void => {
      const device = request.headers['mite-device'];
      attempts.push({
        idempotencyKey: key,
        status,
        replayed,
        ...(typeof device === 'string' ? { device } : {}),
      });
    };
    const fault = faults.shift();
    if (fault === 'dropBeforeCommit') {
      record('dropped');
      response.socket?.destroy();
      return;
    }
    const authorization = request.headers.authorization ?? '';
    const token = /^Bearer ([\x21-\x7e]+)$/.exec(authorization)?.[1];
    if (token === undefined || !balances.has(token)) {
      record(sendProblem(response, 401, 'unauthenticated', 'no valid session token').status);
      return;
    }
    if (key === undefined || !/^[\x21-\x7e]{1,255}$/.test(key)) {
      record(
        sendProblem(response, 400, 'idempotency-key-required', 'send an Idempotency-Key').status,
      );
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      record(sendProblem(response, 400, 'bad-json', 'the body is not JSON').status);
      return;
    }
    const scope = `${token}\n${key}`;
    const requestHash = createHash('sha256').update(canonicalJson(body)).digest('hex');
    const previous = kept.get(scope);
    if (previous !== undefined) {
      if (previous.requestHash !== requestHash) {
        record(
          sendProblem(response, 422, 'idempotency-key-reused', 'this key was used on another body')
            .status,
        );
      } else if (previous.answer === undefined) {
        record(
          sendProblem(response, 409, 'idempotency-request-in-progress', 'the first try runs')
            .status,
        );
      } else {
        const { status, body: answer } = previous.answer;
        const problem = status >= 400;
        sendJson(response, status, answer, {
          'idempotent-replayed': 'true',
          ...(problem ? { 'content-type': 'application/problem+json' } : {}),
        });
        record(status, true);
      }
      return;
    }
    if (fault === 'serverError') {
      record(sendProblem(response, 500, 'internal', 'injected failure').status);
      return;
    }
    const entry: KeptAnswer = { requestHash };
    kept.set(scope, entry);
    // `pay` answers refusals itself; a success is answered here, so that a fault can hide it.
    let answer: { status: number; body: unknown };
    try {
      answer = await pay(response, token, key, body);
    } catch (error) {
      kept.delete(scope);
      throw error;
    }
    entry.answer = answer;
    if (answer.status !== 201) {
      record(answer.status);
      return;
    }
    if (fault === 'dropAfterCommit') {
      record('dropped');
      response.socket?.destroy();
      return;
    }
    sendJson(response, 201, answer.body);
    record(201);
  }

  const running = await listen(handle);
  ownUrl = running.url;
  return {
    url: running.url,
    jwks,
    payments,
    attempts,
    balanceOf: (token) => balances.get(token) ?? 0n,
    setBalance: (token, amount) => {
      balances.set(token, micros(amount));
    },
    injectFaults: (...added) => {
      faults.push(...added);
    },
    close: () => running.close(),
  };
}
