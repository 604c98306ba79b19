/**
 * One session test file's loopback world: the real platform (packages/server on embedded SQLite,
 * driven through its HTTP API: testing-end-to-end.ts) with a merchant, its API key and a user
 * whose wallet is topped up; the merchant's site behind `withSessionMeter` (a SQLite session store
 * in a temporary file unless told otherwise); and a hand-driven client that opens sessions at the
 * platform and writes credentials with the protocol's functions, so that tests can forge, replay
 * and reorder them. The platform and the meter share the test's clock, which the tests move; the
 * platform's background jobs are off, so nothing settles unless a test's step does it. Test-only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import {
  encodeBase64url,
  formatAmount,
  formatSessionCredentialHeader,
  paywordChain,
  type PaywordChain,
  parseSessionChallengeHeader,
  type SessionAction,
  type SessionChallenge,
  sessionChallengeEcho,
  sessionGrantMediaType,
  type SessionVoucher,
  signVoucher,
  voucherKeyPair,
} from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import { listen } from '../adapter-contract.ts';
import type { PaidOutcome } from '../core.ts';
import { createTestClock, signReceipt, type TestClock, testSecret } from '../test-platform.ts';
import { type LivePlatform, type LiveWallet, startLivePlatform } from '../testing-end-to-end.ts';
import { eventStreamHeaders, meteredEventStream } from './event-stream.ts';
import type { SessionPayment } from './metered-payment.ts';
import type { MeteredRoute } from './metered-routes.ts';
import { withSessionMeter } from './node-http.ts';
import type { SessionMeterOptions } from './session-config.ts';
import { createSessionMeter, type SessionMeter } from './session-meter.ts';
import { createSqliteSessionStore, type SqliteSessionStore } from './sqlite-session-store.ts';

/** What the test user's wallet is topped up with: 10.00. */
export const userBalanceMicros = 10_000_000n;

export const meteredTestRoutes: readonly MeteredRoute[] = [
  { method: 'GET', path: '/api/quote', unitPrice: '0.0001', unitType: 'request' },
  { method: 'GET', path: '/api/flaky', unitPrice: '0.0001', unitType: 'request' },
  {
    method: 'GET',
    path: '/songs/:id',
    unitPrice: '0.0001',
    unitType: 'second',
    minVoucherDelta: '0.0003',
    suggestedDeposit: '0.01',
    description: 'A song, by the second',
  },
  {
    method: 'GET',
    path: '/llm/:id',
    unitPrice: '0.00001',
    unitType: 'token',
    minVoucherDelta: '0.00005',
    vouchers: ['ed25519'],
  },
];

/**
 * The merchant's handler: `/api/quote` answers its units; `/api/flaky` fails once with a 503;
 * `/songs/:id?seconds=N` and `/llm/:id?tokens=N` stream N events, one unit each, then the receipt.
 */
export function testHandler(): (
  request: IncomingMessage,
  response: ServerResponse,
  payment: SessionPayment | PaidOutcome | undefined,
) => Promise<void> {
  let flaky = 0;
  return async (request, response, payment) => {
    const url = new URL(request.url ?? '/', 'http://merchant.invalid');
    if (payment === undefined) return void response.writeHead(404).end('not metered');
    if (payment.kind === 'paid') return void response.end('bought once');
    if (url.pathname === '/api/flaky' && (flaky += 1) === 1) {
      return void response.writeHead(503).end('down');
    }
    if (payment.unitType === 'request') return void response.end(`quote ${payment.units}`);
    const count = Number(url.searchParams.get('seconds') ?? url.searchParams.get('tokens') ?? 3);
    response.writeHead(200, eventStreamHeaders);
    const stream = meteredEventStream(payment, (text) => response.write(text));
    for (let index = 0; index < count; index += 1) {
      if (!(await stream.send(`unit ${index}`))) break;
    }
    await stream.end();
    response.end();
  };
}

/** A session as its payer reads it at the platform (`GET /v1/payment-sessions/{id}`). */
export interface PlatformSession {
  readonly state: string;
  readonly voucherKind: string;
  readonly depositMicros: bigint;
  /** The highest voucher the platform was given (a checkpoint, a close). */
  readonly acceptedMicros: bigint;
  /** What the session paid, once settled. */
  readonly settledMicros: bigint | undefined;
  readonly closeReason: string | null;
}

