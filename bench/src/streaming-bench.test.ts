import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSection, runStreamingBench } from './streaming-bench.ts';

test('the streaming benchmark runs tiny: every row, its ceilings, and every voucher accepted', async () => {
  const [vouchers, sessions, ...others] = await runStreamingBench(
    { seconds: 0.05, chainLength: 300, credentials: 50 },
    () => {},
  );
  assert.deepEqual(others, []);
  // Sessions through the API: each cycle settled, and the ledger verifies.
  assert.ok(sessions !== undefined);
  assert.deepEqual(
    sessions.checks.map((check) => [check.name, check.ok]),
    [
      ['every session cycle settled', true],
      ['the ledger verifies', true],
    ],
  );
  for (const row of sessions.rows) assert.ok(row.operations > 0, `${row.name} ran`);
  assert.ok(vouchers !== undefined);
  assert.equal(vouchers.rows.length, 7);
  for (const row of vouchers.rows) assert.ok(row.operations > 0, `${row.name} ran`);
  assert.deepEqual(
    vouchers.checks.map((check) => [check.name, check.ok]),
    [
      ['every PayWord voucher accepted', true],
      ['a forged PayWord word refused', true],
      ['every Ed25519 voucher accepted', true],
    ],
  );
  const text = formatSection(vouchers);
  assert.match(
    text,
    /PayWord vouchers verified \(acceptVoucher, in-memory store\) +[\d,]+ +\d+\.\d\d/,
  );
  assert.match(
    text,
    /Ed25519 vouchers verified \(acceptVoucher, in-memory store\) +[\d,]+ +\d\.\d\d/,
  );
  assert.match(
    text,
    /(PASS|FAIL) {2}PayWord vouchers >= 200,000\/s \(in memory, one core\): [\d,]+\/s/,
  );
  assert.match(
    text,
    /(PASS|FAIL) {2}Ed25519 vouchers >= 0\.8 x bare Ed25519 verify: [\d,]+\/s against/,
  );
});
