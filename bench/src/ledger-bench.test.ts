import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLedgerReport, runLedgerBench } from './ledger-bench.ts';

test('the ledger benchmark runs on SQLite with tiny counts: positive rates, clean verify', async () => {
  const report = await runLedgerBench({
    transfers: 300,
    runSeconds: 30,
    naiveTransfers: 20,
    naiveSeconds: 5,
    accounts: 20,
    clientBatch: 10,
    submitters: [1, 4],
    workloads: ['uniform', 'hot'],
    backends: ['sqlite'],
    pgNaiveConnections: 2,
  });

  // Per workload: a ledger row and its raw ceiling per submitter count, and one naive row.
  assert.equal(report.rows.length, 2 * (2 * 2 + 1));
  for (const row of report.rows) {
    assert.equal(row.backend, 'sqlite');
    assert.ok(row.transfers > 0, `${row.kind} ${row.workload} did some transfers`);
    assert.ok(Number.isFinite(row.rate) && row.rate > 0, `${row.kind} ${row.workload} rate`);
    assert.ok(row.seconds > 0);
  }
  const ledgerRows = report.rows.filter((row) => row.kind === 'ledger');
  assert.equal(ledgerRows.length, 4);
  for (const row of ledgerRows) {
    assert.equal(row.transfers, 300);
    assert.deepEqual(row.verify && { ok: row.verify.ok, problems: row.verify.problems }, {
      ok: true,
      problems: [],
    });
    assert.ok(row.peer !== undefined && row.peer.rate > 0 && row.peer.ratio > 0);
    assert.ok(row.txnSize >= 1 && row.txnSize <= 40, `engine batch ${row.txnSize}`);
  }
  const raw = report.rows.filter((row) => row.kind === 'raw');
  assert.deepEqual(
    raw.map((row) => row.transfers),
    ledgerRows.map((row) => row.transfers),
  );

  // Budgets are reported, never asserted: PostgreSQL was not measured, so it is skipped.
  const statuses = new Set(report.budgets.map((budget) => budget.status));
  for (const status of statuses) assert.ok(['PASS', 'FAIL', 'SKIP'].includes(status));
  assert.equal(report.budgets.at(-1)?.status, 'SKIP');

  const printed = formatLedgerReport(report);
  assert.match(printed, /sqlite ledger/);
  assert.match(printed, /sqlite raw batched/);
  assert.match(printed, /sqlite naive/);
});
