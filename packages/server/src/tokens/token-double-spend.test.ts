/**
 * Double spending across two server processes sharing one database: tokens withdrawn at one
 * process are deposited at both at once, each token in several sets, by two merchants. Exactly
 * one deposit of each token wins, and the platform pays out exactly what was withdrawn.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { tempDir } from '@mite/testkit';
import { apiKeyScopes } from '../auth/scopes.ts';
import { postgresSkipReason } from '@mite/testkit';
import { databaseUrlFor, forEachDialect } from '../db/testing.ts';
import { blindRsaPublicKey } from './blind-signer.ts';
import { outputsFor, outputsJson, finished, wireAmount } from './testing/token-world.ts';

const processPath = fileURLToPath(new URL('./testing/platform-process.ts', import.meta.url));
/** How long a platform process may take to start (it makes its keyset on first use). */
const startTimeoutMs = 60_000;

interface Node {
  readonly base: string;
  readonly admin?: string;
}

function startProcess(
  t: TestContext,
  args: readonly string[],
  env: Record<string, string>,
): Promise<Node> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', processPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  t.after(() => {
    child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no start: ${err}`)), startTimeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (process.env.MITE_TEST_LOG !== undefined) process.stderr.write(chunk);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /^url (\S+)$/m.exec(out)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      const admin = /^admin (\S+)$/m.exec(out)?.[1];
      resolve(admin === undefined ? { base: url } : { base: url, admin });
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code}: ${err}`)));
  });
}

async function call(base: string, path: string, auth: string | undefined, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(auth === undefined ? {} : { authorization: `Bearer ${auth}` }),
      ...(body === undefined
        ? {}
        : {
            'content-type': 'application/json',
            'idempotency-key': randomBytes(8).toString('hex'),
          }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

async function created(base: string, path: string, auth: string | undefined, body: unknown) {
  const answer = await call(base, path, auth, body);
  assert.equal(answer.status, 201, `${path}: ${answer.text}`);
  return answer.body;
}

async function merchantKey(node: Node, admin: string, name: string): Promise<string> {
  const merchant = await created(node.base, '/v1/merchants', admin, {
    name,
    feeBasisPoints: 0,
    payoutThreshold: '10.00',
  });
  const key = await created(
    node.base,
    `/v1/merchants/${String(merchant.merchantId)}/api-keys`,
    admin,
    {
      scopes: [...apiKeyScopes],
    },
  );
  return String(key.secret);
}

forEachDialect(
  'token double spending across two server processes',
  (dialect, it) => {
    it('lets exactly one deposit of each token win', async (t) => {
      const databaseUrl = await databaseUrlFor(dialect);
      const env = {
        MITE_MASTER_KEY: randomBytes(32).toString('base64'),
        MITE_RECEIPT_SIGNING_KEY: generateKeyPairSync('ed25519')
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      };
      const first = await startProcess(t, [databaseUrl, tempDir('mite-node-'), '--bootstrap'], env);
      const second = await startProcess(t, [databaseUrl, tempDir('mite-node-')], env);
      const admin = first.admin ?? assert.fail('the first process bootstraps');
      const shopKeys = [
        await merchantKey(first, admin, 'Shop A'),
        await merchantKey(second, admin, 'Shop B'),
      ];
      const credentials = { email: 'ada@example.com', password: 'a long passphrase' };
      await created(first.base, '/v1/users', undefined, credentials);
      const session = String(
        (await created(first.base, '/v1/sessions', undefined, credentials)).token,
      );
      await created(first.base, '/v1/topups', session, {
        amount: '1.00',
        card: { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' },
      });
      const keys = (await call(first.base, '/v1/token-keys', undefined)).body.keys as {
        keyId: string;
        denomination: string;
        spki: string;
      }[];
      const one = keys.find((key) => key.denomination === '0.000001') ?? assert.fail('no 1');
      const spki = createPublicKey({
        key: Buffer.from(one.spki, 'base64url'),
        format: 'der',
        type: 'spki',
      });
      const key = { keyId: one.keyId, publicKey: blindRsaPublicKey(spki) };
      const outputs = outputsFor(Array.from({ length: 8 }, () => key));
      const withdrawal = await created(first.base, '/v1/tokens/withdrawals', session, {
        outputs: outputsJson(outputs),
      });
      const tokens = finished(outputs, withdrawal);

      // Every pair of tokens, and every token alone, at both processes, by both merchants.
      const attempts = [];
      for (const [index, token] of tokens.entries()) {
        const partner = tokens[(index + 1) % tokens.length] ?? assert.fail();
        for (const [node, apiKey] of [
          [first, shopKeys[0]],
          [second, shopKeys[1]],
        ] as const) {
          attempts.push({ node, apiKey, set: [token] });
          attempts.push({ node, apiKey, set: [token, partner] });
        }
      }
      const answers = await Promise.all(
        attempts.map(({ node, apiKey, set }) =>
          call(node.base, '/v1/tokens/deposits', apiKey, {
            tokens: set,
            amount: wireAmount(BigInt(set.length)),
            resource: '/songs/1',
          }),
        ),
      );
      const statuses = answers.map((answer) => answer.status);
      assert.ok(
        statuses.every((status) => status === 201 || status === 409),
        String(statuses),
      );
      // Each token is in exactly one winning deposit: the winners' tokens never overlap, and
      // together they are worth at most what was withdrawn.
      const won = attempts.filter((_, index) => answers[index]?.status === 201);
      const spent = won.flatMap((attempt) => attempt.set.map((token) => token.message));
      assert.equal(new Set(spent).size, spent.length, 'no token won twice');
      assert.ok(spent.length >= tokens.length / 2, `only ${spent.length} tokens spent`);
    });
  },
  // SQLite is embedded: a lock file keeps a second process from opening the same store
  // (packages/ledger/src/sqlite/lock-file.ts), so two processes are PostgreSQL's case only.
  (dialect) =>
    dialect === 'sqlite'
      ? 'an embedded SQLite store is opened by one process only'
      : postgresSkipReason(),
);
