import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import {
  loadMasterKey,
  loadMasterKeys,
  masterKeyFileName,
  masterKeyId,
  previousMasterKeysFileName,
} from './master-key.ts';

describe('master key', () => {
  it('creates an owner-only key file once and reads the same key afterwards', () => {
    const dataDir = path.join(tempDir('mite-key-'), 'data');
    const first = loadMasterKey({ env: {}, dataDir });
    assert.equal(first.length, 32);
    const file = path.join(dataDir, masterKeyFileName);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(loadMasterKey({ env: {}, dataDir }), first);
  });

  it('prefers MITE_MASTER_KEY and refuses a malformed one', () => {
    const dataDir = tempDir('mite-key-');
    const key = randomBytes(32);
    assert.deepEqual(
      loadMasterKey({ env: { MITE_MASTER_KEY: key.toString('base64') }, dataDir }),
      key,
    );
    assert.equal(fs.existsSync(path.join(dataDir, masterKeyFileName)), false);
    assert.throws(
      () => loadMasterKey({ env: { MITE_MASTER_KEY: 'c2hvcnQ=' }, dataDir }),
      /32 bytes/,
    );
  });
});

describe('previous master keys', () => {
  it('reads them from MITE_MASTER_KEY_PREVIOUS or the key file, each with its id', () => {
    const dataDir = tempDir('mite-key-');
    const current = randomBytes(32);
    const [old, older] = [randomBytes(32), randomBytes(32)];
    const env = { MITE_MASTER_KEY: current.toString('base64') };
    const none = loadMasterKeys({ env, dataDir });
    assert.equal(none.current.id, masterKeyId(current));
    assert.deepEqual(none.previous, []);
    const fromEnv = loadMasterKeys({
      env: {
        ...env,
        MITE_MASTER_KEY_PREVIOUS: `${old.toString('base64')},${older.toString('base64')}`,
      },
      dataDir,
    });
    assert.deepEqual(
      fromEnv.previous.map((key) => key.id),
      [masterKeyId(old), masterKeyId(older)],
    );
    fs.writeFileSync(path.join(dataDir, previousMasterKeysFileName), `${old.toString('base64')}\n`);
    assert.deepEqual(loadMasterKeys({ env, dataDir }).previous[0]?.key, old);
    assert.notEqual(masterKeyId(old), masterKeyId(older));
    assert.throws(
      () => loadMasterKeys({ env: { ...env, MITE_MASTER_KEY_PREVIOUS: 'c2hvcnQ=' }, dataDir }),
      /32 bytes/,
    );
  });
});
