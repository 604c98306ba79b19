import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeOrderedIds } from '@mite/ledger';
import { createPlatform } from '@mite/server';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { runCliProcess } from './test-helpers.ts';

/** A platform in `dataDir` with one merchant holding 12.345678 USD, past its 10.00 threshold. */
async function merchantDueAPayout(dataDir: string): Promise<void> {
  const platform = await createPlatform({ dataDir, env: {}, logger: pino({ level: 'silent' }) });
  try {
    const { merchants, payouts } = platform.services;
    const { merchantId, accountId } = await merchants.createMerchant({
      name: 'News & Co',
      feeBasisPoints: 0,
      payoutThresholdMicros: 10_000_000n,
    });
    const bank = await payouts.setBankAccount(merchantId, {
      holderName: 'News & Co',
      iban: 'DE89370400440532013000',
      bic: 'COBADEFFXXX',
    });
    assert.ok(bank.ok, JSON.stringify(bank));
    const results = await platform.ledger.createTransfers([
      {
        id: new TimeOrderedIds().next(),
        debitAccountId: 2n,
        creditAccountId: accountId,
        amount: 12_345_678n,
        ledger: 1,
        code: 1,
      },
    ]);
    assert.deepEqual(results, ['ok']);
  } finally {
    await platform.close();
  }
}

describe('mite payouts run', () => {
  it('pays a merchant once, in whole cents, and then finds nothing due', async () => {
    const dataDir = tempDir('mite-payouts-');
    await merchantDueAPayout(dataDir);
    const first = await runCliProcess(['payouts', 'run', '--data-dir', dataDir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /1 of 1 payouts paid, 12\.34 USD in all/);
    assert.match(first.stderr, /1\/1 payouts/);
    const second = await runCliProcess(['payouts', 'run', '--data-dir', dataDir, '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(second.stdout).nothingDue, true);
  });
});
