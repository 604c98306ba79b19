import fs from 'node:fs';
import path from 'node:path';
import { formatAmount } from '@mite/protocol';
import { apiKeyScopes } from '../auth/scopes.ts';
import { sandboxCards } from '../funding/sandbox-provider.ts';
import { basisPointsWhole } from '../payments/revenue-split.ts';
import type { Platform } from '../platform.ts';

export const demoCredentialsFileName = 'demo-credentials.json';

export interface DemoCredentials {
  readonly users: { email: string; password: string; balance: string }[];
  readonly merchants: { name: string; merchantId: string; apiKey: string }[];
  readonly offers: DemoOffer[];
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

/** Every demo merchant's owner has this password (published, as the users' are). */
export const demoMerchantPassword = 'demo-password-merchant';

export interface DemoOffer {
  readonly offerId: string;
  readonly title: string;
  readonly price: string;
  /** The merchant's name. */
  readonly merchant: string;
  /** What the offer sells ("item:iron-sword", "gems:100", "tip:the-night-ferry:0.50"). */
  readonly resource?: string;
}

/** The game shop's merchant: its items (`item:SLUG`) and gem packs (`gems:COUNT`) are goods. */
export const demoGameShopName = 'Pixel Armoury';
/** The demo's metered site: songs by the second, an API by the call (payment sessions). */
export const demoRadioName = 'Mite Radio';
/** The tip jar: tips for a piece of work by two creators, shared by the offers' revenue split. */
export const demoTipJar = {
  seller: 'Mira Okafor',
  coCreator: 'Jonas Lind',
  /** The co-creator's part of each tip after the platform's fee, in basis points. */
  coCreatorShareBasisPoints: 4_000,
  work: 'the-night-ferry',
} as const;

const demoUsers = [
  { email: 'ada@demo.mite.local', password: 'demo-password-ada', balanceMicros: 10_000_000n },
  { email: 'bo@demo.mite.local', password: 'demo-password-bo', balanceMicros: 5_000_000n },
  { email: 'cy@demo.mite.local', password: 'demo-password-cy', balanceMicros: 0n },
];

interface DemoShop {
  readonly name: string;
  readonly feeBasisPoints: number;
  readonly offers: readonly {
    readonly resource: string;
    readonly title: string;
    readonly priceMicros: bigint;
    readonly category: 'content' | 'goods';
    readonly accessPeriodSeconds: number;
    /** Other merchants' shares (by name) of what is left after the fee; the seller keeps the rest. */
    readonly sharedWith?: readonly {
      readonly merchant: string;
      readonly shareBasisPoints: number;
    }[];
  }[];
}

/** A consumable: each purchase is a purchase of its own, so no access period to hold. */
function goods(resource: string, title: string, priceMicros: bigint) {
  return { resource, title, priceMicros, category: 'goods', accessPeriodSeconds: 0 } as const;
}

function tip(priceMicros: bigint) {
  const amount = formatAmount(priceMicros);
  return {
    ...goods(
      `tip:${demoTipJar.work}:${amount}`,
      `A ${amount} tip for The Night Ferry`,
      priceMicros,
    ),
    sharedWith: [
      { merchant: demoTipJar.coCreator, shareBasisPoints: demoTipJar.coCreatorShareBasisPoints },
    ],
  };
}

/** In the order they are made: a merchant named in a split comes before the offer. */
const demoShops: readonly DemoShop[] = [
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
    name: demoGameShopName,
    feeBasisPoints: 1_000,
    offers: [
      goods('item:iron-sword', 'Iron sword', 250_000n),
      goods('item:ember-cloak-skin', 'Ember cloak skin', 400_000n),
      goods('gems:100', '100 gems', 100_000n),
      goods('gems:550', '550 gems', 500_000n),
    ],
  },
  { name: demoTipJar.coCreator, feeBasisPoints: 500, offers: [] },
  {
    name: demoTipJar.seller,
    feeBasisPoints: 500,
    offers: [tip(250_000n), tip(500_000n), tip(1_000_000n)],
  },
  // Sells by the second and by the call through payment sessions, not offers.
  { name: demoRadioName, feeBasisPoints: 500, offers: [] },
];

/**
 * Fills a local platform with demo users (with funded wallets), merchants with API keys, and
 * offers, and writes their credentials to the data directory (owner-only) so that later starts
 * show the same ones. A data directory seeded by an older version gets what it lacks (a merchant
 * or offer by name, a user by email) on its next start. For a local sandbox only: the passwords
 * are published.
 */
