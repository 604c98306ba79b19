import path from 'node:path';
import { freshPgDatabase, tempDir } from '@mite/testkit';
import { conformanceSuite } from './testing/conformance.ts';

let stores = 0;
conformanceSuite('SQLite', async () => {
  stores++;
  return `sqlite:${path.join(tempDir('mite-ledger-'), `store-${stores}.sqlite`)}`;
});

// The PostgreSQL suite runs when a server is available; freshPgDatabase throws when
// MITE_REQUIRE_PG=1 and none is, so CI cannot silently skip it.
const pgUrl = await freshPgDatabase();
if (pgUrl !== undefined) {
  let first = true;
  conformanceSuite('PostgreSQL', async () => {
    if (first) {
      first = false;
      return pgUrl;
    }
    return freshPgDatabase();
  });
}
