/**
 * The streaming benchmark's sessions section (issue 16 item 7): payment sessions opened and
 * closed a second through the platform's HTTP API, against purchases a second through the same
 * API in the same run. The platform is the one `mite serve` runs (createPlatform, embedded
 * SQLite, loopback HTTP, no risk rules: one client pays many times a second), driven by
 * `clientsConcurrent` loops of fetch in this process. A session cycle is the client's open (the
 * policy, the caps, a pending hold in the ledger, a signed grant) and the merchant's close with a
 * voucher for one unit (the voucher checked, the settlement chain, the payment, the event): two
 * requests and two ledger writes, against a purchase's one of each. No budget is set; the ratio
 * is reported.
 */
import { randomBytes } from 'node:crypto';
import {
  issueSessionChallenge,
  paywordChain,
  sessionChallengeEcho,
  sessionRequest,
  sessionVoucherWire,
} from '@mite/protocol';
import { createPlatform, noRiskRules } from '@mite/server';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import type { Row, SectionReport, StreamingBenchOptions } from './streaming-bench.ts';

/** Concurrent client loops, for purchases and for sessions alike. */
export const clientsConcurrent = 16;
/** Wallets paying, so that no one wallet's row is every request's. */
const payersCount = 8;

interface Api {
  (method: string, path: string, token: string, body?: unknown): Promise<Record<string, unknown>>;
}

function apiOf(base: string): Api {
  let keys = 0;
  return async (method, path, token, body) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'idempotency-key': `bench-${++keys}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await response.json()) as Record<string, unknown>;
    if (response.status >= 300) throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
    return json;
  };
}

/** Runs `step` in `clientsConcurrent` loops for `seconds`; the row of what completed. */
async function loops(name: string, seconds: number, step: (loop: number) => Promise<void>) {
  const endMs = Date.now() + seconds * 1000;
  const startedNs = process.hrtime.bigint();
  let operations = 0;
  await Promise.all(
    Array.from({ length: clientsConcurrent }, async (_, loop) => {
      while (Date.now() < endMs) {
        await step(loop);
        operations += 1;
      }
    }),
  );
  const row: Row = { name, operations, seconds: Number(process.hrtime.bigint() - startedNs) / 1e9 };
  return row;
}

export async function runSessionApiSection(
  options: StreamingBenchOptions,
  log: (line: string) => void,
): Promise<SectionReport> {
  log('a platform on SQLite, over loopback HTTP');
  const platform = await createPlatform({
    dataDir: tempDir('mite-bench-sessions-'),
    env: {},
    logger: pino({ level: 'silent' }),
    riskRules: noRiskRules,
  });
  try {
    const base = await platform.app.listen({ port: 0, host: '127.0.0.1' });
    const world = await setUp(platform, base);
    log(`purchases through the API, ${clientsConcurrent} clients`);
    const purchases = await loops(
      'purchases (POST /v1/payments), the peer',
      options.seconds,
      (loop) => world.purchase(loop),
    );
    log(`sessions opened and closed through the API, ${clientsConcurrent} clients`);
    const sessions = await loops(
      'sessions opened and closed (open, then the merchant\u2019s close)',
      options.seconds,
      (loop) => world.sessionCycle(loop),
    );
    const settled = await platform.platformDb.db
      .selectFrom('payment_sessions')
      .select(({ fn }) => fn.countAll<number>().as('count'))
      .where('state', '=', 'settled')
      .executeTakeFirstOrThrow();
    const verified = await platform.ledger.verify();
    return {
      rows: [purchases, { ...sessions, against: 'purchases' }],
      ceilings: { purchases },
      budgets: [],
      checks: [
        {
          name: 'every session cycle settled',
          ok: Number(settled.count) === sessions.operations,
          detail: `${sessions.operations} cycles, ${Number(settled.count)} settled`,
        },
        { name: 'the ledger verifies', ok: verified.ok, detail: verified.ok ? 'ok' : 'problems' },
      ],
      notes: [
        `${clientsConcurrent} concurrent clients, ${payersCount} wallets; a session cycle is two requests and two ledger writes, a purchase one of each`,
      ],
    };
  } finally {
    await platform.close();
  }
}

async function setUp(platform: Awaited<ReturnType<typeof createPlatform>>, base: string) {
  const admin = await platform.bootstrapAdminKey();
  if (admin === undefined) throw new Error('bug: a fresh platform makes its first admin key');
  const api = apiOf(base);
  const merchant = await api('POST', '/v1/merchants', admin.secret, {
    name: 'Bench Radio',
    feeBasisPoints: 1000,
    payoutThreshold: '100.00',
  });
  const merchantId = String(merchant.merchantId);
  const key = String(
    (
      await api('POST', `/v1/merchants/${merchantId}/api-keys`, admin.secret, {
        scopes: ['offers:write', 'sessions:write'],
      })
    ).secret,
  );
  const offer = await api('POST', '/v1/offers', key, {
    resource: '/bench/item',
    title: 'Item',
    price: '0.000001',
    category: 'content',
    accessPeriodSeconds: 0,
  });
  const tokens: string[] = [];
  for (let payer = 0; payer < payersCount; payer += 1) {
    const credentials = { email: `bench-${payer}@example.com`, password: 'a long passphrase' };
    const signedUp = await platform.services.users.signUp(credentials);
    const session = await platform.services.users.logIn(credentials);
    if (!signedUp.ok || !session.ok) throw new Error('bug: a bench user could not sign up');
    const profile = await platform.services.users.profile(signedUp.value.userId);
    if (profile === undefined) throw new Error('bug: a bench user has no profile');
    await platform.ledger.createTransfers([
      {
        id: platform.services.transferIds.next(),
        debitAccountId: 2n,
        creditAccountId: profile.walletAccountId,
        amount: 100_000_000n,
        ledger: 1,
        code: 1,
      },
    ]);
    tokens.push(session.value.token);
  }
  const secret = new Uint8Array(randomBytes(32));
  const tokenOf = (loop: number) => tokens[loop % tokens.length] ?? '';
  return {
    purchase: async (loop: number) => {
      await api('POST', '/v1/payments', tokenOf(loop), { offerId: String(offer.id) });
    },
    sessionCycle: async (loop: number) => {
      const challenge = issueSessionChallenge({
        secret,
        realm: 'bench.example',
        expiresAtSeconds: Math.floor(Date.now() / 1000) + 300,
        request: sessionRequest({
          unitPriceMicros: 1n,
          currency: 'usd',
          recipient: merchantId,
          platform: base,
          resource: '/bench/stream',
          unitType: 'second',
          minVoucherDeltaMicros: 1n,
          idleTimeoutSeconds: 600,
          vouchers: ['payword'],
        }),
      });
      const chain = paywordChain(new Uint8Array(randomBytes(32)), 10);
      const opened = await api('POST', '/v1/payment-sessions', tokenOf(loop), {
        challenge: sessionChallengeEcho(challenge),
        deposit: '10',
        voucher: {
          kind: 'payword',
          anchor: Buffer.from(chain.anchor).toString('base64url'),
          chainLength: 10,
        },
      });
      const sessionId = String((opened.session as Record<string, unknown>).id);
      const voucher = {
        channelId: sessionId,
        cumulativeMicros: 1n,
        proof: { kind: 'payword' as const, word: chain.word(1) },
      };
      await api('POST', `/v1/payment-sessions/${sessionId}/close`, key, {
        voucher: sessionVoucherWire(voucher),
      });
    },
  };
}
