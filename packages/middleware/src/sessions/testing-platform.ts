/**
 * A loopback stand-in for the platform's payment-session routes (PROTOCOL.md section 12, the
 * platform's session routes), on which the fine-grained tests of the middleware, the client and
 * `mite pay --stream` run over real HTTP: the JWKS at `/v1/keys`, grants signed as
 * compact JWS (EdDSA, `typ` `mite-session+jwt`) with a real Ed25519 key, deposits held out of
 * users' balances, Idempotency-Key replays, vouchers checked against the grant's commitment by the
 * protocol's own functions (the highest kept), merchant and user closes, and problem+json refusals
 * with `miteCode`. Test-only: not exported from the package. Its clock is the test's, which the
 * fine-grained tests move; live-platform.test.ts runs the whole flow against packages/server.
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

/** The routes' state and handlers (one method a route); the server below dispatches to them. */
class SessionRoutes {
  readonly sessions = new Map<string, TestSessionRecord>();
  readonly calls: string[] = [];
  down = false;
  readonly #balances: Map<string, bigint>;
  readonly #answers = new Map<string, { readonly body: string; readonly answer: unknown }>();
  readonly #options: SessionTestPlatformOptions;
  readonly #signingKey: SigningKey;

  constructor(options: SessionTestPlatformOptions, signingKey: SigningKey) {
    this.#options = options;
    this.#signingKey = signingKey;
    this.#balances = new Map(Object.entries(options.users));
  }

  balanceOf(token: string): bigint {
    return this.#balances.get(token) ?? 0n;
  }

  #nowSeconds(): number {
    return Math.floor(this.#options.clock() / 1000);
  }

  signGrant(claims: SessionGrantClaims | Record<string, unknown>, key = this.#signingKey) {
    return signReceipt(claims as Record<string, unknown>, key, { typ: sessionGrantMediaType });
  }

