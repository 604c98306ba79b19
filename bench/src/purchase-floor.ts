/**
 * The purchase floor: the least a durable, signed purchase costs on this machine, as plain code on
 * the libraries Mite is built on (fastify, better-sqlite3, node:crypto) with nothing else. It is
 * the API benchmark's ceiling for `POST /v1/payments`: the budget of DESIGN.md section 11 can
 * only be met if this floor is well above it.
 *
 * `POST /floor/payments {offerId}` with a bearer token and an Idempotency-Key does what every
 * purchase must, and no more:
 * - finds the user by the SHA-256 of the token (an in-memory map: no session table);
 * - in one SQLite transaction shared by every purchase of the same event-loop turn (group
 *   commit): claims the idempotency key (a key seen before answers its stored response), records
 *   the payment, debits the wallet if its balance allows, credits the merchant and the platform's
 *   fee account, records both transfers and the merchant's webhook event, and stores the answer;
 * - signs the receipt (Ed25519, a compact JWS) inside that transaction, since the stored answer
 *   holds it;
 * - answers once an fsync of the WAL that began after the commit has completed, as the platform
 *   does (synchronous = NORMAL plus a shared fsync on libuv's thread pool).
 *
 * Not there, though the platform has them: sessions in the database, rate limits, schema
 * validation, OpenAPI, metrics, logs, offers and revenue splits looked up, a ledger of its own
 * (separate file, writer thread, linked transfers, history), webhook endpoints, pseudonyms.
 */
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { closeSync, fsync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify, { type FastifyInstance } from 'fastify';
// Purchases in one transaction at most, as in the platform's batcher.
import { transactionBatchSizeMax } from '../../packages/server/src/db/transaction-batcher.ts';

export const purchaseFloorPath = '/floor/payments';
/** What one purchase costs the wallet and how it is split, in micro-units. */
const floorPriceMicros = 10_000;
const floorFeeMicros = 1_000;

const walletAccountBase = 1_000;
const merchantAccountId = 1;
const feeAccountId = 2;

export interface PurchaseFloor {
  readonly url: string;
  close(): Promise<void>;
}

interface FloorUser {
  readonly id: string;
  readonly walletAccountId: number;
}

interface FloorAnswer {
  readonly status: number;
  readonly body: string;
}

interface Pending {
  readonly user: FloorUser;
  readonly key: string;
  readonly offerId: string;
  readonly answer: (answer: FloorAnswer) => void;
  readonly fail: (error: Error) => void;
}

const schema = `
create table idempotency (principal text, key text, status int, body text, primary key (principal, key));
create table payments (id text primary key, user_id text not null, offer_id text not null,
  amount_micros int not null, created_at int not null);
create index payments_by_user on payments (user_id, created_at);
create table accounts (id int primary key, debits int not null, credits int not null);
create table transfers (id int primary key, debit int not null, credit int not null,
  amount int not null, created_at int not null);
create table events (id text primary key, payload text not null, created_at int not null);
`;

/** Opens `floor.sqlite` in `dataDir`, funds one wallet per token and listens on loopback. */
export async function startPurchaseFloor(options: {
  readonly dataDir: string;
  readonly userTokens: readonly string[];
  readonly fundingMicros: bigint;
}): Promise<PurchaseFloor> {
  const file = join(options.dataDir, 'purchase-floor.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(schema);
  const users = new Map<string, FloorUser>();
  const fund = db.prepare('insert into accounts values (?, 0, ?)');
  db.transaction(() => {
    fund.run(merchantAccountId, 0);
    fund.run(feeAccountId, 0);
    options.userTokens.forEach((token, i) => {
      const user = { id: `usr_floor_${i}`, walletAccountId: walletAccountBase + i };
      users.set(tokenHash(token), user);
      fund.run(user.walletAccountId, options.fundingMicros);
    });
  })();
  const walFd = openSync(`${file}-wal`, 'r+');
  const purchases = createFloorPurchases(db, walFd);
  const app = floorApp(users, purchases.enqueue);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    async close() {
      await app.close();
      await purchases.drained();
      closeSync(walFd);
      db.close();
    },
  };
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function floorApp(
  users: ReadonlyMap<string, FloorUser>,
  enqueue: (purchase: Omit<Pending, 'answer' | 'fail'>) => Promise<FloorAnswer>,
): FastifyInstance {
  const app = Fastify({ logger: false });
  app.post(purchaseFloorPath, async (request, reply) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const user = token === undefined ? undefined : users.get(tokenHash(token));
    if (user === undefined) return reply.code(401).send({ title: 'unauthenticated' });
    const key = request.headers['idempotency-key'];
    const offerId = (request.body as { offerId?: unknown } | null)?.offerId;
    if (typeof key !== 'string' || typeof offerId !== 'string') {
      return reply.code(400).send({ title: 'an Idempotency-Key and an offerId are required' });
    }
    const answer = await enqueue({ user, key, offerId });
    return reply.code(answer.status).type('application/json').send(answer.body);
  });
  return app;
}

/** Group commit: the purchases of one event-loop turn share a transaction and an fsync. */
function createFloorPurchases(db: Database.Database, walFd: number) {
  const statements = prepareStatements(db);
  const { privateKey } = generateKeyPairSync('ed25519');
  const queue: Pending[] = [];
  let scheduled = false;
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  const context: PurchaseContext = { statements, privateKey, nextTransferId: 1 };

  const commit = db.transaction((batch: readonly Pending[], now: number) =>
    batch.map((pending) => purchaseOnce(context, pending, now)),
  );

  const flush = (): void => {
    scheduled = false;
    const batch = queue.splice(0, transactionBatchSizeMax);
    if (queue.length > 0) schedule();
    let answers: FloorAnswer[];
    try {
      answers = commit(batch, Date.now());
    } catch (error) {
      for (const pending of batch) pending.fail(error as Error);
      return;
    }
    inFlight++;
    fsync(walFd, (error) => {
      inFlight--;
      batch.forEach((pending, i) => {
        const answer = answers[i];
        if (error !== null || answer === undefined)
          pending.fail(error ?? new Error('bug: no answer'));
        else pending.answer(answer);
      });
      if (inFlight === 0 && queue.length === 0) onDrained?.();
    });
  };

  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  return {
    enqueue(purchase: Omit<Pending, 'answer' | 'fail'>): Promise<FloorAnswer> {
      return new Promise((answer, fail) => {
        queue.push({ ...purchase, answer, fail });
        schedule();
      });
    },
    drained(): Promise<void> {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => (onDrained = resolve));
    },
  };
}

