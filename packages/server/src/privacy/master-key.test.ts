import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '@mite/testkit';
import { loadMasterKey, masterKeyFileName } from './master-key.ts';

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
