/**
 * A loopback stand-in for the platform's payment-session routes, speaking the wire of
 * docs/notes/sessions-contract.md so that the middleware, the client and `mite pay --stream` are
 * tested over real HTTP before packages/server has them: the JWKS at `/v1/keys`, grants signed as
 * compact JWS (EdDSA, `typ` `mite-session+jwt`) with a real Ed25519 key, deposits held out of
 * users' balances, Idempotency-Key replays, vouchers checked against the grant's commitment by the
 * protocol's own functions (the highest kept), merchant and user closes, and problem+json refusals
 * with `miteCode`. Test-only: not exported from the package. The real end-to-end test waits for
 * packages/server's routes.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkSessionChallengeTimes,
  decodeBase64url,
  decodeSessionVoucher,
  encodeBase64url,
  type GrantCommitment,
  paywordWordMatches,
  type SessionChallenge,
  type SessionGrantClaims,
  sessionChallengeFromEcho,
  sessionGrantMediaType,
  type SessionVoucher,
  voucherSignatureValid,
} from '@mite/protocol';
import { createSigningKey, signReceipt, type SigningKey } from '../test-platform.ts';

/** How long a test session's grant lasts. */
export const testSessionLifetimeSeconds = 3_600;

export interface TestSessionRecord {
  readonly id: string;
  readonly challenge: SessionChallenge;
  readonly userToken: string;
  readonly commitment: GrantCommitment;
  depositMicros: bigint;
  acceptedMicros: bigint;
  settledMicros: bigint | undefined;
  state: 'open' | 'closing' | 'settled';
  closeReason: 'merchant' | 'client' | undefined;
  sequence: number;
  readonly openUntilSeconds: number;
}

export interface SessionTestPlatform {
  readonly url: string;
  readonly signingKey: SigningKey;
  readonly sessions: ReadonlyMap<string, TestSessionRecord>;
  /** Every call to a session route, in order: `POST /v1/payment-sessions/ses_.../vouchers`. */
  readonly calls: readonly string[];
  /** A user's balance (micro-units), deposits held taken off. */
  balanceOf(token: string): bigint;
  /** Answers 503 to every session route while down. */
  setDown(down: boolean): void;
  /** Signs a grant as the platform would (for tests that forge or alter one). */
  signGrant(
    claims: SessionGrantClaims | Record<string, unknown>,
    key?: SigningKey,
  ): Promise<string>;
  close(): Promise<void>;
}

export interface SessionTestPlatformOptions {
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  /** User session tokens and their balances (micro-units). */
  readonly users: Readonly<Record<string, bigint>>;
  /** Merchant API keys and the merchant ids they act for. */
  readonly merchants: Readonly<Record<string, string>>;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly miteCode: string,
    detail: string,
  ) {
    super(detail);
  }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    const json = JSON.parse(text === '' ? '{}' : text) as unknown;
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) {
      return json as Record<string, unknown>;
    }
  } catch {
    // Refused below.
  }
  throw new Refusal(400, 'badJson', 'the body is a JSON object');
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const problem = status >= 400;
  response.writeHead(status, {
    'content-type': problem ? 'application/problem+json' : 'application/json',
  });
  response.end(JSON.stringify(body));
}

function micros(text: unknown, what: string): bigint {
  if (typeof text !== 'string' || !/^[1-9][0-9]{0,17}$/.test(text)) {
    throw new Refusal(400, 'badAmount', `${what} is an integer of micro-units above 0`);
  }
  return BigInt(text);
}

function commitmentOf(body: unknown): GrantCommitment {
  const voucher = (body ?? {}) as Record<string, unknown>;
  const bytes = (text: unknown) => {
    const decoded = typeof text === 'string' ? decodeBase64url(text, 64) : undefined;
    if (decoded?.ok !== true) throw new Refusal(400, 'badValue', 'a commitment is base64url');
    return decoded.value;
  };
  if (voucher['kind'] === 'payword' && typeof voucher['chainLength'] === 'number') {
    return {
      kind: 'payword',
      anchor: bytes(voucher['anchor']),
      chainLength: voucher['chainLength'],
    };
  }
  if (voucher['kind'] === 'ed25519') return { kind: 'ed25519', voucherKey: bytes(voucher['key']) };
  throw new Refusal(400, 'badValue', 'voucher is { kind: "payword" | "ed25519", ... }');
}

function voucherValid(record: TestSessionRecord, voucher: SessionVoucher): boolean {
  const { commitment } = record;
  if (voucher.proof.kind === 'ed25519') {
    return commitment.kind === 'ed25519' && voucherSignatureValid(voucher, commitment.voucherKey);
  }
  if (commitment.kind !== 'payword') return false;
  const unit = BigInt(record.challenge.request.amount);
  if (voucher.cumulativeMicros % unit !== 0n) return false;
  const units = Number(voucher.cumulativeMicros / unit);
  return (
    units <= commitment.chainLength &&
    paywordWordMatches(voucher.proof.word, units, commitment.anchor, 0)
  );
}

