/**
 * The API benchmark's server (see api-bench.ts), run in a child process so that the server and
 * the load generator do not share an event loop. api-bench.ts builds it as `npm start` builds
 * Mite (packages/cli/src/build.ts) and runs the build:
 *
 *   node bench/.build/api-bench-server-XXXX/api-bench-server.mjs '<ServerConfig as JSON>'
 *
 * It creates the platform on embedded SQLite in `dataDir`, listens on 127.0.0.1 (a free port),
 * seeds what the benchmark needs (users who sign up and log in through the user service, each
 * wallet funded through the ledger; through the HTTP API one merchant with an API key and offers
 * with `accessPeriodSeconds: 0`, so a user may buy the same offer again). It also starts a bare
 * fastify route on its own port (the ceiling). Then it writes one JSON line (`ServerReady`) to
 * stdout.
 *
 * Then it answers lines on stdin, one JSON line each on stdout:
 * - `verify`: `ServerVerify`, the ledger's `verify()` and the payments table's counts;
 * - `exit`: closes the platform and exits (so that `--cpu-prof` writes its profile).
 *
 * With `floor` before the config, it runs a purchase floor alone instead (see floorOnly): in
 * processes of their own, so that the platform's memory is measured without the floor's.
 *
 * Logs (warnings and worse) go to stderr. Rate limits are raised far above what a run can reach:
 * the benchmark measures the API's cost, and its one client would otherwise be limited at once.
 */
import { createInterface } from 'node:readline';
import Fastify from 'fastify';
import pino from 'pino';
import { createPlatform, noRiskRules } from '@mite/server';
import { startPurchaseFloor } from './purchase-floor.ts';
import { defaultHttpLimits } from '../../packages/server/src/http/limits.ts';
import {
  ledgers,
  platformAccountIds,
  transferCodes,
} from '../../packages/server/src/ledger/chart-of-accounts.ts';

export interface ServerConfig {
  readonly dataDir: string;
  readonly users: number;
  readonly offers: number;
  /** Each offer's price, a decimal string ("0.01"). */
  readonly price: string;
  /** What each wallet is funded with before the runs, in micro-units (a decimal string). */
  readonly fundingMicros: string;
}

export interface ServerReady {
  readonly type: 'ready';
  readonly baseUrl: string;
  /** A bare fastify app in the same process: one route, no plugins, no database (the ceiling). */
  readonly ceilingUrl: string;
  readonly pid: number;
  /** One session token per user. */
  readonly userTokens: string[];
  readonly offerIds: string[];
  readonly seedSeconds: number;
}

export interface FloorConfig {
  readonly dataDir: string;
  readonly userTokens: readonly string[];
  readonly fundingMicros: string;
}

export interface FloorReady {
  readonly type: 'floor-ready';
  readonly floorUrl: string;
  readonly pid: number;
}

export interface ServerVerify {
  readonly type: 'verify';
  readonly ok: boolean;
  readonly problems: string[];
  readonly seconds: number;
  /** Rows of the payments table by state. */
  readonly payments: Record<string, number>;
}

/** Concurrent sign-ups and log-ins while seeding: each hashes a password (scrypt). */
const seedConcurrency = 8;
/** Far above what any run can send in the rate limits' window. */
const unlimited = 1_000_000_000;

