import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { createPlatform } from '../platform.ts';
import {
  type DemoCredentials,
  demoCredentialsFileName,
  demoRadioName,
  demoTipJar,
  seedDemo,
} from './seed-demo.ts';

describe('demo data', () => {
  it('seeds users who can log in and buy, merchants with working keys, and offers; once', async (t) => {
    const dataDir = tempDir('mite-demo-');
    const open = () =>
      createPlatform({
        dataDir,
        env: {},
        logger: pino({ level: 'silent' }),
        funding: { provider: 'sandbox' },
      });
    const platform = await open();
    const credentials = await seedDemo(platform);
    assert.equal(fs.statSync(path.join(dataDir, demoCredentialsFileName)).mode & 0o777, 0o600);
    const [ada] = credentials.users;
    assert.ok(ada);
    const session = await platform.services.users.logIn(ada);
    assert.ok(session.ok);
    const [offer] = credentials.offers;
    assert.ok(offer);
    const paid = await platform.services.payments.pay({
      userId: session.value.userId,
      offerId: offer.offerId,
    });
    assert.ok(paid.ok);
    const [shop] = credentials.merchants;
    assert.ok(shop);
    assert.equal(
      (await platform.services.merchants.authenticateApiKey(shop.apiKey))?.merchantId,
      shop.merchantId,
    );
    // Each demo merchant's owner logs in to its dashboard; the operator to the console.
    const owner = credentials.merchantPeople.find((person) => person.merchant === shop.name);
    assert.ok(owner);
    const dashboard = await platform.services.merchantPeople.logIn(owner);
    assert.ok(dashboard.ok);
    assert.equal(dashboard.value.membership.merchantId, shop.merchantId);
    assert.equal(dashboard.value.membership.role, 'owner');
    const [operator] = credentials.operators;
    assert.ok(operator);
    assert.ok((await platform.services.operatorPeople.logIn(operator)).ok);
    assert.deepEqual((await platform.ledger.verify()).problems, []);
    await platform.close();
    const again = await open();
    t.after(() => again.close());
    assert.deepEqual(await seedDemo(again), credentials);
    assert.equal(
      (await again.platformDb.db.selectFrom('users').select('id').execute()).length,
      credentials.users.length + credentials.merchantPeople.length + credentials.operators.length,
    );
  });

  it('adds to a data directory seeded by an older version what it lacks, the tip jar\u2019s split included', async (t) => {
    const dataDir = tempDir('mite-demo-');
    const platform = await createPlatform({
      dataDir,
      env: {},
      logger: pino({ level: 'silent' }),
      funding: { provider: 'sandbox' },
    });
    t.after(() => platform.close());
    const file = path.join(dataDir, demoCredentialsFileName);
    const first = await seedDemo(platform);
    // What an older version wrote: no tip jar (nor radio), and offers without their resource.
    const tipJar: string[] = [demoTipJar.seller, demoTipJar.coCreator, demoRadioName];
    // Nor the people who run the merchants and the platform.
    const older: Omit<DemoCredentials, 'merchantPeople' | 'operators'> = {
      users: first.users,
      merchants: first.merchants.filter((merchant) => !tipJar.includes(merchant.name)),
      offers: first.offers
        .filter((offer) => !tipJar.includes(offer.merchant))
        .map(({ resource: _resource, ...offer }) => offer),
    };
    assert.deepEqual(
      older.merchants.map((merchant) => merchant.name),
      ['The Daily Mite', 'Pixel Armoury'],
    );
    fs.writeFileSync(file, JSON.stringify(older));
    const upgraded = await seedDemo(platform);
    assert.deepEqual(
      upgraded.merchants.slice(0, older.merchants.length),
      older.merchants,
      'kept as they were',
    );
    assert.deepEqual(
      upgraded.offers.filter((offer) => offer.resource === undefined),
      [],
      'every offer names its resource',
    );
    const seller = upgraded.merchants.find((merchant) => merchant.name === demoTipJar.seller);
    const coCreator = upgraded.merchants.find((merchant) => merchant.name === demoTipJar.coCreator);
    const tip = upgraded.offers.find((offer) => offer.merchant === demoTipJar.seller);
    assert.ok(seller !== undefined && coCreator !== undefined && tip !== undefined);
    const offer = await platform.services.merchants.getOffer(tip.offerId);
    assert.deepEqual(offer?.splits, [
      { merchantId: seller.merchantId, shareBasisPoints: 6_000 },
      { merchantId: coCreator.merchantId, shareBasisPoints: 4_000 },
    ]);
    assert.deepEqual(
      upgraded.merchantPeople.map((person) => person.merchant).sort(),
      upgraded.merchants.map((merchant) => merchant.name).sort(),
      'every merchant has its owner',
    );
    assert.deepEqual(upgraded.operators, first.operators);
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), upgraded);
  });
});
