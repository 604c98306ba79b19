import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTokensReport, runTokensBench } from './tokens-bench.ts';

test('the tokens benchmark runs tiny: every row, positive rates, and the issued tokens verify', async () => {
  const report = await runTokensBench(
    {
      seconds: 0.2,
      tokensPerWithdrawal: 4,
      inFlight: 2,
      depositTokens: 64,
      tokensPerDeposit: 8,
      depositsInFlight: 2,
    },
    () => {},
  );
  assert.equal(report.rows.length, 6);
  for (const row of report.rows) assert.ok(row.operations > 0, `${row.name} ran`);
  assert.deepEqual(
    report.checks.map((check) => [check.name, check.ok]),
    [
      ['issued tokens verify', true],
      ['every token deposited once, the merchant credited for each', true],
      ['the wallet paid for every token', true],
    ],
  );
  const text = formatTokensReport(report);
  assert.match(text, /tokens issued \(withdrawals of 4, 2 in flight, SQLite\) +[\d,]+ +\d\.\d\d/);
  assert.match(text, /tokens deposited \(deposits of 8, 2 in flight, SQLite\) +[\d,]+ +\d\.\d\d/);
  assert.match(text, /(PASS|FAIL) {2}tokens deposited >= 10,000\/s: [\d,]+\/s/);
});