function send(message: ServerReady | ServerVerify | FloorReady): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(config: ServerConfig): Promise<void> {
  const started = performance.now();
  const platform = await createPlatform({
    dataDir: config.dataDir,
    env: {},
    logger: pino({ level: 'warn' }, pino.destination(2)),
    limits: {
      ...defaultHttpLimits,
      rateLimitPerClientMax: unlimited,
      rateLimitPerIpMax: unlimited,
    },
    // The load is a few users paying thousands of times a minute, which the default risk rules
    // rightly challenge: the purchase path is measured with the risk policy asked, stopping none.
    riskRules: noRiskRules,
  });
  const baseUrl = await platform.app.listen({ port: 0, host: '127.0.0.1' });
  // What HTTP alone costs on this machine, in this process: the most any route can do.
  const ceiling = Fastify({ logger: false });
  ceiling.get('/ceiling', async () => ({ ok: true }));
  const ceilingUrl = await ceiling.listen({ port: 0, host: '127.0.0.1' });
  let keys = 0;
  const call = async (
    path: string,
    body: unknown,
    auth?: string,
  ): Promise<Record<string, unknown>> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'idempotency-key': `seed-${++keys}`,
    };
    if (auth !== undefined) headers.authorization = `Bearer ${auth}`;
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 201) {
      throw new Error(`seeding: POST ${path} answered ${response.status}: ${text}`);
    }
    return JSON.parse(text) as Record<string, unknown>;
  };

  const admin = await platform.bootstrapAdminKey();
  if (admin === undefined) throw new Error('seeding: the data directory is not fresh');
  const merchant = await call(
    '/v1/merchants',
    { name: 'Bench Goods', feeBasisPoints: 1000, payoutThreshold: '10.00' },
    admin.secret,
  );
  const merchantId = String(merchant.merchantId);
  const key = await call(
    `/v1/merchants/${merchantId}/api-keys`,
    { scopes: ['offers:write'] },
    admin.secret,
  );
  const apiKey = String(key.secret);
  const offerIds: string[] = [];
  for (let i = 0; i < config.offers; i++) {
    const offer = await call(
      '/v1/offers',
      {
        resource: `item:bench-${i}`,
        title: `Bench item ${i}`,
        price: config.price,
        category: 'goods',
        accessPeriodSeconds: 0,
      },
      apiKey,
    );
    offerIds.push(String(offer.id));
  }

  // Through the user service, which is what POST /v1/users and /v1/sessions call: those routes
  // allow 10 requests a minute per IP address, whatever the platform's limits say.
  const { users } = platform.services;
  const userTokens: string[] = new Array<string>(config.users);
  let nextUser = 0;
  const signUpLoop = async (): Promise<void> => {
    while (nextUser < config.users) {
      const i = nextUser++;
      const credentials = { email: `bench-${i}@bench.mite.local`, password: `bench password ${i}` };
      const signedUp = await users.signUp(credentials);
      if (!signedUp.ok) throw new Error(`seeding: signing up user ${i} failed: ${signedUp.code}`);
      const session = await users.logIn(credentials);
      if (!session.ok) throw new Error(`seeding: logging in user ${i} failed: ${session.code}`);
      userTokens[i] = session.value.token;
    }
  };
  await Promise.all(Array.from({ length: seedConcurrency }, signUpLoop));

  const funding = BigInt(config.fundingMicros);
  const transfers = [];
  for (const token of userTokens) {
    const userId = (await platform.services.users.authenticate(token))?.userId;
    const profile =
      userId === undefined ? undefined : await platform.services.users.profile(userId);
    if (profile === undefined) throw new Error('seeding: a new user has no profile');
    transfers.push({
      id: platform.services.transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: funding,
      ledger: ledgers.usd,
      code: transferCodes.topUp,
    });
  }
  for (let at = 0; at < transfers.length; at += 100) {
    const results = await platform.ledger.createTransfers(transfers.slice(at, at + 100));
    const failed = results.find((result) => result !== 'ok');
    if (failed !== undefined) throw new Error(`seeding: funding a wallet failed: ${failed}`);
  }

  send({
    type: 'ready',
    baseUrl,
    ceilingUrl,
    pid: process.pid,
    userTokens,
    offerIds,
    seedSeconds: (performance.now() - started) / 1000,
  });

  const memoryLog = logMemoryEverySecond();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const command = line.trim();
    if (command === 'verify') {
      const verifyStarted = performance.now();
      const report = await platform.ledger.verify();
      const seconds = (performance.now() - verifyStarted) / 1000;
      const rows = await platform.platformDb.db
        .selectFrom('payments')
        .select(({ fn }) => ['state', fn.countAll<number>().as('count')])
        .groupBy('state')
        .execute();
      const payments = Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
      send({ type: 'verify', ok: report.ok, problems: report.problems, seconds, payments });
    } else if (command === 'exit') {
      break;
    } else if (command !== '') {
      process.stderr.write(`api-bench-server: unknown command ${JSON.stringify(command)}\n`);
    }
  }
  lines.close();
  if (memoryLog !== undefined) clearInterval(memoryLog);
  await ceiling.close();
  await platform.close();
}

/**
 * With `MITE_BENCH_SERVER_MEMORY=1`, the server writes `process.memoryUsage()` (in MB) to stderr
 * every second, which tells native memory (SQLite's page cache, sockets) from the JavaScript heap
 * when the RSS budget fails.
 */
function logMemoryEverySecond(): NodeJS.Timeout | undefined {
  if (process.env.MITE_BENCH_SERVER_MEMORY !== '1') return undefined;
  const megabytes = (bytes: number): number => Math.round(bytes / 1_048_576);
  const timer = setInterval(() => {
    const usage = process.memoryUsage();
    const parts = Object.entries(usage).map(([name, bytes]) => `${name} ${megabytes(bytes)}`);
    process.stderr.write(`api-bench-server memory (MB): ${parts.join(', ')}\n`);
  }, 1000);
  timer.unref();
  return timer;
}

/**
 * `floor '<FloorConfig>'`: a purchase floor alone (purchase-floor.ts, its own SQLite file in
 * `dataDir`). Answers `FloorReady`, then closes on `exit`.
 */
async function floorOnly(config: FloorConfig): Promise<void> {
  const floor = await startPurchaseFloor({
    dataDir: config.dataDir,
    userTokens: config.userTokens,
    fundingMicros: BigInt(config.fundingMicros),
  });
  send({ type: 'floor-ready', floorUrl: floor.url, pid: process.pid });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'exit') break;
  lines.close();
  await floor.close();
}

try {
  const [mode, arg] =
    process.argv[2] === 'floor' ? ['floor', process.argv[3]] : ['platform', process.argv[2]];
  if (arg === undefined) throw new Error('usage: api-bench-server.ts [floor] <config as JSON>');
  if (mode === 'floor') await floorOnly(JSON.parse(arg) as FloorConfig);
  else await main(JSON.parse(arg) as ServerConfig);
  process.exit(0);
} catch (error) {
  process.stderr.write(
    `api-bench-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
