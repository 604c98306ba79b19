/**
 * One platform node in a process of its own, over a PostgreSQL database another node shares:
 * what the cross-process double-spend test starts twice. Prints `url <base>` once listening, and
 * with `--bootstrap` the first admin key's secret as `admin <secret>`.
 */
import pino from 'pino';
import { createPlatform } from '../../platform.ts';
import { noRiskRules } from '../../risk/rule-set.ts';
import { testDenominationsMicros } from './token-world.ts';

const [databaseUrl, dataDir, bootstrap] = process.argv.slice(2);
if (databaseUrl === undefined || dataDir === undefined) {
  throw new Error('usage: platform-process.ts DATABASE_URL DATA_DIR [--bootstrap]');
}
const platform = await createPlatform({
  dataDir,
  databaseUrl,
  env: process.env,
  logger: pino({ level: process.env.MITE_TEST_LOG ?? 'silent' }, pino.destination(2)),
  funding: { provider: 'sandbox' },
  backgroundJobs: false,
  tokenDenominationsMicros: testDenominationsMicros,
  // One user withdraws and pays many times a minute: tokens are under test, not the risk rules.
  riskRules: noRiskRules,
});
const base = await platform.app.listen({ port: 0, host: '127.0.0.1' });
if (bootstrap === '--bootstrap') {
  const admin = await platform.bootstrapAdminKey();
  if (admin === undefined) throw new Error('the database has an admin key already');
  process.stdout.write(`admin ${admin.secret}\n`);
}
process.stdout.write(`url ${base}\n`);
process.on('SIGTERM', () => {
  void platform.close().then(() => process.exit(0));
});
