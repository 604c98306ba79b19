import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatRiskReport, riskBenchQuick, runRiskBench } from './risk-bench.ts';

test('the risk benchmark runs a tiny population: every fraudster caught, no honest user stopped', async () => {
  const report = await runRiskBench(riskBenchQuick, () => {});
  assert.deepEqual(report.population, {
    reader: 12,
    gamer: 6,
    minor: 3,
    cardTester: 2,
    broker: 1,
    mule: 4,
    selfDealer: 2,
  });
  assert.equal(report.fraudActors, 9);
  assert.equal(report.fraudCaught, 9);
  assert.equal(report.honestUsers, 21);
  assert.equal(report.honestStopped, 0);
  // The broker is stopped as one (a purchase and a top-up), the mules as buyers of codes others
  // redeemed besides the velocity on the broker's phone.
  assert.equal(report.stopsByRule['cash-out.code-broker'], 2);
  assert.ok((report.stopsByRule['cash-out.codes-redeemed-by-others'] ?? 0) > 0);
  assert.ok(report.engineMicros.p99 > 0, 'decisions were timed');
  const text = formatRiskReport(report);
  assert.match(text, /the rules \(engine record \+ decide\) +\d+\.\d +\d+\.\d +\d+\.\d\d/);
  assert.match(text, /PASS {2}detection rate >= 95\.0%: 100\.0% \(9 of 9\)/);
  assert.match(text, /cash-out\.code-broker +2/);
  assert.match(text, /PASS {2}false-positive rate <= 1\.0%: 0\.0% \(0 of 21\)/);
});