export interface MeterWorld {
  readonly clock: TestClock;
  /** The real platform, over HTTP. */
  readonly platform: LivePlatform;
  readonly merchantId: string;
  /** The meter's API key at the platform (`sessions:write`, `sessions:read`). */
  readonly merchantKey: string;
  /** The paying user's session token at the platform. */
  readonly userToken: string;
  readonly meter: SessionMeter;
  /** The merchant's base URL. */
  readonly url: string;
  readonly store: SqliteSessionStore;
  readonly upkeepErrors: unknown[];
  /** The session as its payer reads it at the platform. */
  sessionAt(sessionId: string): Promise<PlatformSession>;
  /** The paying user's wallet (`GET /v1/wallet`): deposits held are reserved, not balance. */
  wallet(): Promise<LiveWallet>;
  /** Signs claims as a grant with the platform's own key (for tests that alter a grant). */
  signGrant(claims: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

interface PlatformParties {
  readonly platform: LivePlatform;
  readonly merchantId: string;
  readonly merchantKey: string;
  readonly userToken: string;
}

/** The platform on `clock`, with the world's merchant (and its key) and its funded user. */
async function startPlatformParties(clock: TestClock): Promise<PlatformParties> {
  const platform = await startLivePlatform({
    clock: clock.nowMs,
    backgroundJobs: false,
    // Sessions take no tokens: one denomination's key is made at start, not every power of two.
    tokenDenominationsMicros: [1_000_000n],
  });
  try {
    const merchant = await platform.createMerchant('Radio Test', 1000);
    const merchantKey = await platform.createApiKey(merchant, ['sessions:write', 'sessions:read']);
    const userToken = await platform.signUp('listener@example.com');
    await platform.topUp(userToken, formatAmount(userBalanceMicros));
    return { platform, merchantId: merchant.merchantId, merchantKey, userToken };
  } catch (error) {
    await platform.close();
    throw error;
  }
}

async function sessionAtPlatform(
  parties: PlatformParties,
  sessionId: string,
): Promise<PlatformSession> {
  const answer = await parties.platform.api('GET', `/v1/payment-sessions/${sessionId}`, {
    bearer: parties.userToken,
  });
  if (answer.status !== 200) throw new Error(`no session: ${JSON.stringify(answer.body)}`);
  const session = answer.body['session'] as Record<string, string | null>;
  const settled = session['settledAmount'];
  return {
    state: String(session['state']),
    voucherKind: String(session['voucherKind']),
    depositMicros: BigInt(String(session['deposit'])),
    acceptedMicros: BigInt(String(session['acceptedCumulative'])),
    settledMicros: settled === null || settled === undefined ? undefined : BigInt(settled),
    closeReason: session['closeReason'] ?? null,
  };
}

/**
 * Starts the world; its clock stands still at `startMs` (default: the test epoch of
 * test-platform.ts; a client with its own clock, as `mite pay`, needs `Date.now()`).
 */
export async function startMeterWorld(
  options: Partial<SessionMeterOptions> = {},
  startMs?: number,
): Promise<MeterWorld> {
  const clock = createTestClock(startMs);
  const parties = await startPlatformParties(clock);
  const { platform } = parties;
  const [receiptKey] = platform.platform.services.receiptKeys;
  if (receiptKey === undefined) throw new Error('bug: the platform has no receipt key');
  const store = createSqliteSessionStore({
    file: path.join(tempDir('mite-meter-'), 'sessions.db'),
  });
  const upkeepErrors: unknown[] = [];
  const meter = createSessionMeter({
    merchantId: parties.merchantId,
    realm: 'radio.test',
    platformUrl: platform.url,
    challengeSecret: testSecret,
    routes: meteredTestRoutes,
    apiKey: parties.merchantKey,
    store,
    clock: clock.nowMs,
    checkpointIntervalMs: 0,
    voucherWaitMs: 2_000,
    onUpkeepError: (error) => upkeepErrors.push(error),
    ...options,
  });
  const app = await listen(createServer(withSessionMeter(meter, testHandler())));
  return {
    ...parties,
    clock,
    meter,
    url: app.url,
    store,
    upkeepErrors,
    sessionAt: (sessionId) => sessionAtPlatform(parties, sessionId),
    wallet: () => platform.wallet(parties.userToken),
    signGrant: (claims) => signReceipt(claims, receiptKey, { typ: sessionGrantMediaType }),
    async close() {
      await meter.stop();
      await app.close();
      await platform.close();
      store.close();
    },
  };
}

/** Polls `condition` until it holds (at most five seconds). */
export async function waitFor(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The session once the platform has settled it: a merchant's close reaches the platform off the
 * request path, so a test waits for it.
 */
export async function settledAtPlatform(
  world: MeterWorld,
  sessionId: string,
): Promise<PlatformSession> {
  let session = await world.sessionAt(sessionId);
  await waitFor(async () => {
    session = await world.sessionAt(sessionId);
    return session.state === 'settled';
  });
  return session;
}

/** The session challenge of a metered URL's 402. */
export async function sessionChallengeOf(
  world: MeterWorld,
  target: string,
): Promise<SessionChallenge> {
  const response = await fetch(`${world.url}${target}`);
  await response.body?.cancel();
  const header = response.headers.get('www-authenticate');
  if (response.status !== 402 || header === null) throw new Error(`no 402 at ${target}`);
  const challenge = parseSessionChallengeHeader(header, { nowSeconds: world.clock.nowSeconds() });
  if (!challenge.ok) throw new Error(`bad session challenge: ${challenge.detail}`);
  return challenge.value;
}

/** A session opened at the platform, and the credentials its holder can write. */
export interface OpenedSession {
  readonly id: string;
  readonly grant: string;
  readonly challenge: SessionChallenge;
  readonly chain: PaywordChain | undefined;
  readonly secretKey: Uint8Array | undefined;
  /** A valid voucher for a cumulative amount (PayWord: a multiple of the unit price). */
  voucher(cumulativeMicros: bigint): SessionVoucher;
  /** The `Authorization` value of an action. */
  credential(payload: SessionAction): string;
  /** `voucher` or `close` of a valid voucher for `cumulativeMicros`. */
  pay(cumulativeMicros: bigint, action?: 'voucher' | 'close'): string;
}

export async function openAtPlatform(
  world: MeterWorld,
  challenge: SessionChallenge,
  options: { readonly depositMicros: bigint; readonly kind: 'payword' | 'ed25519' },
): Promise<OpenedSession> {
  const unitMicros = BigInt(challenge.request.amount);
  const chainLength = Number(options.depositMicros / unitMicros);
  const chain = options.kind === 'payword' ? paywordChain(randomBytes(32), chainLength) : undefined;
  const keys = options.kind === 'ed25519' ? voucherKeyPair() : undefined;
  const voucher =
    chain === undefined
      ? { kind: 'ed25519', key: encodeBase64url(keys?.publicKey ?? new Uint8Array()) }
      : { kind: 'payword', anchor: encodeBase64url(chain.anchor), chainLength };
  const response = await fetch(`${world.platform.url}/v1/payment-sessions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${world.userToken}`,
      'content-type': 'application/json',
      'idempotency-key': randomBytes(8).toString('hex'),
    },
    body: JSON.stringify({
      challenge: sessionChallengeEcho(challenge),
      deposit: options.depositMicros.toString(),
      voucher,
    }),
  });
  const body = (await response.json()) as { session: { id: string }; grant: string };
  if (response.status !== 201) throw new Error(`open failed: ${JSON.stringify(body)}`);
  const id = body.session.id;
  const session: OpenedSession = {
    id,
    grant: body.grant,
    challenge,
    chain,
    secretKey: keys?.secretKey,
    voucher(cumulativeMicros) {
      if (chain !== undefined) {
        const word = chain.word(Number(cumulativeMicros / unitMicros));
        return { channelId: id, cumulativeMicros, proof: { kind: 'payword', word } };
      }
      return signVoucher(keys?.secretKey ?? new Uint8Array(32), id, cumulativeMicros);
    },
    credential: (payload) => formatSessionCredentialHeader({ challenge, payload }),
    pay: (cumulativeMicros, action = 'voucher') =>
      session.credential({ action, voucher: session.voucher(cumulativeMicros) }),
  };
  return session;
}

/** Fetches a metered URL with a credential. */
export function send(
  world: MeterWorld,
  target: string,
  authorization: string,
  method: 'GET' | 'HEAD' = 'GET',
): Promise<Response> {
  return fetch(`${world.url}${target}`, { method, headers: { authorization } });
}
