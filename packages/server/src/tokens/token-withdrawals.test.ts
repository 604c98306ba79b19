import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { blind, type BlindRsaPublicKey, finalize, verifyBlindRsa } from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import { platformAccountIds } from '../ledger/chart-of-accounts.ts';
import { type Backend, startPlatformUnderTest } from '../platform-testing.ts';

/** Small denominations: each key costs a fraction of a second to make. */
const denominationsMicros = [1n, 2n, 4n];
const random = (length: number) => new Uint8Array(randomBytes(length));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');

/** A platform with a user whose wallet holds `balanceMicros`, and the published keys. */
async function start(t: TestContext, backend: Backend, balanceMicros: bigint) {
  const env = await startPlatformUnderTest(t, backend, {
    backgroundJobs: false,
    tokenDenominationsMicros: denominationsMicros,
  });
  const { services, ledger } = env.platform;
  const signedUp = await services.users.signUp({
    email: 'tess@example.com',
    password: 'a long passphrase',
  });
  assert.ok(signedUp.ok);
  const session = await services.users.logIn({
    email: 'tess@example.com',
    password: 'a long passphrase',
  });
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
  const keys = await services.tokenKeys.publishedKeys();
  const keyOf = (micros: bigint) =>
    keys.find((key) => key.denominationMicros === micros) ?? assert.fail(`no key of ${micros}`);
  const balance = async () => (await ledger.lookupAccounts([profile.walletAccountId]))[0];
  const walletMicros = async () => {
    const account = (await balance()) ?? assert.fail('no wallet');
    return account.creditsPosted - account.debitsPosted;
  };
  return { env, token: session.value.token, keyOf, walletMicros };
}

/** Blinded outputs for tokens of these keys, with what it takes to finish them. */
function outputsFor(keys: readonly { keyId: string; publicKey: BlindRsaPublicKey }[]) {
  return keys.map((key) => {
    const message = random(32);
    const blinded = blind(key.publicKey, message, random);
    assert.ok(blinded.ok);
    return { key, message, ...blinded.value };
  });
}

forEachDialect('token withdrawals', (dialect, it) => {
  it('debits the wallet by the denominations and answers blind signatures that finish into valid tokens', async (t) => {
    const { env, token, keyOf, walletMicros } = await start(t, dialect, 100n);
    const outputs = outputsFor([keyOf(4n), keyOf(2n), keyOf(2n)]);
    const body = {
      outputs: outputs.map((o) => ({ keyId: o.key.keyId, blindedMessage: b64(o.blindedMessage) })),
    };
    const headers = { 'idempotency-key': 'withdraw-1' };
    const answer = await env.call('POST', '/v1/tokens/withdrawals', { auth: token, body, headers });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.body?.amount, '0.000008');
    assert.equal(await walletMicros(), 92n);
    const signatures = answer.body?.blindSignatures as { keyId: string; blindSignature: string }[];
    outputs.forEach((output, index) => {
      const signed = signatures[index] ?? assert.fail('a signature per output');
      const finished = finalize(
        output.key.publicKey,
        output.message,
        Buffer.from(signed.blindSignature, 'base64url'),
        output.inverse,
      );
      assert.ok(finished.ok, 'the signature finishes into a token');
      assert.equal(verifyBlindRsa(output.key.publicKey, output.message, finished.value), true);
    });

    // A retry answers the same signatures and debits nothing more; other outputs under the key
    // are refused.
    const again = await env.call('POST', '/v1/tokens/withdrawals', { auth: token, body, headers });
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, answer.body);
    assert.equal(await walletMicros(), 92n);
    const other = outputsFor([keyOf(1n)]);
    const reused = await env.call('POST', '/v1/tokens/withdrawals', {
      auth: token,
      headers,
      body: {
        outputs: [
          {
            keyId: other[0]?.key.keyId,
            blindedMessage: b64(other[0]?.blindedMessage ?? new Uint8Array()),
          },
        ],
      },
    });
    assert.equal(reused.status, 422, reused.text);
    assert.equal(await walletMicros(), 92n);

    // The platform keeps no blinded message, only a hash of the outputs.
    const rows = await env.platform.platformDb.db
      .selectFrom('token_withdrawals')
      .selectAll()
      .execute();
    const stored = JSON.stringify(rows, (_k, v: unknown) =>
      typeof v === 'bigint' ? String(v) : v,
    );
    for (const output of outputs) assert.ok(!stored.includes(b64(output.blindedMessage)));
  });

  it('refuses unknown keys, wrong lengths and more than the wallet holds, moving nothing', async (t) => {
    const { env, token, keyOf, walletMicros } = await start(t, dialect, 5n);
    const [four] = outputsFor([keyOf(4n)]);
    assert.ok(four);
    const send = (outputs: unknown, key: string) =>
      env.call('POST', '/v1/tokens/withdrawals', {
        auth: token,
        body: { outputs },
        headers: { 'idempotency-key': key },
      });
    const unknown = await send(
      [{ keyId: 'no-such-key', blindedMessage: b64(four.blindedMessage) }],
      'a',
    );
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body?.type, '/v1/problems/unknown-token-key');
    const short = await send([{ keyId: four.key.keyId, blindedMessage: b64(random(32)) }], 'b');
    assert.equal(short.status, 400);
    const tooMuch = outputsFor([keyOf(4n), keyOf(2n)]);
    const refused = await send(
      tooMuch.map((o) => ({ keyId: o.key.keyId, blindedMessage: b64(o.blindedMessage) })),
      'c',
    );
    assert.equal(refused.status, 409, refused.text);
    assert.equal(await walletMicros(), 5n);
    assert.equal((await send([], 'd')).status, 400);
  });

  it('concurrent withdrawals never take the wallet below zero, and duplicates debit once', async (t) => {
    const { env, token, keyOf, walletMicros } = await start(t, dialect, 10n);
    const outputs = outputsFor([keyOf(4n)]);
    const body = {
      outputs: outputs.map((o) => ({ keyId: o.key.keyId, blindedMessage: b64(o.blindedMessage) })),
    };
    // Five copies of one request at once: one withdrawal.
    const duplicates = await Promise.all(
      [1, 2, 3, 4, 5].map(() =>
        env.call('POST', '/v1/tokens/withdrawals', {
          auth: token,
          body,
          headers: { 'idempotency-key': 'same' },
        }),
      ),
    );
    assert.deepEqual(new Set(duplicates.map((a) => a.status)), new Set([201]));
    assert.equal(new Set(duplicates.map((a) => a.body?.withdrawalId)).size, 1);
    assert.equal(await walletMicros(), 6n);
    // Four different withdrawals of 4 against 6: exactly one more goes through.
    const racing = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        env.call('POST', '/v1/tokens/withdrawals', {
          auth: token,
          body: {
            outputs: outputsFor([keyOf(4n)]).map((o) => ({
              keyId: o.key.keyId,
              blindedMessage: b64(o.blindedMessage),
            })),
          },
          headers: { 'idempotency-key': `race-${n}` },
        }),
      ),
    );
    assert.deepEqual(racing.map((a) => a.status).sort(), [201, 409, 409, 409]);
    assert.equal(await walletMicros(), 2n);
    assert.deepEqual((await env.platform.ledger.verify()).problems, []);
  });
});
