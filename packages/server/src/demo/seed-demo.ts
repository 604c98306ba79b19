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
  /** The person who owns each demo merchant, for its dashboard. */
  readonly merchantPeople: { merchant: string; email: string; password: string }[];
  /** The people who log in to the operator console. */
  readonly operators: { email: string; password: string }[];
}

/** The demo's operator, who logs in to the console; the password is published like the users'. */
export const demoOperator = {
  email: 'operator@demo.mite.local',
  password: 'demo-password-operator',
};

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
  if (fs.existsSync(file)) {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<DemoCredentials>;
    // A demo made before the dashboard and the console had people gets them now.
    if (kept.operators !== undefined && kept.merchantPeople !== undefined) {
      return kept as DemoCredentials;
    }
    const upgraded = { ...(kept as DemoCredentials), ...(await seedDemoStaff(platform, kept)) };
    fs.writeFileSync(file, `${JSON.stringify(upgraded, null, 2)}\n`, { mode: 0o600 });
    return upgraded;
  }
  const { users, merchants } = platform.services;
  const credentials: DemoCredentials = {
    users: [],
    merchants: [],
    offers: [],
    merchantPeople: [],
    operators: [],
  };
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
  const staff = await seedDemoStaff(platform, credentials);
  const seeded = { ...credentials, ...staff };
  fs.writeFileSync(file, `${JSON.stringify(seeded, null, 2)}\n`, { mode: 0o600 });
  return seeded;
}

/**
 * The people who run the demo: an owner for each demo merchant (a person of their own, e.g.
 * `the-daily-mite@demo.mite.local`, password `demo-password-merchant`) and the operator.
 */
async function seedDemoStaff(
  platform: Platform,
  credentials: Partial<DemoCredentials>,
): Promise<Pick<DemoCredentials, 'merchantPeople' | 'operators'>> {
  const { merchantPeople, operatorPeople, users } = platform.services;
  const people: DemoCredentials['merchantPeople'] = [];
  for (const merchant of credentials.merchants ?? []) {
    const slug = merchant.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    const person = { email: `${slug}@demo.mite.local`, password: 'demo-password-merchant' };
    const signedUp = await users.signUp(person);
    if (!signedUp.ok) throw new Error(`the demo person ${person.email} could not be made`);
    await merchantPeople.addMember(merchant.merchantId, signedUp.value.userId, 'owner');
    people.push({ merchant: merchant.name, ...person });
  }
  const operator = await operatorPeople.bootstrap(demoOperator);
  return { merchantPeople: people, operators: operator === undefined ? [] : [operator] };
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
