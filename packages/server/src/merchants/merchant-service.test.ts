import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openLedger } from '@mite/ledger';
import { freshPlatformDb, platformDialects } from '../db/testing.ts';
import { createMerchantService } from './merchant-service.ts';

for (const dialect of platformDialects) {
  describe(`merchants, keys and offers (${dialect})`, () => {
    it('issues API keys shown once, stored hashed, scoped and revocable', async (t) => {
      const platform = await freshPlatformDb(t, dialect);
      if (platform === undefined) return;
      const ledger = await openLedger({ url: 'sqlite::memory:' });
      t.after(() => ledger.close());
      const merchants = createMerchantService({ platform, ledger, clock: () => 1_000 });
      const { merchantId, accountId } = await merchants.createMerchant({
        name: 'News',
        feeBasisPoints: 500,
        payoutThresholdMicros: 10_000_000n,
      });
      const [account] = await ledger.lookupAccounts([accountId]);
      assert.equal(account?.flags.debitsMustNotExceedCredits, true);
      const key = await merchants.issueApiKey(merchantId, ['offers:write', 'payments:read']);
      assert.ok(key.ok);
      const stored = await platform.db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
      assert.notEqual(stored.secret_hash, key.value.secret);
      assert.doesNotMatch(
        JSON.stringify({ ...stored, created_at: 0 }),
        new RegExp(key.value.secret.slice(-20)),
      );
      assert.deepEqual(await merchants.authenticateApiKey(key.value.secret), {
        merchantId,
        keyId: key.value.keyId,
        scopes: ['offers:write', 'payments:read'],
      });
      assert.equal(
        await merchants.authenticateApiKey(
          `${key.value.secret.slice(0, -1)}${key.value.secret.endsWith('A') ? 'B' : 'A'}`,
        ),
        undefined,
      );
      assert.equal(await merchants.revokeApiKey(merchantId, key.value.keyId), true);
      assert.equal(await merchants.authenticateApiKey(key.value.secret), undefined);
      assert.deepEqual(await merchants.issueApiKey('mer_nope', []), {
        ok: false,
        code: 'merchantNotFound',
      });
    });

    it('creates offers with splits that add up, and refuses ones that do not', async (t) => {
      const platform = await freshPlatformDb(t, dialect);
      if (platform === undefined) return;
      const ledger = await openLedger({ url: 'sqlite::memory:' });
      t.after(() => ledger.close());
      const merchants = createMerchantService({ platform, ledger, clock: () => 1_000 });
      const a = await merchants.createMerchant({
        name: 'A',
        feeBasisPoints: 0,
        payoutThresholdMicros: 0n,
      });
      const b = await merchants.createMerchant({
        name: 'B',
        feeBasisPoints: 0,
        payoutThresholdMicros: 0n,
      });
      const base = {
        merchantId: a.merchantId,
        resource: '/song/1',
        title: 'A song',
        priceMicros: 1_000n,
        category: 'content' as const,
        accessPeriodSeconds: 60,
      };
      const created = await merchants.createOffer({
        ...base,
        splits: [
          { merchantId: a.merchantId, shareBasisPoints: 6_000 },
          { merchantId: b.merchantId, shareBasisPoints: 4_000 },
        ],
      });
      assert.ok(created.ok);
      assert.deepEqual(await merchants.getOffer(created.value.id), created.value);
      const bad = await merchants.createOffer({
        ...base,
        splits: [{ merchantId: a.merchantId, shareBasisPoints: 9_000 }],
      });
      assert.equal(bad.ok ? 'ok' : bad.code, 'validationFailed');
      const unknown = await merchants.createOffer({
        ...base,
        splits: [{ merchantId: 'mer_nope', shareBasisPoints: 10_000 }],
      });
      assert.deepEqual(unknown, { ok: false, code: 'merchantNotFound' });
      assert.equal(await merchants.getOffer('off_nope'), undefined);
    });
  });
}
