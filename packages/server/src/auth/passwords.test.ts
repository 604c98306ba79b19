import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';

describe('password hashing', () => {
  it('verifies the right password and rejects others', async () => {
    const stored = await hashPassword('correct horse battery');
    assert.match(stored, /^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.equal(await verifyPassword('correct horse battery', stored), true);
    assert.equal(await verifyPassword('correct horse batterY', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  it('salts every hash', async () => {
    assert.notEqual(await hashPassword('same password'), await hashPassword('same password'));
  });

  it('treats Unicode-equivalent spellings of a password as the same password', async () => {
    const stored = await hashPassword('caf\u00e9 au lait!');
    assert.equal(await verifyPassword('cafe\u0301 au lait!', stored), true);
  });

  it('explains a password that is too short or too long', () => {
    assert.match(passwordProblem('short') ?? '', /at least 10/);
    assert.match(passwordProblem('x'.repeat(1025)) ?? '', /at most 1024/);
    assert.equal(passwordProblem('long enough password'), undefined);
  });

  it('refuses a stored hash it does not understand', async () => {
    await assert.rejects(verifyPassword('x', 'md5$abc'), /unknown format/);
  });
});
