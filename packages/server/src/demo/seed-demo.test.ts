import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { createPlatform } from '../platform.ts';
import { demoCredentialsFileName, seedDemo } from './seed-demo.ts';

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
});
