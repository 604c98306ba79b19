/**
 * A world for the payment sessions' tests: a platform on loopback (real HTTP, its real stores),
 * a merchant with a key, a user whose wallet holds a known amount, and helpers that speak the
 * session wire format as a client and a merchant would. Its clock can be moved, so that idle
 * expiry and a client's close grace are tested without waiting.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import {
  issueSessionChallenge,
  paywordChain,
  type PaywordChain,
  type SessionChallenge,
  sessionChallengeEcho,
  sessionRequest,
  type SessionVoucher,
  sessionVoucherWire,
  signVoucher,
  type VoucherKind,
  voucherKeyPair,
} from '@mite/protocol';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import {
  type Backend,
  createMerchantWithKey,
  expectStatus,
  type PlatformOverrides,
  type PlatformUnderTest,
  startPlatformUnderTest,
} from '../platform-testing.ts';

/** The merchant's challenge secret: the platform never sees it (it verifies nothing by it). */
const merchantSecret = new Uint8Array(randomBytes(32));

export interface SessionWorld {
  readonly env: PlatformUnderTest;
  readonly merchantId: string;
  readonly apiKey: string;
  /** Adds to the world's clock. */
  advance(ms: number): void;
  now(): number;
  /** A user whose wallet holds `balanceMicros`: their session token and wallet account. */
  user(name: string, balanceMicros: bigint): Promise<{ token: string; walletId: bigint }>;
  challenge(terms?: Partial<ChallengeTerms>): SessionChallenge;
  /** Posted balance of an account, in micro-units (credits less debits). */
  postedMicros(accountId: bigint): Promise<bigint>;
  /** What a wallet can spend: posted less what is held. */
  availableMicros(accountId: bigint): Promise<bigint>;
  merchantAccountId(): Promise<bigint>;
}

export interface ChallengeTerms {
  readonly unitPriceMicros: bigint;
  readonly unitType: 'second' | 'request' | 'token' | 'byte';
  readonly minVoucherDeltaMicros: bigint;
  readonly idleTimeoutSeconds: number;
  readonly vouchers: readonly VoucherKind[];
}

const defaultTerms: ChallengeTerms = {
  unitPriceMicros: 100n,
  unitType: 'second',
  minVoucherDeltaMicros: 100n,
  idleTimeoutSeconds: 60,
  vouchers: ['payword', 'ed25519'],
};

export async function sessionWorld(
  t: TestContext,
  backend: Backend,
  overrides: PlatformOverrides = {},
): Promise<SessionWorld> {
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const env = await startPlatformUnderTest(t, backend, {
    backgroundJobs: false,
    clock: now,
    ...overrides,
  });
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Radio Mite' });
  const { services, ledger } = env.platform;
  let users = 0;
  const balance = async (accountId: bigint) => {
    const [account] = await ledger.lookupAccounts([accountId]);
    return account ?? assert.fail(`no account ${accountId}`);
  };
  return {
    env,
    merchantId,
    apiKey,
    advance: (ms) => {
      offsetMs += ms;
    },
    now,
    async user(name, balanceMicros) {
      users += 1;
      const credentials = { email: `${name}-${users}@example.com`, password: 'a long passphrase' };
      const signedUp = await services.users.signUp(credentials);
      assert.ok(signedUp.ok);
      const session = await services.users.logIn(credentials);
      assert.ok(session.ok);
      const profile = await services.users.profile(signedUp.value.userId);
      assert.ok(profile);
      const funded = await ledger.createTransfers([
        {
          id: services.transferIds.next(),
          debitAccountId: platformAccountIds.processorReceivable,
          creditAccountId: profile.walletAccountId,
          amount: balanceMicros,
          ledger: 1,
          code: 1,
        },
      ]);
      assert.deepEqual(funded, ['ok']);
      return { token: session.value.token, walletId: profile.walletAccountId };
    },
    challenge(terms = {}) {
      const full = { ...defaultTerms, ...terms };
      return issueSessionChallenge({
        secret: merchantSecret,
        realm: 'radio.example',
        expiresAtSeconds: Math.floor(now() / 1000) + 300,
        request: sessionRequest({
          ...full,
          currency: 'usd',
          recipient: merchantId,
          platform: env.baseUrl,
          resource: '/songs/1',
        }),
      });
    },
    postedMicros: async (accountId) => {
      const account = await balance(accountId);
      return account.creditsPosted - account.debitsPosted;
    },
    availableMicros: async (accountId) => {
      const account = await balance(accountId);
      return account.creditsPosted - account.debitsPosted - account.debitsPending;
    },
    merchantAccountId: async () => {
      const terms = await services.merchants.merchantName(merchantId);
      assert.ok(terms !== undefined);
      const row = await env.platform.platformDb.db
        .selectFrom('merchants')
        .select('account_id')
        .where('id', '=', merchantId)
        .executeTakeFirstOrThrow();
      return BigInt(row.account_id);
    },
  };
}