export async function seedDemo(platform: Platform): Promise<DemoCredentials> {
  const file = path.join(platform.dataDir, demoCredentialsFileName);
  const kept: Partial<DemoCredentials> = fs.existsSync(file)
    ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<DemoCredentials>)
    : {};
  const credentials: DemoCredentials = {
    users: [...(kept.users ?? [])],
    merchants: [...(kept.merchants ?? [])],
    offers: [...(kept.offers ?? [])],
    merchantPeople: [...(kept.merchantPeople ?? [])],
    operators: [...(kept.operators ?? [])],
  };
  for (const demo of demoUsers) {
    if (!credentials.users.some((user) => user.email === demo.email)) {
      credentials.users.push(await seedUser(platform, demo));
    }
  }
  for (const shop of demoShops) await seedShop(platform, shop, credentials);
  await seedStaff(platform, credentials);
  if (JSON.stringify(credentials) !== JSON.stringify(kept)) {
    fs.writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  }
  return credentials;
}

/**
 * The people who run the demo, those the credentials lack made now: an owner for each demo
 * merchant (a person of their own, e.g. `the-daily-mite@demo.mite.local`) and the operator.
 */
async function seedStaff(platform: Platform, credentials: DemoCredentials): Promise<void> {
  const { merchantPeople, operatorPeople, users } = platform.services;
  for (const merchant of credentials.merchants) {
    if (credentials.merchantPeople.some((person) => person.merchant === merchant.name)) continue;
    const slug = merchant.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
    const person = { email: `${slug}@demo.mite.local`, password: demoMerchantPassword };
    const signedUp = await users.signUp(person);
    // Made by an older seed whose credentials did not list people: the same person.
    const userId = signedUp.ok ? signedUp.value.userId : await users.userIdByEmail(person.email);
    if (userId === undefined) throw new Error(`the demo person ${person.email} could not be made`);
    await merchantPeople.addMember(merchant.merchantId, userId, 'owner');
    credentials.merchantPeople.push({ merchant: merchant.name, ...person });
  }
  if (credentials.operators.length === 0) {
    // Made now, or by an older seed whose credentials did not list it (its password is the demo's).
    await operatorPeople.bootstrap(demoOperator);
    if ((await operatorPeople.logIn(demoOperator)).ok) credentials.operators.push(demoOperator);
  }
}

async function seedUser(
  platform: Platform,
  demo: (typeof demoUsers)[number],
): Promise<DemoCredentials['users'][number]> {
  const signedUp = await platform.services.users.signUp({
    email: demo.email,
    password: demo.password,
  });
  if (!signedUp.ok)
    throw new Error(`the demo user ${demo.email} could not be created: ${signedUp.code}`);
  if (demo.balanceMicros > 0n) await credit(platform, signedUp.value.userId, demo.balanceMicros);
  return { email: demo.email, password: demo.password, balance: formatAmount(demo.balanceMicros) };
}

/** The shop's merchant and offers, those the credentials lack made now. */
async function seedShop(
  platform: Platform,
  shop: DemoShop,
  credentials: DemoCredentials,
): Promise<void> {
  const { merchants } = platform.services;
  const merchantIdOf = (name: string) =>
    credentials.merchants.find((merchant) => merchant.name === name)?.merchantId;
  let merchantId = merchantIdOf(shop.name);
  if (merchantId === undefined) {
    ({ merchantId } = await merchants.createMerchant({
      name: shop.name,
      feeBasisPoints: shop.feeBasisPoints,
      payoutThresholdMicros: 1_000_000n,
    }));
    // Every scope, so that the whole merchant API can be tried with the demo's keys.
    const key = await merchants.issueApiKey(merchantId, apiKeyScopes);
    if (!key.ok) throw new Error('bug: a demo merchant vanished');
    credentials.merchants.push({ name: shop.name, merchantId, apiKey: key.value.secret });
  }
  for (const { sharedWith = [], ...offer } of shop.offers) {
    const made = credentials.offers.findIndex(
      (kept) => kept.merchant === shop.name && kept.title === offer.title,
    );
    const kept = credentials.offers[made];
    if (kept !== undefined) {
      // Credentials written before they named resources: the seed's own, which made the offer.
      credentials.offers[made] = { ...kept, resource: offer.resource };
      continue;
    }
    const shares = sharedWith.map((share) => {
      const partner = merchantIdOf(share.merchant);
      if (partner === undefined) throw new Error(`bug: ${share.merchant} is seeded later`);
      return { merchantId: partner, shareBasisPoints: share.shareBasisPoints };
    });
    const own = basisPointsWhole - shares.reduce((sum, share) => sum + share.shareBasisPoints, 0);
    const created = await merchants.createOffer({
      merchantId,
      ...offer,
      ...(shares.length === 0
        ? {}
        : { splits: [{ merchantId, shareBasisPoints: own }, ...shares] }),
    });
    if (!created.ok) throw new Error(`the demo offer ${offer.title} could not be created`);
    credentials.offers.push({
      offerId: created.value.id,
      title: offer.title,
      price: formatAmount(offer.priceMicros),
      merchant: shop.name,
      resource: offer.resource,
    });
  }
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
