import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postgresSkipReason } from '@mite/testkit';
import { type Dialect, type LiveWorld, startLiveWorld } from '../testing/live-world.ts';
import { pickExact, pickSwapInputs, TokenPaymentError, TokenPurse } from './token-purse.ts';
import {
  memoryTokenStore,
  type StoredToken,
  type TokenState,
  tokensValueMicros,
} from './token-store.ts';
import { withdrawTokens } from './token-withdrawal.ts';

/** Small denominations: each key costs the platform a fraction of a second to make. */
const tokenDenominationsMicros = [1n, 2n, 4n, 8n];

const token = (denominationMicros: number, name: string): StoredToken => ({
  keyId: `key-${denominationMicros}`,
  denominationMicros: String(denominationMicros),
  message: name,
  signature: 'sig',
  redeemUntil: '2099-01-01T00:00:00.000Z',
});

const names = (tokens: readonly StoredToken[] | undefined) => tokens?.map((t) => t.message);

const denominations = (state: TokenState) =>
  state.tokens.map((t) => Number(t.denominationMicros)).sort((a, b) => a - b);

describe('picking tokens', () => {
  const held = [token(8, 'a'), token(1, 'b'), token(4, 'c'), token(1, 'd'), token(2, 'e')];

  it('picks tokens worth exactly the amount, largest first, or none', () => {
    assert.deepEqual(names(pickExact(held, 7n)), ['c', 'e', 'b']);
    assert.deepEqual(names(pickExact(held, 16n)), ['a', 'c', 'e', 'b', 'd']);
    assert.equal(pickExact(held, 17n), undefined);
    assert.equal(pickExact(held, 0n), undefined);
    assert.equal(pickExact(held, 7n, 2), undefined, 'not within the count');
    assert.equal(pickExact([token(4, 'x')], 3n), undefined);
  });

  it('swaps the smallest single token worth enough, else the largest until enough', () => {
    assert.deepEqual(names(pickSwapInputs(held, 3n)), ['c']);
    assert.deepEqual(names(pickSwapInputs(held, 8n)), ['a']);
    assert.deepEqual(names(pickSwapInputs(held, 9n)), ['a', 'c']);
    assert.equal(pickSwapInputs(held, 17n), undefined);
  });
});

