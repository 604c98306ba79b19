/**
 * Run by for-each-dialect.test.ts in a child process: forEachDialect on a machine without
 * PostgreSQL, whose variants must be reported skipped, never run.
 */
import { postgresSkipReasonFor } from '@mite/testkit';
import { forEachDialect } from './testing.ts';

forEachDialect(
  'fixture',
  (dialect, it) => {
    const runs = () => {
      if (dialect === 'postgres') throw new Error('a PostgreSQL variant ran without PostgreSQL');
    };
    it('runs', runs);
    it('runs with options', { timeout: 60_000 }, runs);
  },
  (dialect) => (dialect === 'postgres' ? postgresSkipReasonFor({}, undefined) : undefined),
);
