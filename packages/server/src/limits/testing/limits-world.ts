/**
 * A platform for the limits' tests (spending caps, fair-price caps) over real HTTP: small caps, the
 * operator in Seoul on a clock the test moves (a minute before November ends there), no risk
 * rules (one user buys many times a minute: the caps are under test), a merchant with a key and a
 * user who topped up.
 */
import type { TestContext } from 'node:test';
import {
  type Backend,
  createMerchantWithKey,
  expectStatus,
  type PlatformOverrides,
  type PlatformUnderTest,
  signUpAndTopUp,
  startPlatformUnderTest,
} from '../../platform-testing.ts';
import { noRiskRules } from '../../risk/rule-set.ts';
import type { PlatformCaps } from '../platform-caps.ts';

export const units = 1_000_000n;

/** Small caps, so that a test reaches them in a few purchases. */
export const testCaps: PlatformCaps = {
  categoryMonthlyMicros: { content: 10n * units, goods: 20n * units },
  resellableMonthlyMicros: 3n * units,
  minorMonthlyMicros: 2n * units,
};

/** 2026-11-30 23:59:59 in Seoul (UTC+9, no summer time): the last second of November there. */
export const lastSecondOfNovemberInSeoulMs = Date.UTC(2026, 10, 30, 14, 59, 59);

export interface Bought {
  readonly status: number;
  readonly body: Record<string, unknown> | undefined;
}

export interface LimitsWorld {
  readonly env: PlatformUnderTest;
  readonly clock: { nowMs: number };
  readonly merchantId: string;
  readonly apiKey: string;
  /** The user's session token. */
  readonly user: string;
  /** A new offer at this price, bought as often as wanted (no access period). */
  offer(
    price: string,
    options?: { readonly category?: 'content' | 'goods'; readonly apiKey?: string },
  ): Promise<string>;
  buy(offerId: string): Promise<Bought>;
  /** `GET /v1/users/me/spending`. */
  spending(): Promise<Record<string, unknown>>;
  /** The wallet's balance, as the API writes it. */
  balance(): Promise<unknown>;
  /** `PUT /v1/merchants/{id}/fair-price-cap` (by the merchant's key unless another is given). */
  setCap(cap: string | null, auth?: string): Promise<{ status: number; text: string }>;
}

export async function startLimitsWorld(
  t: TestContext,
  backend: Backend,
  options: { readonly topUp?: string; readonly overrides?: PlatformOverrides } = {},
): Promise<LimitsWorld> {
  const clock = { nowMs: lastSecondOfNovemberInSeoulMs - 60_000 };
  const env = await startPlatformUnderTest(t, backend, {
    platformCaps: testCaps,
    timeZone: 'Asia/Seoul',
    clock: () => clock.nowMs,
    backgroundJobs: false,
    riskRules: noRiskRules,
    ...options.overrides,
  });
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Daily News' });
  const { user } = await signUpAndTopUp(env, {
    email: 'ada@example.com',
    password: 'a long passphrase',
    topUp: options.topUp ?? '50.00',
  });
  let offers = 0;
  return {
    env,
    clock,
    merchantId,
    apiKey,
    user,
    async offer(price, { category = 'content', apiKey: key = apiKey } = {}) {
      const body = {
        resource: `/items/${++offers}`,
        title: `Item ${offers}`,
        price,
        category,
        accessPeriodSeconds: 0,
      };
      const created = expectStatus(
        await env.call('POST', '/v1/offers', { auth: key, body }),
        201,
        'offer',
      );
      return String(created.id);
    },
    async buy(offerId) {
      const answer = await env.call('POST', '/v1/payments', { auth: user, body: { offerId } });
      return { status: answer.status, body: answer.body };
    },
    async spending() {
      return expectStatus(
        await env.call('GET', '/v1/users/me/spending', { auth: user }),
        200,
        'spending',
      );
    },
    async balance() {
      return (await env.call('GET', '/v1/wallet', { auth: user })).body?.balance;
    },
    async setCap(cap, auth = apiKey) {
      const path = `/v1/merchants/${merchantId}/fair-price-cap`;
      const answer = await env.call('PUT', path, { auth, body: { monthlyCap: cap } });
      return { status: answer.status, text: answer.text };
    },
  };
}
