import fs from 'node:fs';
import path from 'node:path';
import { formatAmount } from '@mite/protocol';
import { apiKeyScopes } from '../auth/scopes.ts';
import { sandboxCards } from '../funding/sandbox-provider.ts';
import type { Platform } from '../platform.ts';

export const demoCredentialsFileName = 'demo-credentials.json';

export interface DemoCredentials {
  readonly users: { email: string; password: string; balance: string }[];
  readonly merchants: { name: string; merchantId: string; apiKey: string }[];
  readonly offers: { offerId: string; title: string; price: string; merchant: string }[];
}

const demoUsers = [
  { email: 'ada@demo.mite.local', password: 'demo-password-ada', balanceMicros: 10_000_000n },
  { email: 'bo@demo.mite.local', password: 'demo-password-bo', balanceMicros: 5_000_000n },
  { email: 'cy@demo.mite.local', password: 'demo-password-cy', balanceMicros: 0n },
];

const demoShops = [
  {
    name: 'The Daily Mite',
    feeBasisPoints: 500,
    offers: [
      {
        resource: '/articles/micropayments-explained',
        title: 'Micropayments, explained',
        priceMicros: 20_000n,
        category: 'content',
        accessPeriodSeconds: 86_400,
      },
      {
        resource: '/articles/the-card-fee-problem',
        title: 'The card fee problem',
        priceMicros: 15_000n,
        category: 'content',
        accessPeriodSeconds: 86_400,
      },
    ],
  },
  {
    name: 'Pixel Armoury',
    feeBasisPoints: 1_000,
    offers: [
      {
        resource: 'item:iron-sword',
        title: 'Iron sword',
        priceMicros: 250_000n,
        category: 'goods',
        accessPeriodSeconds: 0,
      },
    ],
  },
] as const;

/**
 * Fills a fresh local platform with demo users (with funded wallets), merchants with API keys,
 * and offers, and writes their credentials to the data directory (owner-only) so that later
 * starts show the same ones. For a local sandbox only: the passwords are published.
 */
export async function seedDemo(platform: Platform): Promise<DemoCredentials> {
  const file = path.join(platform.dataDir, demoCredentialsFileName);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as DemoCredentials;
  const { users, merchants } = platform.services;
  const credentials: DemoCredentials = { users: [], merchants: [], offers: [] };
  for (const demo of demoUsers) {
    const signedUp = await users.signUp({ email: demo.email, password: demo.password });
    if (!signedUp.ok)
      throw new Error(`the demo user ${demo.email} could not be created: ${signedUp.code}`);
    if (demo.balanceMicros > 0n) await credit(platform, signedUp.value.userId, demo.balanceMicros);
    credentials.users.push({
      email: demo.email,
      password: demo.password,
      balance: formatAmount(demo.balanceMicros),
    });
  }
  for (const shop of demoShops) {
    const { merchantId } = await merchants.createMerchant({
      name: shop.name,
      feeBasisPoints: shop.feeBasisPoints,
      payoutThresholdMicros: 1_000_000n,
    });
    // Every scope, so that the whole merchant API can be tried with the demo's keys.
    const key = await merchants.issueApiKey(merchantId, apiKeyScopes);
    if (!key.ok) throw new Error('bug: a demo merchant vanished');
    credentials.merchants.push({ name: shop.name, merchantId, apiKey: key.value.secret });
    for (const offer of shop.offers) {
      const created = await merchants.createOffer({ merchantId, ...offer });
      if (!created.ok) throw new Error(`the demo offer ${offer.title} could not be created`);
      credentials.offers.push({
        offerId: created.value.id,
        title: offer.title,
        price: formatAmount(offer.priceMicros),
        merchant: shop.name,
      });
    }
  }
  fs.writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return credentials;
}

/** Demo money, topped up through the sandbox card processor like any user's (fee included). */
async function credit(platform: Platform, userId: string, micros: bigint): Promise<void> {
  const topUp = await platform.services.topUps.topUp({
    userId,
    amountMicros: micros,
    source: {
      kind: 'card',
      card: { number: sandboxCards.succeeds, expMonth: 12, expYear: 2099, cvc: '123' },
    },
    idempotencyKey: `demo-seed-${userId}`,
  });
  if (!topUp.ok || topUp.value.state !== 'succeeded') {
    throw new Error(`demo funding failed: ${topUp.ok ? topUp.value.state : topUp.code}`);
  }
}
