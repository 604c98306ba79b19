import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { blind, finalize, verifyBlindRsa } from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import { platformFor, startPlatformUnderTest } from '../platform-testing.ts';
import {
  createTokenKeys,
  tokenKeysetAnnounceLeadMs,
  tokenKeysetIssuePeriodMs,
} from './token-keys.ts';

/** Two small denominations: each key costs a fraction of a second to make. */
const denominationsMicros = [1n, 2n];
const random = (length: number) => new Uint8Array(randomBytes(length));

forEachDialect('token keys', (dialect, it) => {
  it('publishes one key per denomination, the same to everyone, whose id is its hash; its signer signs blind', async (t) => {
    const clock = { nowMs: 5.5 * tokenKeysetIssuePeriodMs };
    const env = await startPlatformUnderTest(t, dialect, {
      backgroundJobs: false,
      clock: () => clock.nowMs,
      tokenDenominationsMicros: denominationsMicros,
    });
    const first = await env.call('GET', '/v1/token-keys');
    assert.equal(first.status, 200, first.text);
    const keys = first.body?.keys as {
      keyId: string;
      keyset: string;
      denomination: string;
      spki: string;
      issueFrom: string;
      issueUntil: string;
    }[];
    assert.deepEqual(
      keys.map((key) => [key.keyset, key.denomination]),
      [
        ['ks-5', '0.000001'],
        ['ks-5', '0.000002'],
      ],
    );
    for (const key of keys) {
      const hash = createHash('sha256').update(Buffer.from(key.spki, 'base64url'));
      assert.equal(key.keyId, hash.digest('base64url'));
    }
    assert.deepEqual((await env.call('GET', '/v1/token-keys')).body, first.body);
    // The private keys are sealed at rest.
    const rows = await env.platform.platformDb.db.selectFrom('token_keys').selectAll().execute();
    assert.ok(
      rows.every((row) => row.private_key_sealed.startsWith('v1.')),
      rows[0]?.private_key_sealed,
    );

    // A token blinded against a published key, signed by its signer, verifies offline.
    const [one] = await env.platform.services.tokenKeys.publishedKeys();
    assert.ok(one);
    const token = random(32);
    const blinded = blind(one.publicKey, token, random);
    assert.ok(blinded.ok);
    const signer = await env.platform.services.tokenKeys.signerFor(one.keyId);
    assert.ok(signer);
    const signed = signer.blindSign(blinded.value.blindedMessage);
    assert.ok(signed.ok);
    const signature = finalize(one.publicKey, token, signed.value, blinded.value.inverse);
    assert.ok(signature.ok);
    assert.equal(verifyBlindRsa(one.publicKey, token, signature.value), true);

    // A week before the next period, its keyset is published too; once redeemed, old ones go.
    clock.nowMs = 6 * tokenKeysetIssuePeriodMs - tokenKeysetAnnounceLeadMs;
    const announced = await env.call('GET', '/v1/token-keys');
    assert.deepEqual(
      [...new Set((announced.body?.keys as { keyset: string }[]).map((key) => key.keyset))],
      ['ks-5', 'ks-6'],
    );
    clock.nowMs = 200 * tokenKeysetIssuePeriodMs;
    const later = await env.call('GET', '/v1/token-keys');
    assert.deepEqual(
      [...new Set((later.body?.keys as { keyset: string }[]).map((key) => key.keyset))],
      ['ks-200'],
    );
  });

  it('nodes making a keyset at once end with one keyset, which all of them publish', async (t) => {
    const platform = await platformFor(t, dialect, {
      backgroundJobs: false,
      tokenDenominationsMicros: denominationsMicros,
    });
    const nodes = [1, 2, 3].map(() =>
      createTokenKeys({
        platform: platform.platformDb,
        cipher: platform.services.cipher,
        clock: Date.now,
        denominationsMicros,
      }),
    );
    const published = await Promise.all(nodes.map((node) => node.publishedKeys()));
    const ids = published.map((keys) => keys.map((key) => key.keyId).join(','));
    assert.equal(new Set(ids).size, 1, 'every node publishes the same keys');
    assert.equal(published[0]?.length, denominationsMicros.length);
  });
});
