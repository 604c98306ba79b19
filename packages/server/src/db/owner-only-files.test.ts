import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import { createPlatform } from '../platform.ts';

const modeOf = (file: string) => statSync(file).mode & 0o777;

test('the SQLite databases and their WAL files are readable by their owner only', async () => {
  const dataDir = tempDir('mite-modes-');
  const open = () => createPlatform({ dataDir, env: {}, logger: pino({ level: 'silent' }) });
  const first = await open();
  await first.bootstrapAdminKey(); // a write to the platform database
  await first.close();
  // A database made by an earlier version, readable by anyone, is narrowed at the next start.
  chmodSync(join(dataDir, 'platform.sqlite'), 0o644);
  const platform = await open();
  try {
    const signedUp = await platform.services.users.signUp({
      email: 'ada@example.com',
      password: 'a long passphrase',
    });
    assert.ok(signedUp.ok); // writes to both the ledger (a wallet) and the platform database
    const files = ['ledger.sqlite', 'platform.sqlite'].flatMap((name) =>
      ['', '-wal', '-shm'].map((suffix) => join(dataDir, name + suffix)),
    );
    for (const file of files) {
      assert.ok(existsSync(file), `${file} exists while open`);
      assert.equal(modeOf(file).toString(8), '600', file);
    }
  } finally {
    await platform.close();
  }
});
