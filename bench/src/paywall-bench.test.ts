import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPaywallReport, runPaywallBench } from './paywall-bench.ts';

test('the paywall benchmark runs tiny: every row, positive rates, no refused paid request', async () => {
  const report = await runPaywallBench({
    connections: 4,
    warmupSeconds: 0,
    httpSeconds: 1,
    inProcessSeconds: 0.5,
    inFlight: 4,
    credentials: 3,
  });

  assert.deepEqual(
    report.http.map((row) => [row.kind, row.label]),
    [
      ['peer', 'GET /free/article (peer)'],
      ['paid', 'GET /paid/article with a valid credential'],
      ['unpaid', 'GET /paid/article without payment (402)'],
    ],
  );
  for (const row of report.http) {
    assert.ok(row.requests > 0, `${row.kind} got answers`);
    assert.ok(Number.isFinite(row.rate) && row.rate > 0, `${row.kind} rate ${row.rate}`);
    assert.ok(row.p50Ms > 0 && row.p99Ms >= row.p50Ms, `${row.kind} latency`);
    assert.equal(row.errors, 0, `${row.kind} connection errors`);
  }
  const [peer, paid, unpaid] = report.http;
  assert.equal(paid?.non2xx, 0, `paid non-2xx: ${JSON.stringify(paid?.statusCodes)}`);
  assert.deepEqual(Object.keys(paid?.statusCodes ?? {}), ['200']);
  assert.equal(peer?.non2xx, 0);
  assert.deepEqual(Object.keys(unpaid?.statusCodes ?? {}), ['402']);
  assert.ok(paid?.peer !== undefined && paid.peer.rate === peer?.rate && paid.peer.ratio > 0);

  assert.deepEqual(
    report.inProcess.map((row) => [row.kind, row.inFlight]),
    [
      ['handleSequential', 1],
      ['handleConcurrent', 4],
      ['ceiling', 1],
    ],
  );
  for (const row of report.inProcess) {
    assert.ok(row.operations > 0 && Number.isFinite(row.rate) && row.rate > 0, row.label);
  }
  const ceiling = report.inProcess[2];
  for (const row of report.inProcess.slice(0, 2)) {
    assert.ok(row.ceiling !== undefined && row.ceiling.rate === ceiling?.rate, row.label);
  }
  for (const check of report.checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);

  // The budget is reported, never asserted.
  assert.equal(report.budgets.length, 1);
  assert.ok(['PASS', 'FAIL'].includes(report.budgets[0]?.status ?? ''));

  const printed = formatPaywallReport(report);
  assert.match(printed, /GET \/free\/article \(peer\)/);
  assert.match(printed, /GET \/paid\/article with a valid credential/);
  assert.match(printed, /GET \/paid\/article without payment \(402\)/);
  assert.match(printed, /Ed25519 verify, node:crypto \(ceiling\)/);
  assert.match(printed, /^(PASS|FAIL) {2}paid route >= 70% of the unpaid route: /m);
});
