/**
 * The engine's counters: a key holds at most its share of events, the newest; keys past their
 * retention are dropped as others arrive; the least recently used go first once the map is full.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRiskCounters } from './risk-counters.ts';

describe('risk counters', () => {
  it('keep the newest events of a key, at most eventsPerKeyMax', () => {
    const counters = createRiskCounters({ keysMax: 10, eventsPerKeyMax: 8, retainMs: 1000 });
    for (let atMs = 1; atMs <= 20; atMs += 1) counters.add('k', atMs, BigInt(atMs));
    assert.equal(counters.count('k', 0), 8);
    assert.equal(counters.count('k', 15), 6, 'events 15 to 20');
    assert.equal(counters.count('k', 0, 16n), 3, 'amounts 13, 14 and 15');
    assert.equal(counters.count('unknown', 0), 0);
  });

  it('drop keys past their retention as other keys are added', () => {
    const counters = createRiskCounters({ keysMax: 100, eventsPerKeyMax: 4, retainMs: 1000 });
    counters.add('old-1', 0, 0n);
    counters.add('old-2', 0, 0n);
    counters.add('recent', 500, 0n);
    assert.equal(counters.keyCount(), 3);
    counters.add('new', 1001, 0n);
    assert.equal(counters.keyCount(), 2, 'old-1 and old-2 are gone');
    assert.equal(counters.count('recent', 0), 1);
  });

  it('drop the least recently used key once full', () => {
    const counters = createRiskCounters({ keysMax: 2, eventsPerKeyMax: 4, retainMs: 1000 });
    counters.add('a', 1, 0n);
    counters.add('b', 2, 0n);
    counters.add('a', 3, 0n); // a is used again, so b is the least recently used
    counters.add('c', 4, 0n);
    assert.equal(counters.keyCount(), 2);
    assert.equal(counters.count('a', 0), 2);
    assert.equal(counters.count('b', 0), 0);
  });
});
