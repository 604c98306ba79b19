import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPlatform } from '@mite/server';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { runCliProcess } from './test-helpers.ts';

/** A platform in `dataDir` with its first admin key and a merchant with one API key. */
async function platformWithKeys(dataDir: string) {
  const platform = await createPlatform({ dataDir, env: {}, logger: pino({ level: 'silent' }) });
  try {
    const admin = await platform.bootstrapAdminKey();
    assert.ok(admin);
    const { merchantId } = await platform.services.merchants.createMerchant({
      name: 'News & Co',
      feeBasisPoints: 0,
      payoutThresholdMicros: 0n,
    });
    const key = await platform.services.merchants.issueApiKey(merchantId, ['offers:write']);
    assert.ok(key.ok);
    return { admin, merchantId, apiKey: key.value };
  } finally {
    await platform.close();
  }
}

describe('mite admin', () => {
  it('lists, rotates and revokes admin and API keys on the stores, never listing a secret', async () => {
    const dataDir = tempDir('mite-admin-');
    const { admin, merchantId, apiKey } = await platformWithKeys(dataDir);
    const store = ['--data-dir', dataDir];

    const listed = await runCliProcess(['admin', 'keys', 'list', ...store]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${admin.keyId}  "first admin key" .* active$`, 'm'));
    assert.ok(!listed.stdout.includes(admin.secret));
    const last = await runCliProcess(['admin', 'keys', 'revoke', admin.keyId, ...store]);
    assert.equal(last.code, 1);
    assert.match(last.stderr, /lastAdminKey/);

    const apiKeys = await runCliProcess(['admin', 'api-keys', 'list', merchantId, ...store]);
    assert.equal(apiKeys.code, 0, apiKeys.stderr);
    assert.match(
      apiKeys.stdout,
      new RegExp(`^${apiKey.keyId}  offers:write .* last used never`, 'm'),
    );
    const rotated = await runCliProcess([
      'admin',
      'api-keys',
      'rotate',
      merchantId,
      apiKey.keyId,
      ...store,
    ]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const secret = /^(mite_k_\S+)$/m.exec(rotated.stdout)?.[1];
    assert.ok(secret, rotated.stdout);
    const json = await runCliProcess(['admin', 'api-keys', 'list', merchantId, '--json', ...store]);
    const keys = JSON.parse(json.stdout) as { keyId: string; revokedAtMs: number | null }[];
    assert.deepEqual(
      keys.map((key) => [key.keyId === apiKey.keyId, key.revokedAtMs === null]),
      [
        [true, false],
        [false, true],
      ],
    );
    assert.ok(!json.stdout.includes(secret), 'no secret is listed');

    const rotatedAdmin = await runCliProcess(['admin', 'keys', 'rotate', admin.keyId, ...store]);
    assert.equal(rotatedAdmin.code, 0, rotatedAdmin.stderr);
    assert.match(rotatedAdmin.stdout, /^mite_a_\S+$/m);
    const unknown = await runCliProcess(['admin', 'keys', 'revoke', 'nope', ...store]);
    assert.equal(unknown.code, 1);
  });
});