export async function startSessionTestPlatform(
  options: SessionTestPlatformOptions,
): Promise<SessionTestPlatform> {
  const signingKey = await createSigningKey();
  const sessions = new Map<string, TestSessionRecord>();
  const balances = new Map(Object.entries(options.users));
  const answers = new Map<string, { readonly body: string; readonly answer: unknown }>();
  const calls: string[] = [];
  let down = false;
  const nowSeconds = () => Math.floor(options.clock() / 1000);

  const signGrant = (claims: SessionGrantClaims | Record<string, unknown>, key = signingKey) =>
    signReceipt(claims as Record<string, unknown>, key, { typ: sessionGrantMediaType });

  function bearer(request: IncomingMessage): string {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined)
      throw new Refusal(401, 'unauthorized', 'a bearer token is needed');
    return match[1];
  }

  function user(request: IncomingMessage): string {
    const token = bearer(request);
    if (!balances.has(token)) throw new Refusal(401, 'unauthorized', 'unknown session token');
    return token;
  }

  function sessionJson(record: TestSessionRecord) {
    const { request } = record.challenge;
    return {
      id: record.id,
      merchantId: request.recipient,
      resource: request.methodDetails.resource,
      currency: 'USD',
      unitPrice: request.amount,
      unitType: request.unitType,
      deposit: record.depositMicros.toString(),
      acceptedCumulative: record.acceptedMicros.toString(),
      settledAmount: record.settledMicros?.toString() ?? null,
      voucherKind: record.commitment.kind,
      state: record.state,
      closeReason: record.closeReason ?? null,
    };
  }

  async function grantOf(record: TestSessionRecord): Promise<string> {
    const { request } = record.challenge;
    const { commitment } = record;
    return signGrant({
      channelId: record.id,
      merchantId: request.recipient,
      resource: request.methodDetails.resource,
      challengeId: record.challenge.id,
      payer: `psn_${record.userToken.length}`,
      currency: 'USD',
      amount: request.amount,
      unitType: request.unitType,
      deposit: record.depositMicros.toString(),
      minVoucherDelta: request.methodDetails.minVoucherDelta,
      voucherKind: commitment.kind,
      ...(commitment.kind === 'payword'
        ? { anchor: encodeBase64url(commitment.anchor), chainLength: commitment.chainLength }
        : { voucherKey: encodeBase64url(commitment.voucherKey) }),
      issuedAt: nowSeconds(),
      openUntil: record.openUntilSeconds,
      sequence: record.sequence,
    });
  }

  function hold(token: string, amount: bigint): void {
    const balance = balances.get(token) ?? 0n;
    if (balance < amount) throw new Refusal(402, 'insufficientFunds', 'the balance is too low');
    balances.set(token, balance - amount);
  }

  /** Replays the first answer to an Idempotency-Key; a key on another body is refused. */
  async function once(request: IncomingMessage, body: unknown, work: () => Promise<unknown>) {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string')
      throw new Refusal(400, 'missingField', 'Idempotency-Key is needed');
    const text = JSON.stringify(body);
    const held = answers.get(key);
    if (held !== undefined) {
      if (held.body !== text) throw new Refusal(409, 'idempotencyKeyReused', 'another body');
      return held.answer;
    }
    const answer = await work();
    answers.set(key, { body: text, answer });
    return answer;
  }

  async function open(request: IncomingMessage): Promise<[number, unknown]> {
    const token = user(request);
    const body = await readJson(request);
    const answer = await once(request, body, async () => {
      const echo = body['challenge'] as Parameters<typeof sessionChallengeFromEcho>[0];
      const decoded = sessionChallengeFromEcho(echo);
      if (!decoded.ok) throw new Refusal(400, decoded.code, decoded.detail);
      const times = checkSessionChallengeTimes(decoded.value, nowSeconds());
      if (!times.ok) throw new Refusal(400, times.code, times.detail);
      const deposit = micros(body['deposit'], 'deposit');
      const commitment = commitmentOf(body['voucher']);
      hold(token, deposit);
      const record: TestSessionRecord = {
        id: `ses_${randomBytes(16).toString('hex')}`,
        challenge: decoded.value,
        userToken: token,
        commitment,
        depositMicros: deposit,
        acceptedMicros: 0n,
        settledMicros: undefined,
        state: 'open',
        closeReason: undefined,
        sequence: 0,
        openUntilSeconds: nowSeconds() + testSessionLifetimeSeconds,
      };
      sessions.set(record.id, record);
      return { session: sessionJson(record), grant: await grantOf(record) };
    });
    return [201, answer];
  }

  function recordOf(id: string): TestSessionRecord {
    const record = sessions.get(id);
    if (record === undefined) throw new Refusal(404, 'sessionUnknown', 'no such session');
    return record;
  }

  async function topUp(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const token = user(request);
    const body = await readJson(request);
    const answer = await once(request, { id, body }, async () => {
      const record = recordOf(id);
      if (record.userToken !== token) throw new Refusal(404, 'sessionUnknown', 'not yours');
      if (record.state !== 'open') throw new Refusal(410, 'sessionClosed', 'the session is closed');
      const amount = micros(body['amount'], 'amount');
      hold(token, amount);
      record.depositMicros += amount;
      record.sequence += 1;
      return { session: sessionJson(record), grant: await grantOf(record) };
    });
    return [200, answer];
  }

  function merchantFor(request: IncomingMessage, record: TestSessionRecord): boolean {
    const token = bearer(request);
    const merchant = options.merchants[token];
    if (merchant !== undefined) {
      if (merchant !== record.challenge.request.recipient) {
        throw new Refusal(404, 'sessionUnknown', 'not this merchant’s');
      }
      return true;
    }
    if (record.userToken !== token) throw new Refusal(401, 'unauthorized', 'unknown token');
    return false;
  }

  function takeVoucher(record: TestSessionRecord, json: unknown): void {
    const voucher = decodeSessionVoucher(json);
    if (!voucher.ok) throw new Refusal(400, voucher.code, voucher.detail);
    if (voucher.value.channelId !== record.id)
      throw new Refusal(400, 'voucherInvalid', 'another session');
    if (voucher.value.cumulativeMicros > record.depositMicros) {
      throw new Refusal(402, 'voucherExceedsDeposit', 'beyond the deposit');
    }
    if (!voucherValid(record, voucher.value)) throw new Refusal(402, 'voucherInvalid', 'bad proof');
    if (voucher.value.cumulativeMicros > record.acceptedMicros) {
      record.acceptedMicros = voucher.value.cumulativeMicros;
    }
  }

  function settle(record: TestSessionRecord, reason: 'merchant' | 'client'): void {
    record.state = 'settled';
    record.closeReason = reason;
    record.settledMicros = record.acceptedMicros;
    const refund = record.depositMicros - record.acceptedMicros;
    balances.set(record.userToken, (balances.get(record.userToken) ?? 0n) + refund);
  }

  async function vouchers(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const record = recordOf(id);
    if (!merchantFor(request, record)) throw new Refusal(403, 'forbidden', 'merchants only');
    const body = await readJson(request);
    if (record.state === 'settled') throw new Refusal(410, 'sessionClosed', 'settled');
    takeVoucher(record, body);
    return [200, { session: sessionJson(record) }];
  }

  async function close(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const record = recordOf(id);
    const byMerchant = merchantFor(request, record);
    const body = await readJson(request);
    if (record.state === 'settled') throw new Refusal(410, 'sessionClosed', 'settled');
    if (body['voucher'] !== undefined) takeVoucher(record, body['voucher']);
    if (byMerchant) settle(record, 'merchant');
    else {
      record.state = 'closing';
      record.closeReason = 'client';
    }
    return [200, { session: sessionJson(record) }];
  }

  async function route(request: IncomingMessage): Promise<[number, unknown]> {
    const url = new URL(request.url ?? '/', 'http://platform.invalid');
    const path = url.pathname;
    const method = request.method ?? 'GET';
    calls.push(`${method} ${path}`);
    if (down) throw new Refusal(503, 'unavailable', 'down for the test');
    if (method === 'POST' && path === '/v1/payment-sessions') return open(request);
    const match =
      /^\/v1\/payment-sessions\/(ses_[0-9a-f]{32})(?:\/(top-ups|vouchers|close))?$/.exec(path);
    const id = match?.[1];
    if (id === undefined) throw new Refusal(404, 'notFound', `no route ${path}`);
    if (method === 'GET' && match?.[2] === undefined) {
      const record = recordOf(id);
      merchantFor(request, record);
      return [200, { session: sessionJson(record) }];
    }
    if (method !== 'POST') throw new Refusal(405, 'methodNotAllowed', method);
    if (match?.[2] === 'top-ups') return topUp(request, id);
    if (match?.[2] === 'vouchers') return vouchers(request, id);
    return close(request, id);
  }

  const server = createServer((request, response) => {
    if (request.url === '/v1/keys') {
      send(response, 200, { keys: [signingKey.publicJwk] });
      return;
    }
    route(request).then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => {
        const refusal =
          error instanceof Refusal ? error : new Refusal(500, 'internal', String(error));
        send(response, refusal.status, {
          type: `https://platform.invalid/problems/${refusal.miteCode}`,
          title: refusal.miteCode,
          status: refusal.status,
          detail: refusal.message,
          miteCode: refusal.miteCode,
        });
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signingKey,
    sessions,
    calls,
    balanceOf: (token) => balances.get(token) ?? 0n,
    setDown: (isDown) => void (down = isDown),
    signGrant,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
