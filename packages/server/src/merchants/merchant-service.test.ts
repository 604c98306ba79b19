import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { PlatformDialect } from '../db/platform-db.ts';
import { forEachDialect } from '../db/testing.ts';
import { keyLastUsedResolutionMs } from '../auth/key-usage.ts';
import { platformFor } from '../platform-testing.ts';

/**
 * A platform as `mite serve` builds it (on PostgreSQL, the ledger shares its database), on a clock
 * the test moves, with no background jobs.
 */
async function world(t: TestContext, dialect: PlatformDialect, startMs: number) {
  const clock = { nowMs: startMs };
  const {
    platformDb: platform,
    ledger,
    services,
  } = await platformFor(t, dialect, {
    clock: () => clock.nowMs,
    backgroundJobs: false,
  });
  return { platform, ledger, clock, merchants: services.merchants };
}

forEachDialect('merchants, keys and offers', (dialect, it) => {
  it('issues API keys shown once, stored hashed, scoped and revocable', async (t) => {
    const { platform, ledger, merchants } = await world(t, dialect, 1_000);
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
    const revoked = await merchants.revokeApiKey(merchantId, key.value.keyId);
    assert.ok(revoked.ok);
    assert.equal(revoked.value.revokedAtMs, 1_000);
    assert.equal(await merchants.authenticateApiKey(key.value.secret), undefined);
    assert.deepEqual(await merchants.issueApiKey('mer_nope', []), {
      ok: false,
      code: 'merchantNotFound',
    });
  });

  it('records when a key was last used, writing at most once a minute per key', async (t) => {
    const { merchants, clock } = await world(t, dialect, 1_000_000);
    const { merchantId } = await merchants.createMerchant({
      name: 'News',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const key = await merchants.issueApiKey(merchantId, ['offers:write']);
    assert.ok(key.ok);
    const lastUsed = async () => {
      const listed = await merchants.listApiKeys(merchantId);
      assert.ok(listed.ok);
      return listed.value[0]?.lastUsedAtMs;
    };
    assert.equal(await lastUsed(), null);
    assert.ok(await merchants.authenticateApiKey(key.value.secret));
    assert.equal(await lastUsed(), 1_000_000);
    clock.nowMs += keyLastUsedResolutionMs - 1;
    assert.ok(await merchants.authenticateApiKey(key.value.secret));
    assert.equal(await lastUsed(), 1_000_000, 'not written again within the minute');
    clock.nowMs += 1;
    assert.ok(await merchants.authenticateApiKey(key.value.secret));
    assert.equal(await lastUsed(), 1_000_000 + keyLastUsedResolutionMs);
  });

  it('rotates a key once: same scopes, new secret, old one revoked; never to a weaker key', async (t) => {
    const { merchants } = await world(t, dialect, 5_000);
    const { merchantId } = await merchants.createMerchant({
      name: 'News',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const strong = await merchants.issueApiKey(merchantId, [
      'api_keys:write',
      'bank_account:write',
    ]);
    const weak = await merchants.issueApiKey(merchantId, ['api_keys:write']);
    assert.ok(strong.ok && weak.ok);
    const weakActor = { kind: 'merchant', scopes: ['api_keys:write'] } as const;
    const rotatedByWeak = await merchants.rotateApiKey(merchantId, strong.value.keyId, weakActor);
    assert.equal(rotatedByWeak.ok ? 'rotated' : rotatedByWeak.code, 'forbidden');
    const revokedByWeak = await merchants.revokeApiKey(merchantId, strong.value.keyId, weakActor);
    assert.equal(revokedByWeak.ok ? 'revoked' : revokedByWeak.code, 'forbidden');
    assert.ok(await merchants.authenticateApiKey(strong.value.secret), 'left untouched');
    const other = await merchants.createMerchant({
      name: 'Other',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const foreign = await merchants.rotateApiKey(other.merchantId, strong.value.keyId);
    assert.equal(foreign.ok ? 'rotated' : foreign.code, 'notFound');

    const rotations = await Promise.all(
      [1, 2, 3].map(() => merchants.rotateApiKey(merchantId, strong.value.keyId)),
    );
    const done = rotations.filter((rotation) => rotation.ok);
    assert.equal(done.length, 1, JSON.stringify(rotations));
    const [rotated] = done;
    assert.ok(rotated?.ok);
    assert.deepEqual(rotated.value.scopes, ['api_keys:write', 'bank_account:write']);
    assert.equal(await merchants.authenticateApiKey(strong.value.secret), undefined);
    const authenticated = await merchants.authenticateApiKey(rotated.value.secret);
    assert.deepEqual(authenticated?.scopes, ['api_keys:write', 'bank_account:write']);
    const listed = await merchants.listApiKeys(merchantId);
    assert.ok(listed.ok);
    assert.deepEqual(
      listed.value.map((key) => [key.keyId, key.revokedAtMs]).sort(),
      [
        [strong.value.keyId, 5_000],
        [weak.value.keyId, null],
        [rotated.value.keyId, null],
      ].sort(),
    );
  });

  it('creates offers with splits that add up, and refuses ones that do not', async (t) => {
    const { merchants } = await world(t, dialect, 1_000);
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