interface PurchaseContext {
  readonly statements: ReturnType<typeof prepareStatements>;
  readonly privateKey: KeyObject;
  nextTransferId: number;
}

/** One purchase inside the batch's transaction: claim the key, move the money, store the answer. */
function purchaseOnce(context: PurchaseContext, pending: Pending, now: number): FloorAnswer {
  const { statements } = context;
  const { user, key, offerId } = pending;
  if (statements.claim.run(user.id, key).changes === 0) {
    const stored = statements.stored.get(user.id, key) as { body: string };
    return { status: 200, body: stored.body };
  }
  const debited = statements.debit.run(floorPriceMicros, user.walletAccountId, floorPriceMicros);
  if (debited.changes === 0) {
    const body = JSON.stringify({ title: 'insufficient funds' });
    statements.store.run(402, body, user.id, key);
    return { status: 402, body };
  }
  const paymentId = `pay_${randomUUID()}`;
  statements.payment.run(paymentId, user.id, offerId, floorPriceMicros, now);
  const merchantShare = floorPriceMicros - floorFeeMicros;
  statements.credit.run(merchantShare, merchantAccountId);
  statements.credit.run(floorFeeMicros, feeAccountId);
  statements.transfer.run(
    context.nextTransferId++,
    user.walletAccountId,
    merchantAccountId,
    merchantShare,
    now,
  );
  statements.transfer.run(
    context.nextTransferId++,
    user.walletAccountId,
    feeAccountId,
    floorFeeMicros,
    now,
  );
  statements.event.run(`evt_${randomUUID()}`, JSON.stringify({ paymentId, offerId }), now);
  const claims = {
    paymentId,
    offerId,
    amount: '0.01',
    currency: 'USD',
    issuedAt: Math.floor(now / 1000),
  };
  const body = JSON.stringify({
    paymentId,
    receipt: signedReceipt(claims, context.privateKey),
    claims,
  });
  statements.store.run(201, body, user.id, key);
  return { status: 201, body };
}

function prepareStatements(db: Database.Database) {
  return {
    claim: db.prepare(
      'insert into idempotency (principal, key) values (?, ?) on conflict do nothing',
    ),
    stored: db.prepare('select body from idempotency where principal = ? and key = ?'),
    store: db.prepare(
      'update idempotency set status = ?, body = ? where principal = ? and key = ?',
    ),
    debit: db.prepare(
      'update accounts set debits = debits + ? where id = ? and credits - debits >= ?',
    ),
    credit: db.prepare('update accounts set credits = credits + ? where id = ?'),
    payment: db.prepare('insert into payments values (?, ?, ?, ?, ?)'),
    transfer: db.prepare('insert into transfers values (?, ?, ?, ?, ?)'),
    event: db.prepare('insert into events values (?, ?, ?)'),
  };
}

const receiptHeader = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString(
  'base64url',
);

function signedReceipt(claims: object, privateKey: KeyObject): string {
  const signingInput = `${receiptHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
}
