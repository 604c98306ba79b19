import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryReplayStore } from './replay-store.ts';
import { createTestClock } from './test-platform.ts';

describe('the in-memory replay store', () => {
  it('grants a key once until it is released or expires', () => {
    const clock = createTestClock();
    const store = createMemoryReplayStore({ clock: clock.nowMs });
    const expiresAtMs = clock.nowMs() + 10_000;
    assert.equal(store.claim('a', expiresAtMs), true);
    assert.equal(store.claim('a', expiresAtMs), false);
    store.release('a');
    assert.equal(store.claim('a', expiresAtMs), true);
    clock.advanceSeconds(10);
    assert.equal(store.claim('a', clock.nowMs() + 10_000), true);
  });

  it('sweeps expired claims and stays within its size', () => {
    const clock = createTestClock();
    const store = createMemoryReplayStore({ clock: clock.nowMs, sizeMax: 3 });
    for (const key of ['a', 'b', 'c']) store.claim(key, clock.nowMs() + 1000);
    assert.equal(store.size, 3);
    clock.advanceSeconds(1);
    store.claim('d', clock.nowMs() + 1000);
    assert.equal(store.size, 1);
    for (const key of ['e', 'f', 'g']) store.claim(key, clock.nowMs() + 1000);
    assert.equal(store.size, 3);
    // Full of live claims: the oldest ("d") was forgotten to make room.
    assert.equal(store.claim('d', clock.nowMs() + 1000), true);
    assert.equal(store.claim('g', clock.nowMs() + 1000), false);
  });

  it('refuses a size below one', () => {
    assert.throws(() => createMemoryReplayStore({ sizeMax: 0 }), RangeError);
  });
});