for (const dialect of ['sqlite', 'postgres'] satisfies Dialect[]) {
  const skip = dialect === 'postgres' ? postgresSkipReason() : undefined;
  describe(`spending tokens from a purse (${dialect})`, { skip }, () => {
    let world: LiveWorld;

    before(async () => {
      world = await startLiveWorld(dialect, '1.00', { tokenDenominationsMicros });
    });
    after(() => world?.close());

    const filled = async (amountMicros: bigint) => {
      const store = memoryTokenStore();
      const base = { platformUrl: world.platformUrl, sessionToken: world.token, store };
      await withdrawTokens({ ...base, amountMicros });
      return store;
    };

    it('takes an exact set, swaps for change when there is none, and drops only what was taken', async () => {
      const store = await filled(13n);
      const purse = new TokenPurse({ store, platformUrl: world.platformUrl });
      const first = await purse.take(5n);
      assert.deepEqual(
        first.tokens.map((t) => t.denominationMicros),
        ['4', '1'],
      );
      assert.equal(await purse.spendableMicros(), 8n, 'the tokens taken are held');
      // Only the 8 is free: it is swapped into 2 + 1 and change 4 + 1.
      const second = await purse.take(3n);
      assert.deepEqual(
        second.tokens.map((t) => t.denominationMicros),
        ['2', '1'],
      );
      assert.deepEqual(denominations(await store.load()), [1, 1, 1, 2, 4, 4]);
      assert.deepEqual((await store.load()).pendingSwaps, []);
      await purse.settle(first, 'accepted');
      await purse.settle(second, 'notTaken');
      assert.equal(tokensValueMicros(await store.load()), 8n);
      assert.equal(await purse.spendableMicros(), 8n, 'a spend not taken is free again');
      await assert.rejects(
        purse.take(9n),
        (error: unknown) =>
          error instanceof TokenPaymentError && error.code === 'insufficientTokens',
      );
    });

    it('keeps a swap whose answer was lost, and resuming it gives the same tokens once', async () => {
      const store = await filled(8n);
      const losesAnswers: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (String(input).endsWith('/v1/tokens/swaps')) throw new TypeError('connection reset');
        return response;
      };
      const cut = new TokenPurse({ store, platformUrl: world.platformUrl, fetch: losesAnswers });
      await assert.rejects(
        cut.take(3n),
        (error: unknown) => error instanceof TokenPaymentError && error.pending,
      );
      const interrupted = await store.load();
      assert.deepEqual(interrupted.tokens, [], 'the input is out of the tokens');
      assert.equal(interrupted.pendingSwaps?.length, 1);
      const purse = new TokenPurse({ store, platformUrl: world.platformUrl });
      await purse.resumeSwaps();
      const resumed = await store.load();
      assert.deepEqual(resumed.pendingSwaps, []);
      assert.deepEqual(denominations(resumed), [1, 1, 2, 4]);
      assert.deepEqual(
        (await purse.take(3n)).tokens.map((t) => t.denominationMicros),
        ['2', '1'],
      );
    });

    it('on "token spent" drops the spent tokens and keeps the others, refreshed', async () => {
      const store = await filled(6n);
      const purse = new TokenPurse({ store, platformUrl: world.platformUrl });
      const spend = await purse.take(6n);
      const [four, two] = spend.tokens;
      assert.ok(four !== undefined && two !== undefined);
      // Someone holding a copy of the 4 spends it (a swap spends as a deposit does).
      const elsewhere = memoryTokenStore({ tokens: [four], pendingWithdrawals: [] });
      await new TokenPurse({ store: elsewhere, platformUrl: world.platformUrl }).take(1n);
      await purse.settle(spend, 'tokenSpent');
      const state = await store.load();
      assert.deepEqual(denominations(state), [2], 'the 2 kept, the spent 4 gone');
      assert.notEqual(state.tokens[0]?.message, two.message, 'a fresh token for the 2');
      assert.deepEqual(state.pendingSwaps, []);
    });

    it('keeps tokens handed to a page until it is known whether a merchant took them', async () => {
      let nowMs = Date.now();
      const store = await filled(6n);
      const purse = new TokenPurse({ store, platformUrl: world.platformUrl, nowMs: () => nowMs });
      const spend = await purse.take(6n);
      const [four, two] = spend.tokens;
      assert.ok(four !== undefined && two !== undefined);
      await purse.handOver(spend);
      assert.equal(await purse.spendableMicros(), 0n, 'handed over: not free to pay with');
      assert.equal((await store.load()).handedOver?.length, 1);
      // The merchant took the 4 (a swap elsewhere spends it as a deposit would); the 2 never.
      const merchant = memoryTokenStore({ tokens: [four], pendingWithdrawals: [] });
      await new TokenPurse({ store: merchant, platformUrl: world.platformUrl }).take(1n);
      assert.equal(await purse.reclaimHandedOver(60_000), 0n, 'too recent to ask about');
      nowMs += 60_001;
      assert.equal(await purse.reclaimHandedOver(60_000), 2n, 'the 2 came back');
      const state = await store.load();
      assert.deepEqual(denominations(state), [2]);
      assert.notEqual(state.tokens[0]?.message, two.message, 'as a fresh token');
      assert.deepEqual(state.handedOver, []);
      assert.deepEqual(state.pendingSwaps, []);
    });

    it('refills to a float in round batches, with the wallet charged for them', async () => {
      const store = memoryTokenStore();
      const purse = new TokenPurse({ store, platformUrl: world.platformUrl });
      const walletBefore = await world.walletMicros();
      const options = { sessionToken: world.token, floatMicros: 10n, batchMicros: 4n };
      assert.equal(await purse.refill(options), 12n);
      assert.equal(await purse.refill(options), 0n, 'the float is held');
      assert.equal(walletBefore - (await world.walletMicros()), 12n);
      assert.equal(await purse.spendableMicros(), 12n);
    });
  });
}
