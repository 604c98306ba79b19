/**
 * createMiteFetch paying with tokens, end to end: the real platform (withdrawals, swaps,
 * deposits), a real paywall that takes tokens (@mite/middleware with `tokens: { apiKey }`), on
 * loopback, on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postgresSkipReason } from '@mite/testkit';
import { isMitePaymentError } from '../errors.ts';
import { createMiteFetch } from '../mite-fetch.ts';
import { type Dialect, type LiveWorld, startLiveWorld } from '../testing/live-world.ts';
import { TokenPurse } from './token-purse.ts';
import { memoryTokenStore, type TokenStore, tokensValueMicros } from './token-store.ts';
import { withdrawTokens } from './token-withdrawal.ts';

/** Up to 32768 micro-units: an article (0.02) is five tokens. */
const tokenDenominationsMicros = Array.from({ length: 16 }, (_, bit) => 1n << BigInt(bit));
const articleMicros = 20_000n;
const budget = { maxPerPayment: '0.10', maxPerOriginPerDay: '1.00', maxTotal: '5.00' };

const valueOf = async (store: TokenStore) => tokensValueMicros(await store.load());

for (const dialect of ['sqlite', 'postgres'] satisfies Dialect[]) {
  const skip = dialect === 'postgres' ? postgresSkipReason() : undefined;
  describe(`createMiteFetch paying with tokens (${dialect})`, { skip }, () => {
    let world: LiveWorld;

    before(async () => {
      world = await startLiveWorld(dialect, '1.00', {
        tokenDenominationsMicros,
        shopTakesTokens: true,
      });
    });
    after(() => world?.close());

    const filled = async (amountMicros: bigint) => {
      const store = memoryTokenStore();
      const base = { platformUrl: world.platformUrl, sessionToken: world.token, store };
      await withdrawTokens({ ...base, amountMicros });
      return store;
    };
    const wallet = () => ({ platformUrl: world.platformUrl, token: world.token });

    it('pays an article with tokens, not from the wallet, and opens it again without paying', async () => {
      const store = await filled(50_000n);
      const walletBefore = await world.walletMicros();
      const spends: bigint[] = [];
      const miteFetch = createMiteFetch({
        wallet: wallet(),
        budget,
        tokens: { store, onSpend: (event) => spends.push(event.amountMicros) },
      });
      const response = await miteFetch(`${world.shopUrl}/articles/tokens-1`);
      assert.equal(response.status, 200);
      assert.match(await response.text(), /^article tokens-1/);
      assert.ok(response.headers.get('payment-receipt'));
      assert.equal(await valueOf(store), 30_000n, 'exactly the price left the purse');
      assert.equal(await world.walletMicros(), walletBefore, 'nothing from the wallet');
      assert.deepEqual(spends, [articleMicros]);
      assert.equal(miteFetch.spent().totalMicros, articleMicros, 'the budget counts it');
      const again = await miteFetch(`${world.shopUrl}/articles/tokens-1`);
      assert.equal(again.status, 200);
      await again.text();
      assert.equal(await valueOf(store), 30_000n, 'the same tokens open it again');
      assert.deepEqual(spends, [articleMicros]);
    });

    it('pays from the wallet when the tokens fall short; with only, pays nothing', async () => {
      const store = await filled(1_000n);
      const walletBefore = await world.walletMicros();
      const mixed = createMiteFetch({ wallet: wallet(), budget, tokens: { store } });
      const response = await mixed(`${world.shopUrl}/articles/tokens-2`);
      assert.equal(response.status, 200);
      await response.text();
      assert.equal(walletBefore - (await world.walletMicros()), articleMicros);
      assert.equal(await valueOf(store), 1_000n);
      const only = createMiteFetch({ wallet: wallet(), budget, tokens: { store, only: true } });
      await assert.rejects(only(`${world.shopUrl}/articles/tokens-3`), (error: unknown) =>
        isMitePaymentError(error, 'paymentFailed'),
      );
      assert.equal(walletBefore - (await world.walletMicros()), articleMicros);
      const tight = createMiteFetch({
        wallet: wallet(),
        budget: { ...budget, maxPerPayment: '0.01' },
        tokens: { store: await filled(articleMicros), only: true },
      });
      await assert.rejects(tight(`${world.shopUrl}/articles/tokens-3`), (error: unknown) =>
        isMitePaymentError(error, 'overBudget'),
      );
    });

    it('keeps the tokens when the answer is lost; presenting them again is charged once', async () => {
      const store = await filled(40_000n);
      let lose = true;
      const losesFirstAnswer: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        const paying = new Headers(init?.headers).has('authorization');
        if (paying && lose) {
          lose = false;
          await response.body?.cancel();
          throw new TypeError('connection reset');
        }
        return response;
      };
      const miteFetch = createMiteFetch({
        wallet: wallet(),
        budget,
        fetch: losesFirstAnswer,
        tokens: { store, only: true },
      });
      await assert.rejects(miteFetch(`${world.shopUrl}/articles/tokens-4`), /connection reset/);
      assert.equal(await valueOf(store), 40_000n, 'no token lost');
      const response = await miteFetch(`${world.shopUrl}/articles/tokens-4`);
      assert.equal(response.status, 200);
      await response.text();
      assert.equal(await valueOf(store), 20_000n, 'the price, once');
    });

    it('a token spent elsewhere is dropped and the purchase paid with others', async () => {
      const spentCopy = await filled(16_384n);
      const [copied] = (await spentCopy.load()).tokens;
      assert.ok(copied !== undefined);
      // Someone holding a copy of the token spends it first (a swap spends as a deposit does).
      await new TokenPurse({ store: spentCopy, platformUrl: world.platformUrl }).take(1n);
      // The spent 16384 comes first, so the exact set for the price takes it.
      const fresh = await filled(articleMicros);
      const store = memoryTokenStore({
        tokens: [copied, ...(await fresh.load()).tokens],
        pendingWithdrawals: [],
      });
      const miteFetch = createMiteFetch({
        wallet: wallet(),
        budget,
        tokens: { store, only: true },
      });
      const response = await miteFetch(`${world.shopUrl}/articles/tokens-5`);
      assert.equal(response.status, 200);
      await response.text();
      const left = await store.load();
      assert.equal(tokensValueMicros(left), 0n, 'the spent token dropped, the price paid once');
      assert.ok(!left.tokens.some((token) => token.message === copied.message));
    });
  });
}
