import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import { loadReceiptKey, receiptJwks, receiptKeyFileName, receiptKeyFrom } from './receipt-keys.ts';
import { type ReceiptClaims, signReceipt, verifyReceipt } from './receipts.ts';

const claims: ReceiptClaims = {
  paymentId: 'pay_1',
  merchantId: 'mer_1',
  resource: 'https://news.example/articles/42',
  amount: '0.02',
  currency: 'USD',
  payer: 'psn_abc',
  issuedAt: 1_800_000_000,
  accessUntil: 1_800_086_400,
};

describe('receipts', () => {
  it('signs receipts that verify offline against the published JWKS', async () => {
    const key = await loadReceiptKey(tempDir('mite-receipts-'));
    const jwks = receiptJwks([key]);
    assert.equal(jwks.keys[0]?.kid, key.kid);
    assert.equal(jwks.keys[0]?.d, undefined, 'the JWKS carries no private part');
    const receipt = signReceipt(claims, key);
    assert.deepEqual(await verifyReceipt(receipt, jwks), { ok: true, value: claims });
  });

  it('refuses tampered, foreign and malformed receipts', async () => {
    const key = await loadReceiptKey(tempDir('mite-receipts-'));
    const jwks = receiptJwks([key]);
    const receipt = signReceipt(claims, key);
    const [header, , signature] = receipt.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, amount: '0.00' })).toString('base64url');
    assert.deepEqual(await verifyReceipt(`${header}.${forged}.${signature}`, jwks), {
      ok: false,
      code: 'badSignature',
    });
    const other = await receiptKeyFrom(generateKeyPairSync('ed25519').privateKey);
    assert.deepEqual(await verifyReceipt(signReceipt(claims, other), jwks), {
      ok: false,
      code: 'unknownKey',
    });
    assert.deepEqual(await verifyReceipt('not a receipt', jwks), {
      ok: false,
      code: 'malformed',
    });
  });

  it('keeps one key across restarts, in an owner-only file', async () => {
    const dataDir = tempDir('mite-receipts-');
    const first = await loadReceiptKey(dataDir);
    const again = await loadReceiptKey(dataDir);
    assert.equal(again.kid, first.kid);
    assert.equal(fs.statSync(path.join(dataDir, receiptKeyFileName)).mode & 0o777, 0o600);
  });

  it('takes the key from MITE_RECEIPT_SIGNING_KEY, so that nodes on separate machines agree', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const env = { MITE_RECEIPT_SIGNING_KEY: pem };
    const first = await loadReceiptKey(tempDir('mite-receipts-'), env);
    const second = await loadReceiptKey(tempDir('mite-receipts-'), env);
    assert.equal(second.kid, first.kid);
    const elsewhere = tempDir('mite-receipts-');
    await loadReceiptKey(elsewhere, env);
    assert.equal(fs.existsSync(path.join(elsewhere, receiptKeyFileName)), false);
    await assert.rejects(
      loadReceiptKey(tempDir('mite-receipts-'), {
        MITE_RECEIPT_SIGNING_KEY: 'secret-looking junk',
      }),
      (error: Error) =>
        /not a PEM private key/.test(error.message) && !error.message.includes('junk'),
    );
  });
});
