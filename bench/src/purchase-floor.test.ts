import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tempDir } from '@mite/testkit';
import { purchaseFloorPath, startPurchaseFloor } from './purchase-floor.ts';

async function buy(url: string, token: string, key: string) {
  const response = await fetch(`${url}${purchaseFloorPath}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': key,
    },
    body: JSON.stringify({ offerId: 'off_1' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test('the purchase floor pays once per key, signs receipts and never overdraws a wallet', async () => {
  const dataDir = tempDir('mite-purchase-floor-');
  // Two purchases' worth: 0.01 each.
  const floor = await startPurchaseFloor({
    dataDir,
    userTokens: ['token-a', 'token-b'],
    fundingMicros: 20_000n,
  });
  try {
    const first = await buy(floor.url, 'token-a', 'k1');
    assert.equal(first.status, 201);
    assert.match(String(first.body.receipt), /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const replayed = await buy(floor.url, 'token-a', 'k1');
    assert.equal(replayed.status, 200);
    assert.deepEqual(replayed.body, first.body);

    // Concurrent purchases from one wallet share transactions; only one more fits.
    const racing = await Promise.all(
      ['k2', 'k3', 'k4', 'k5'].map((key) => buy(floor.url, 'token-a', key)),
    );
    assert.deepEqual(racing.map((r) => r.status).sort(), [201, 402, 402, 402]);
    assert.equal((await buy(floor.url, 'nobody', 'k6')).status, 401);
    assert.equal((await buy(floor.url, 'token-b', 'k7')).status, 201);
  } finally {
    await floor.close();
  }

  const db = new Database(join(dataDir, 'purchase-floor.sqlite'), { readonly: true });
  try {
    const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
    assert.equal(count('select count(*) as n from payments'), 3);
    assert.equal(count('select count(*) as n from transfers'), 6);
    // Money is only moved: what the wallets lost, the merchant and the fee account gained.
    assert.equal(count('select sum(credits) - sum(debits) as n from accounts'), 40_000);
    assert.equal(count('select min(credits - debits) as n from accounts'), 0);
  } finally {
    db.close();
  }
});
