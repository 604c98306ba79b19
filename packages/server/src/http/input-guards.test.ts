import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstUnstorableString, isStorableText, jsonNestsDeeperThan } from './input-guards.ts';

describe('input guards', () => {
  it('measures nesting without counting brackets inside strings', () => {
    assert.equal(jsonNestsDeeperThan('[[1]]', 2), false);
    assert.equal(jsonNestsDeeperThan('[[[1]]]', 2), true);
    assert.equal(jsonNestsDeeperThan('{"a":{"b":[]}}', 2), true);
    assert.equal(jsonNestsDeeperThan('{"a":"[[[[{{{{"}', 1), false);
    assert.equal(jsonNestsDeeperThan('{"a\\"[[[":"\\\\[[["}', 1), false);
    assert.equal(jsonNestsDeeperThan(`${'['.repeat(10_000)}${']'.repeat(10_000)}`, 32), true);
  });

  it('finds NUL characters and lone surrogates, in values and keys, not paired surrogates', () => {
    assert.equal(isStorableText('caf\u00e9 \ud83d\ude00'), true);
    for (const text of ['a\u0000', '\ud800', 'x\udc00y', '\ude00\ud83d']) {
      assert.equal(isStorableText(text), false, JSON.stringify(text));
    }
    assert.equal(firstUnstorableString({ a: ['ok', { 'b/c': 'x\u0000' }] }), '/a/1/b~1c');
    assert.equal(firstUnstorableString({ 'k\ud800': 1 }), '');
    assert.equal(firstUnstorableString({ a: 1, b: [true, null, 'fine'] }), undefined);
  });
});
