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
    mule: 3,
    selfDealer: 2,
  });
  assert.equal(report.fraudActors, 7);
  assert.equal(report.fraudCaught, 7);
  assert.equal(report.honestUsers, 21);
  assert.equal(report.honestStopped, 0);
  assert.ok(report.engineMicros.p99 > 0, 'decisions were timed');
  const text = formatRiskReport(report);
  assert.match(text, /the rules \(engine record \+ decide\) +\d+\.\d +\d+\.\d +\d+\.\d\d/);
  assert.match(text, /PASS {2}detection rate >= 95\.0%: 100\.0% \(7 of 7\)/);
  assert.match(text, /PASS {2}false-positive rate <= 1\.0%: 0\.0% \(0 of 21\)/);
});