/** A client's side of one session: its commitment's secret, and the vouchers it makes. */
export interface ClientSession {
  readonly commitment:
    { kind: 'payword'; anchor: string; chainLength: number } | { kind: 'ed25519'; key: string };
  /** The voucher for `units` (PayWord) or for `micros` (Ed25519), once the session id is known. */
  voucher(sessionId: string, amountMicros: bigint): SessionVoucher;
}

export function paywordClient(unitPriceMicros: bigint, chainLength: number): ClientSession {
  const chain: PaywordChain = paywordChain(new Uint8Array(randomBytes(32)), chainLength);
  return {
    commitment: {
      kind: 'payword',
      anchor: Buffer.from(chain.anchor).toString('base64url'),
      chainLength,
    },
    voucher: (sessionId, amountMicros) => ({
      channelId: sessionId,
      cumulativeMicros: amountMicros,
      proof: { kind: 'payword', word: chain.word(Number(amountMicros / unitPriceMicros)) },
    }),
  };
}

export function ed25519Client(): ClientSession {
  const keys = voucherKeyPair();
  return {
    commitment: { kind: 'ed25519', key: Buffer.from(keys.publicKey).toString('base64url') },
    voucher: (sessionId, amountMicros) => signVoucher(keys.secretKey, sessionId, amountMicros),
  };
}

/** Opens a session over HTTP; the answer as it came. */
export async function openSession(
  world: SessionWorld,
  token: string,
  options: {
    readonly challenge?: SessionChallenge;
    readonly depositMicros: bigint;
    readonly client: ClientSession;
    readonly idempotencyKey?: string;
  },
) {
  const challenge = options.challenge ?? world.challenge();
  return world.env.call('POST', '/v1/payment-sessions', {
    auth: token,
    body: {
      challenge: sessionChallengeEcho(challenge),
      deposit: options.depositMicros.toString(),
      voucher: options.client.commitment,
    },
    ...(options.idempotencyKey === undefined
      ? {}
      : { headers: { 'idempotency-key': options.idempotencyKey } }),
  });
}

/** Opens a session that must open; its id and grant. */
export async function openedSession(
  world: SessionWorld,
  token: string,
  options: Parameters<typeof openSession>[2],
): Promise<{ sessionId: string; grant: string; session: Record<string, unknown> }> {
  const body = expectStatus(await openSession(world, token, options), 201, 'open session');
  const session = body.session as Record<string, unknown>;
  return { sessionId: String(session.id), grant: String(body.grant), session };
}

/** The merchant's checkpoint of a voucher. */
export function checkpoint(world: SessionWorld, voucher: SessionVoucher) {
  return world.env.call('POST', `/v1/payment-sessions/${voucher.channelId}/vouchers`, {
    auth: world.apiKey,
    body: sessionVoucherWire(voucher),
  });
}

/** A close by `auth` (the merchant's key, or the payer's token), with a voucher or none. */
export function closeSession(
  world: SessionWorld,
  auth: string,
  sessionId: string,
  voucher?: SessionVoucher,
) {
  return world.env.call('POST', `/v1/payment-sessions/${sessionId}/close`, {
    auth,
    body: voucher === undefined ? {} : { voucher: sessionVoucherWire(voucher) },
  });
}
