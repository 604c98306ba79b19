import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatApiReport, runApiBench } from './api-bench.ts';

test('the API benchmark runs tiny: positive rates, no non-2xx, balances and ledger agree', async () => {
  const report = await runApiBench({
    users: 4,
    offers: 2,
    connections: 4,
    warmupSeconds: 0,
    peerSeconds: 1,
    maxSeconds: 1,
    halfSeconds: 1,
    paceSlices: 2,
    coldStartRuns: 1,
  });

  assert.deepEqual(
    report.rows.map((row) => [row.kind, row.route]),
    [
      ['ceiling', 'GET /ceiling (bare fastify)'],
      ['ceiling', 'POST /floor/payments (minimal purchase)'],
      ['ceiling', 'POST /floor/payments, two processes'],
      ['peer', 'GET /v1/wallet'],
      ['max', 'POST /v1/payments'],
      ['half', 'POST /v1/payments'],
    ],
  );
  for (const row of report.rows) {
    assert.ok(row.requests > 0, `${row.kind} got answers`);
    assert.ok(Number.isFinite(row.rate) && row.rate > 0, `${row.kind} rate ${row.rate}`);
    assert.equal(row.non2xx, 0, `${row.kind} non-2xx: ${JSON.stringify(row.statusCodes)}`);
    assert.ok(row.p50Ms > 0 && row.p99Ms >= row.p50Ms, `${row.kind} latency`);
  }
  const [, , , , max, half] = report.rows;
  assert.ok(max?.peer !== undefined && max.peer.rate > 0 && max.peer.ratio > 0);
  assert.equal(half?.targetRate, Math.max(1, Math.round((max?.rate ?? 0) / 2)));
  assert.equal(half?.instances, 2);

  // Every purchase is accounted for: the wallets spent exactly purchases x price.
  const { balance } = report;
  assert.ok(balance.purchases > 0);
  assert.equal(balance.purchases, balance.answered + balance.resent);
  assert.deepEqual(balance.refused, {});
  assert.equal(balance.spentMicros, balance.expectedSpentMicros);
  assert.equal(balance.expectedSpentMicros, BigInt(balance.purchases) * balance.priceMicros);
  assert.deepEqual(report.verify.problems, []);
  assert.equal(report.verify.payments.succeeded, balance.purchases);
  for (const check of report.checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);

  // Budgets are reported, never asserted.
  assert.equal(report.budgets.length, 4);
  assert.equal(report.coldStart.freshMs.length, 1);
  assert.equal(report.coldStart.restartMs.length, 1);
  for (const ms of [...report.coldStart.freshMs, ...report.coldStart.restartMs]) {
    assert.ok(ms > 0 && ms < 30_000, `a start of ${ms} ms`);
  }
  for (const budget of report.budgets) assert.ok(['PASS', 'FAIL', 'SKIP'].includes(budget.status));

  const printed = formatApiReport(report);
  assert.match(printed, /GET \/v1\/wallet \(peer\)/);
  assert.match(printed, /GET \/ceiling \(bare fastify\) \(ceiling\)/);
  assert.match(printed, /POST \/floor\/payments \(minimal purchase\) \(ceiling\)/);
  assert.match(
    printed,
    /: [\d,]+\/s with \d+ connections, the floor [\d,]+\/s \([\d,]+\/s in two processes\)/,
  );
  assert.match(printed, /POST \/v1\/payments at half/);
  assert.match(printed, /purchases >= 0.60 of the purchase floor/);
  assert.match(printed, /cold start to ready <= 1\.5 s/);
});