  #bearer(request: IncomingMessage): string {
    const match = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined)
      throw new Refusal(401, 'unauthorized', 'a bearer token is needed');
    return match[1];
  }

  #user(request: IncomingMessage): string {
    const token = this.#bearer(request);
    if (!this.#balances.has(token)) throw new Refusal(401, 'unauthorized', 'unknown session token');
    return token;
  }

  /** Whether the caller is the session's merchant (else it must be its payer). */
  #merchantFor(request: IncomingMessage, record: TestSessionRecord): boolean {
    const token = this.#bearer(request);
    const merchant = this.#options.merchants[token];
    if (merchant !== undefined) {
      if (merchant !== record.challenge.request.recipient) {
        throw new Refusal(404, 'sessionUnknown', 'not this merchant’s');
      }
      return true;
    }
    if (record.userToken !== token) throw new Refusal(401, 'unauthorized', 'unknown token');
    return false;
  }

  #recordOf(id: string): TestSessionRecord {
    const record = this.sessions.get(id);
    if (record === undefined) throw new Refusal(404, 'sessionUnknown', 'no such session');
    return record;
  }

  #hold(token: string, amount: bigint): void {
    const balance = this.balanceOf(token);
    if (balance < amount) throw new Refusal(402, 'insufficientFunds', 'the balance is too low');
    this.#balances.set(token, balance - amount);
  }

  /** Replays the first answer to an Idempotency-Key; a key on another body is refused. */
  async #once(request: IncomingMessage, body: unknown, work: () => Promise<unknown>) {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string')
      throw new Refusal(400, 'missingField', 'Idempotency-Key is needed');
    const text = JSON.stringify(body);
    const held = this.#answers.get(key);
    if (held !== undefined) {
      if (held.body !== text) throw new Refusal(409, 'idempotencyKeyReused', 'another body');
      return held.answer;
    }
    const answer = await work();
    this.#answers.set(key, { body: text, answer });
    return answer;
  }

  #grantOf(record: TestSessionRecord): Promise<string> {
    const { request } = record.challenge;
    const { commitment } = record;
    return this.signGrant({
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
      issuedAt: this.#nowSeconds(),
      openUntil: record.openUntilSeconds,
      sequence: record.sequence,
    });
  }

  #newRecord(body: Record<string, unknown>, token: string): TestSessionRecord {
    const decoded = sessionChallengeFromEcho(
      body['challenge'] as Parameters<typeof sessionChallengeFromEcho>[0],
    );
    if (!decoded.ok) throw new Refusal(400, decoded.code, decoded.detail);
    const times = checkSessionChallengeTimes(decoded.value, this.#nowSeconds());
    if (!times.ok) throw new Refusal(400, times.code, times.detail);
    return {
      id: `ses_${randomBytes(16).toString('hex')}`,
      challenge: decoded.value,
      userToken: token,
      commitment: commitmentOf(body['voucher']),
      depositMicros: micros(body['deposit'], 'deposit'),
      acceptedMicros: 0n,
      settledMicros: undefined,
      state: 'open',
      closeReason: undefined,
      sequence: 0,
      openUntilSeconds: this.#nowSeconds() + testSessionLifetimeSeconds,
    };
  }

  async open(request: IncomingMessage): Promise<[number, unknown]> {
    const token = this.#user(request);
    const body = await readJson(request);
    const answer = await this.#once(request, body, async () => {
      const record = this.#newRecord(body, token);
      this.#hold(token, record.depositMicros);
      this.sessions.set(record.id, record);
      return { session: sessionJson(record), grant: await this.#grantOf(record) };
    });
    return [201, answer];
  }

  async topUp(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const token = this.#user(request);
    const body = await readJson(request);
    const answer = await this.#once(request, { id, body }, async () => {
      const record = this.#recordOf(id);
      if (record.userToken !== token) throw new Refusal(404, 'sessionUnknown', 'not yours');
      if (record.state !== 'open') throw new Refusal(410, 'sessionClosed', 'the session is closed');
      const amount = micros(body['amount'], 'amount');
      this.#hold(token, amount);
      record.depositMicros += amount;
      record.sequence += 1;
      return { session: sessionJson(record), grant: await this.#grantOf(record) };
    });
    return [200, answer];
  }

  #takeVoucher(record: TestSessionRecord, json: unknown): void {
    const voucher = decodeSessionVoucher(json);
    if (!voucher.ok) throw new Refusal(400, voucher.code, voucher.detail);
    if (voucher.value.channelId !== record.id) {
      throw new Refusal(400, 'voucherInvalid', 'another session');
    }
    if (voucher.value.cumulativeMicros > record.depositMicros) {
      throw new Refusal(402, 'voucherExceedsDeposit', 'beyond the deposit');
    }
    if (!voucherValid(record, voucher.value)) throw new Refusal(402, 'voucherInvalid', 'bad proof');
    if (voucher.value.cumulativeMicros > record.acceptedMicros) {
      record.acceptedMicros = voucher.value.cumulativeMicros;
    }
  }

  #settle(record: TestSessionRecord, reason: 'merchant' | 'client'): void {
    record.state = 'settled';
    record.closeReason = reason;
    record.settledMicros = record.acceptedMicros;
    const refund = record.depositMicros - record.acceptedMicros;
    this.#balances.set(record.userToken, this.balanceOf(record.userToken) + refund);
  }

  async vouchers(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const record = this.#recordOf(id);
    if (!this.#merchantFor(request, record)) throw new Refusal(403, 'forbidden', 'merchants only');
    const body = await readJson(request);
    if (record.state === 'settled') throw new Refusal(410, 'sessionClosed', 'settled');
    this.#takeVoucher(record, body);
    return [200, { session: sessionJson(record) }];
  }

  async close(request: IncomingMessage, id: string): Promise<[number, unknown]> {
    const record = this.#recordOf(id);
    const byMerchant = this.#merchantFor(request, record);
    const body = await readJson(request);
    if (record.state === 'settled') throw new Refusal(410, 'sessionClosed', 'settled');
    if (body['voucher'] !== undefined) this.#takeVoucher(record, body['voucher']);
    if (byMerchant) this.#settle(record, 'merchant');
    else {
      record.state = 'closing';
      record.closeReason = 'client';
    }
    return [200, { session: sessionJson(record) }];
  }

  show(request: IncomingMessage, id: string): [number, unknown] {
    const record = this.#recordOf(id);
    this.#merchantFor(request, record);
    return [200, { session: sessionJson(record) }];
  }

  async route(request: IncomingMessage): Promise<[number, unknown]> {
    const path = new URL(request.url ?? '/', 'http://platform.invalid').pathname;
    const method = request.method ?? 'GET';
    this.calls.push(`${method} ${path}`);
    if (this.down) throw new Refusal(503, 'unavailable', 'down for the test');
    if (method === 'POST' && path === '/v1/payment-sessions') return this.open(request);
    const match =
      /^\/v1\/payment-sessions\/(ses_[0-9a-f]{32})(?:\/(top-ups|vouchers|close))?$/.exec(path);
    const id = match?.[1];
    if (id === undefined) throw new Refusal(404, 'notFound', `no route ${path}`);
    const action = match?.[2];
    if (method === 'GET' && action === undefined) return this.show(request, id);
    if (method !== 'POST') throw new Refusal(405, 'methodNotAllowed', method);
    if (action === 'top-ups') return this.topUp(request, id);
    if (action === 'vouchers') return this.vouchers(request, id);
    return this.close(request, id);
  }
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

function sendProblem(response: ServerResponse, error: unknown): void {
  const refusal = error instanceof Refusal ? error : new Refusal(500, 'internal', String(error));
  send(response, refusal.status, {
    type: `https://platform.invalid/problems/${refusal.miteCode}`,
    title: refusal.miteCode,
    status: refusal.status,
    detail: refusal.message,
    miteCode: refusal.miteCode,
  });
}

export async function startSessionTestPlatform(
  options: SessionTestPlatformOptions,
): Promise<SessionTestPlatform> {
  const signingKey = await createSigningKey();
  const routes = new SessionRoutes(options, signingKey);
  const server = createServer((request, response) => {
    if (request.url === '/v1/keys') return send(response, 200, { keys: [signingKey.publicJwk] });
    routes.route(request).then(
      ([status, body]) => send(response, status, body),
      (error: unknown) => sendProblem(response, error),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    signingKey,
    sessions: routes.sessions,
    calls: routes.calls,
    balanceOf: (token) => routes.balanceOf(token),
    setDown: (isDown) => void (routes.down = isDown),
    signGrant: (claims, key) => routes.signGrant(claims, key),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
