import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSecret, issueSecret, parseSecret, secretMatches } from './secrets.ts';

describe('bearer secrets', () => {
  it('issues keys whose id can be read back and whose hash matches', () => {
    for (const kind of ['apiKey', 'adminKey'] as const) {
      const issued = issueSecret(kind);
      assert.deepEqual(parseSecret(issued.secret), { kind, id: issued.id });
      assert.equal(issued.hash, hashSecret(issued.secret));
      assert.equal(secretMatches(issued.secret, issued.hash), true);
      assert.equal(secretMatches(`${issued.secret}x`, issued.hash), false);
    }
  });

  it('issues session tokens that parse as sessions', () => {
    const session = issueSecret('session');
    assert.deepEqual(parseSecret(session.secret), { kind: 'session', id: '' });
    assert.equal(session.id, session.hash);
  });

  it('issues key ids that a command line does not take for an option', () => {
    // One id in 64 would start with '-' if drawn once: 2,000 draws all but never miss one.
    for (let i = 0; i < 2_000; i++) {
      const { id, secret } = issueSecret(i % 2 === 0 ? 'apiKey' : 'adminKey');
      assert.doesNotMatch(id, /^-/);
      assert.equal(parseSecret(secret)?.id, id);
    }
  });

  it('never issues the same secret twice', () => {
    const secrets = new Set(Array.from({ length: 1000 }, () => issueSecret('apiKey').secret));
    assert.equal(secrets.size, 1000);
  });

  it('does not parse strings that are not our secrets', () => {
    for (const text of [
      '',
      'Bearer x',
      'mite_k_short',
      'mite_s_',
      'mite_x_abc',
      'mite_k_!!!!!!!!!!!!_x',
    ]) {
      assert.equal(parseSecret(text), undefined, text);
    }
  });
});
