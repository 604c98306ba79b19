/**
 * A platform for the code redemption tests over real HTTP: a gift-card shop the operator classed
 * resellable, with a key holding every scope and a 5.00 gift card offer (bought as often as
 * wanted), on a clock the test moves, and helpers to sign people up, buy, learn a payer's
 * pseudonym as the shop sees it, and report redemptions.
 */
import type { TestContext } from 'node:test';
import {
  type Answer,
  type Backend,
  createMerchantWithKey,
  expectStatus,
  type PlatformOverrides,
  type PlatformUnderTest,
  signUpAndTopUp,
  startPlatformUnderTest,
} from '../../platform-testing.ts';

export const giftCardPrice = '5.00';

export interface Person {
  readonly userId: string;
  /** The session token. */
  readonly user: string;
}

export interface RedemptionWorld {
  readonly env: PlatformUnderTest;
  readonly clock: { nowMs: number };
  readonly merchantId: string;
  /** The shop's key, with every scope. */
  readonly apiKey: string;
  readonly offerId: string;
  person(email: string, topUp?: string): Promise<Person>;
  /** Buys a gift card; the answer. */
  buy(person: Person): Promise<Answer>;
  /** Buys a gift card, which must succeed: its payment id. */
  bought(person: Person): Promise<string>;
  /** The payer of a payment, as the shop sees them (its receipts' pseudonym). */
  payerOf(paymentId: string): Promise<string>;
  /** `POST /v1/merchants/{shop}/redemptions` with the shop's key unless told otherwise. */
  report(
    body: unknown,
    options?: { readonly auth?: string; readonly key?: string; readonly merchantId?: string },
  ): Promise<Answer>;
}

export async function startRedemptionWorld(
  t: TestContext,
  backend: Backend,
  overrides: PlatformOverrides = {},
): Promise<RedemptionWorld> {
  const clock = { nowMs: Date.parse('2026-03-02T10:00:00Z') };
  const env = await startPlatformUnderTest(t, backend, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
    ...overrides,
  });
  const { merchantId, apiKey } = await createMerchantWithKey(env, { name: 'Gift Cards Ltd' });
  expectStatus(
    await env.call('PUT', `/v1/merchants/${merchantId}/spending-class`, {
      auth: env.admin,
      body: { category: 'goods', resellable: true },
    }),
    200,
    'spending class',
  );
  const offer = expectStatus(
    await env.call('POST', '/v1/offers', {
      auth: apiKey,
      body: {
        resource: '/gift-card',
        title: 'Gift card',
        price: giftCardPrice,
        category: 'goods',
        accessPeriodSeconds: 0,
      },
    }),
    201,
    'offer',
  );
  const offerId = String(offer.id);
  const buy = (person: Person) =>
    env.call('POST', '/v1/payments', { auth: person.user, body: { offerId } });
  return {
    env,
    clock,
    merchantId,
    apiKey,
    offerId,
    person: (email, topUp = '50.00') =>
      signUpAndTopUp(env, { email, password: 'a long passphrase', topUp }),
    buy,
    async bought(person) {
      return String(expectStatus(await buy(person), 201, 'gift card').paymentId);
    },
    async payerOf(paymentId) {
      const payment = await env.call('GET', `/v1/payments/${paymentId}`, { auth: apiKey });
      return String(expectStatus(payment, 200, 'payment').payer);
    },
    report(body, options = {}) {
      const path = `/v1/merchants/${options.merchantId ?? merchantId}/redemptions`;
      return env.call('POST', path, {
        auth: options.auth ?? apiKey,
        body,
        ...(options.key === undefined ? {} : { headers: { 'idempotency-key': options.key } }),
      });
    },
  };
}
