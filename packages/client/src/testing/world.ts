/**
 * One test's loopback world: a shared hand-moved clock, a test platform with one funded wallet,
 * merchants, and a client configured against them. Test-only code.
 */
import type { Budget } from '../budget.ts';
import { createMiteFetch, type MiteFetch, type MiteFetchOptions } from '../mite-fetch.ts';
import { createTestClock, type TestClock } from './http.ts';
import { startTestMerchant, type TestMerchant, type TestRoute } from './test-merchant.ts';
import { startTestPlatform, type TestPlatform } from './test-platform.ts';

export const walletToken = 'sess_test_wallet';

export const roomyBudget: Budget = {
  maxPerPayment: '1.00',
  maxPerOriginPerDay: '10.00',
  maxTotal: '100.00',
};

export interface World {
  readonly clock: TestClock;
  readonly platform: TestPlatform;
  merchant(routes: Readonly<Record<string, TestRoute>>): Promise<TestMerchant>;
  client(options?: Partial<MiteFetchOptions>): MiteFetch;
  close(): Promise<void>;
}

export async function startWorld(options: { readonly balance?: string } = {}): Promise<World> {
  const clock = createTestClock();
  const platform = await startTestPlatform({
    clock: clock.nowMs,
    accounts: { [walletToken]: options.balance ?? '10.00' },
  });
  const merchants: TestMerchant[] = [];
  return {
    clock,
    platform,
    async merchant(routes) {
      const merchant = await startTestMerchant({
        platformUrl: platform.url,
        clock: clock.nowMs,
        routes,
        merchantId: `mer_${merchants.length + 1}`,
      });
      merchants.push(merchant);
      return merchant;
    },
    client(overrides = {}) {
      return createMiteFetch({
        wallet: { platformUrl: platform.url, token: walletToken },
        budget: roomyBudget,
        clock: clock.nowMs,
        platformRetry: { attempts: 3, delayMs: 5, timeoutMs: 5_000 },
        ...overrides,
      });
    },
    async close() {
      await Promise.all(merchants.map((merchant) => merchant.close()));
      await platform.close();
    },
  };
}
