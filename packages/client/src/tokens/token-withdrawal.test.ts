import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeBase64url, verifyBlindRsa } from '@mite/protocol';
import { postgresSkipReason } from '@mite/testkit';
import { type Dialect, type LiveWorld, startLiveWorld } from '../testing/live-world.ts';
import { fetchTokenKeys, rsaPublicKeyOfSpki } from './published-keys.ts';
import { memoryTokenStore, tokensValueMicros } from './token-store.ts';
import {
  denominationsOf,
  resumeWithdrawals,
  TokenWithdrawalError,
  withdrawTokens,
} from './token-withdrawal.ts';

/** Small denominations: each key costs the platform a fraction of a second to make. */
const tokenDenominationsMicros = [1n, 2n, 4n, 8n];

describe('token withdrawal helpers', () => {
  it('splits an amount into its powers of two', () => {
    assert.deepEqual(denominationsOf(13n), [8n, 4n, 1n]);
    assert.deepEqual(denominationsOf(0n), []);
    assert.deepEqual(denominationsOf(1n << 40n), [1n << 40n]);
  });

  it('reads an RSA key\u2019s modulus and exponent from its SPKI as OpenSSL wrote it', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    const key = rsaPublicKeyOfSpki(publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(key.n, BigInt(`0x${Buffer.from(jwk.n ?? '', 'base64url').toString('hex')}`));
    assert.equal(key.e, 65537n);
    assert.throws(() => rsaPublicKeyOfSpki(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])));
  });
});

for (const dialect of ['sqlite', 'postgres'] satisfies Dialect[]) {
  const skip = dialect === 'postgres' ? postgresSkipReason() : undefined;
  describe(`withdrawing tokens from a platform (${dialect})`, { skip }, () => {
    let world: LiveWorld;

    before(async () => {
      world = await startLiveWorld(dialect, '1.00', { tokenDenominationsMicros });
    });
    after(() => world?.close());

    const options = (store = memoryTokenStore()) => ({
      platformUrl: world.platformUrl,
      sessionToken: world.token,
      store,
    });

    it('withdraws exactly the amount as valid tokens, charging the wallet once', async () => {
      const store = memoryTokenStore();
      const walletBefore = await world.walletMicros();
      const tokens = await withdrawTokens({ ...options(store), amountMicros: 13n });
      assert.deepEqual(
        tokens.map((token) => token.denominationMicros),
        ['8', '4', '1'],
      );
      assert.equal(walletBefore - (await world.walletMicros()), 13n);
      const state = await store.load();
      assert.equal(tokensValueMicros(state), 13n);
      assert.deepEqual(state.pendingWithdrawals, []);
      const keys = await fetchTokenKeys(new URL(world.platformUrl), fetch);
      for (const token of tokens) {
        const key = keys.find((candidate) => candidate.keyId === token.keyId);
        assert.ok(key);
        const message = decodeBase64url(token.message, 64);
        const signature = decodeBase64url(token.signature, 1024);
        assert.ok(message.ok && signature.ok);
        assert.equal(verifyBlindRsa(key.publicKey, message.value, signature.value), true);
      }
    });

    it('keeps a withdrawal whose answer was lost, and resuming it charges nothing more', async () => {
      const store = memoryTokenStore();
      const walletBefore = await world.walletMicros();
      // The platform does the work; the answer never arrives.
      const losesAnswers: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (init?.method === 'POST') throw new TypeError('connection reset');
        return response;
      };
      await assert.rejects(
        withdrawTokens({ ...options(store), amountMicros: 6n, fetch: losesAnswers }),
        (error: unknown) => error instanceof TokenWithdrawalError && error.pending,
      );
      assert.equal(walletBefore - (await world.walletMicros()), 6n, 'charged once');
      assert.equal((await store.load()).pendingWithdrawals.length, 1);
      const resumed = await resumeWithdrawals(options(store));
      assert.deepEqual(
        resumed.map((token) => token.denominationMicros),
        ['4', '2'],
      );
      assert.equal(walletBefore - (await world.walletMicros()), 6n, 'still charged once');
      assert.deepEqual((await store.load()).pendingWithdrawals, []);
    });

    it('a refused withdrawal is dropped and charges nothing; a key that is not its id is not used', async () => {
      const store = memoryTokenStore();
      const walletBefore = await world.walletMicros();
      await assert.rejects(
        withdrawTokens({ ...options(store), amountMicros: 16n }),
        /issues no token of 16/,
      );
      const noFunds = { ...options(store), sessionToken: 'not-a-session' };
      await assert.rejects(
        withdrawTokens({ ...noFunds, amountMicros: 1n }),
        (error: unknown) => error instanceof TokenWithdrawalError && !error.pending,
      );
      assert.deepEqual(await store.load(), { tokens: [], pendingWithdrawals: [] });
      const swapsKeys: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).endsWith('/v1/token-keys')) return response;
        const body = (await response.json()) as { keys: { keyId: string }[] };
        const [first, second] = body.keys;
        if (first !== undefined && second !== undefined)
          [first.keyId, second.keyId] = [second.keyId, first.keyId];
        return new Response(JSON.stringify(body), {
          headers: { 'content-type': 'application/json' },
        });
      };
      await assert.rejects(
        withdrawTokens({ ...options(store), amountMicros: 1n, fetch: swapsKeys }),
        /is not the key its id names/,
      );
      assert.equal(await world.walletMicros(), walletBefore);
    });
  });
}
