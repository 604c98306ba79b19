/**
 * What every benchmark's run shares: its progress log, the server child's optional CPU profile,
 * and the budgets and correctness checks printed under its table.
 */
import { formatSeconds } from './table.ts';

export type BudgetStatus = 'PASS' | 'FAIL' | 'SKIP';

export interface BudgetCheck {
  readonly name: string;
  readonly status: BudgetStatus;
  readonly detail: string;
}

export interface CorrectnessCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** Progress lines on stderr, stamped with the seconds since `startedAt`. */
export function progressLog(startedAt: Date): (line: string) => void {
  return (line) =>
    console.error(`  [${formatSeconds((Date.now() - startedAt.getTime()) / 1000)} s] ${line}`);
}

/**
 * `MITE_BENCH_SERVER_CPU_PROF=DIR`: where the server child writes a V8 CPU profile (summarise it
 * with cpuprofile-summary.ts), and the node options that make it do so.
 * `MITE_BENCH_SERVER_NODE_FLAGS="--trace-gc ..."`: more node options for the server child only
 * (diagnostics that NODE_OPTIONS refuses, or would apply to the load generator too).
 */
export function serverProfile(): { readonly dir?: string; readonly execArgv: string[] } {
  const extra = (process.env.MITE_BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const dir = process.env.MITE_BENCH_SERVER_CPU_PROF;
  if (dir === undefined || dir === '') return { execArgv: extra };
  return { dir, execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...extra] };
}

/** The lines under a report's table: budgets, then correctness checks, then notes. */
export function verdictLines(report: {
  readonly budgets: readonly BudgetCheck[];
  readonly checks?: readonly CorrectnessCheck[];
  readonly notes: readonly string[];
}): string[] {
  const lines = report.budgets.map(
    (budget) => `${budget.status.padEnd(4)}  ${budget.name}: ${budget.detail}`,
  );
  if (report.checks !== undefined) {
    lines.push('');
    for (const check of report.checks) {
      lines.push(`${(check.ok ? 'OK' : 'WRONG').padEnd(5)} ${check.name}: ${check.detail}`);
    }
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  return lines;
}

/** Budgets are reported; a failed correctness check fails the benchmark (after the report). */
export function failOnWrongChecks(benchmark: string, checks: readonly CorrectnessCheck[]): void {
  const wrong = checks.filter((check) => !check.ok);
  if (wrong.length > 0) {
    throw new Error(
      `the ${benchmark} benchmark's correctness checks failed: ${wrong.map((c) => c.name).join('; ')}`,
    );
  }
}
