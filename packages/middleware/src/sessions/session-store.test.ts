import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { paywordChain } from '@mite/protocol';
import { tempDir } from '@mite/testkit';
import {
  createMemorySessionStore,
  type SessionStore,
  type StoredSession,
} from './session-store.ts';
import { createSqliteSessionStore } from './sqlite-session-store.ts';

const chain = paywordChain(new Uint8Array(32).fill(4), 100);
const channelId = `ses_${'a'.repeat(32)}`;

function session(overrides: Partial<StoredSession> = {}): StoredSession {
  return {
    channelId,
    challengeId: 'c'.repeat(43),
    resource: '/songs/1',
    payer: 'psn_1',
    unitPriceMicros: 100n,
    unitType: 'second',
    minVoucherDeltaMicros: 100n,
    commitment: { kind: 'payword', anchor: chain.anchor, chainLength: 100 },
    depositMicros: 10_000n,
    sequence: 0,
    grant: 'a.b.c',
    openUntilSeconds: 1_800_003_600,
    acceptedMicros: 0n,
    proof: chain.anchor,
    spentMicros: 0n,
    checkpointedMicros: 0n,
    state: 'open',
    closeReason: undefined,
    lastActivityMs: 1_800_000_000_000,
    ...overrides,
  };
}

/** The store contract, run over each store; `second` gives another handle on the same store. */
function describeStore(
  name: string,
  make: () => { store: SessionStore; second: () => SessionStore; done: () => void },
): void {
  describe(`${name} session store`, () => {
    it('opens a session once; opening it again answers the one held', async () => {
      const { store, done } = make();
      assert.equal(await store.get(channelId), undefined);
      const opened = await store.open(session());
      assert.deepEqual(opened, session());
      const again = await store.open(session({ depositMicros: 99n }));
      assert.equal(again?.depositMicros, 10_000n);
      assert.deepEqual(await store.get(channelId), session());
      done();
    });

    it('raises the accepted voucher only upwards, within the deposit, while open', async () => {
      const { store, done } = make();
      await store.open(session());
      const raised = await store.accept(channelId, 300n, chain.word(3), 5);
      // A conditional write answers the session as the write left it.
      assert.equal(raised?.acceptedMicros, 300n);
      assert.deepEqual(raised?.proof, chain.word(3));
      assert.equal(await store.accept(channelId, 300n, chain.word(3), 6), undefined);
      assert.equal(await store.accept(channelId, 200n, chain.word(2), 6), undefined);
      assert.equal(await store.accept(channelId, 10_100n, chain.word(99), 6), undefined);
      assert.equal(await store.accept(`ses_${'b'.repeat(32)}`, 500n, chain.word(5), 6), undefined);
      const held = await store.get(channelId);
      assert.equal(held?.acceptedMicros, 300n);
      assert.deepEqual(held?.proof, chain.word(3));
      assert.equal(held?.lastActivityMs, 5);
      done();
    });

    it('serves only what the accepted voucher covers, also when asked many times at once', async () => {
      const { store, second, done } = make();
      await store.open(session());
      await store.accept(channelId, 1_000n, chain.word(10), 1);
      const other = second();
      const tries = Array.from({ length: 40 }, (_, index) =>
        (index % 2 === 0 ? store : other).spend(channelId, 100n, 2),
      );
      const served = (await Promise.all(tries)).filter((found) => found !== undefined).length;
      assert.equal(served, 10);
      const held = await store.get(channelId);
      assert.equal(held?.spentMicros, 1_000n);
      await store.unspend(channelId, 100n);
      assert.equal((await store.get(channelId))?.spentMicros, 900n);
      await store.unspend(channelId, 5_000n);
      assert.equal((await store.get(channelId))?.spentMicros, 0n);
      done();
    });

    it('takes a top-up only with a higher sequence, and not below the deposit held', async () => {
      const { store, done } = make();
      await store.open(session());
      const grant = { sequence: 1, grant: 'd.e.f', depositMicros: 20_000n, openUntilSeconds: 9 };
      assert.ok((await store.topUp(channelId, grant, 7)) !== undefined);
      assert.equal(await store.topUp(channelId, grant, 8), undefined);
      assert.equal(
        await store.topUp(channelId, { ...grant, sequence: 2, depositMicros: 1n }, 8),
        undefined,
      );
      const held = await store.get(channelId);
      assert.equal(held?.depositMicros, 20_000n);
      assert.equal(held?.grant, 'd.e.f');
      assert.equal(held?.sequence, 1);
      assert.equal(held?.openUntilSeconds, 9);
      done();
    });

    it('closes in steps, serving and accepting nothing once closing', async () => {
      const { store, done } = make();
      await store.open(session({ lastActivityMs: 10 }));
      await store.open(session({ channelId: `ses_${'b'.repeat(32)}`, lastActivityMs: 5 }));
      await store.accept(channelId, 500n, chain.word(5), 11);
      assert.deepEqual(
        (await store.list('open', 10)).map((found) => found.channelId),
        [`ses_${'b'.repeat(32)}`, channelId],
      );
      assert.equal(await store.transition(channelId, 'open', 'closing', 'client'), true);
      assert.equal(await store.transition(channelId, 'open', 'closing', 'merchant'), false);
      assert.equal(await store.spend(channelId, 100n, 12), undefined);
      assert.equal(await store.accept(channelId, 600n, chain.word(6), 12), undefined);
      await store.checkpointed(channelId, 500n);
      await store.checkpointed(channelId, 400n);
      assert.equal(await store.transition(channelId, 'closing', 'closed', undefined), true);
      const held = await store.get(channelId);
      assert.equal(held?.state, 'closed');
      assert.equal(held?.closeReason, 'client');
      assert.equal(held?.checkpointedMicros, 500n);
      assert.equal((await store.list('open', 10)).length, 1);
      assert.equal((await store.list('closed', 10)).length, 1);
      done();
    });

    it('keeps an Ed25519 commitment', async () => {
      const { store, done } = make();
      const voucherKey = new Uint8Array(32).fill(7);
      const signature = new Uint8Array(64).fill(8);
      await store.open(
        session({ commitment: { kind: 'ed25519', voucherKey }, proof: new Uint8Array(0) }),
      );
      await store.accept(channelId, 250n, signature, 3);
      const held = await store.get(channelId);
      assert.deepEqual(held?.commitment, { kind: 'ed25519', voucherKey });
      assert.deepEqual(held?.proof, signature);
      done();
    });
  });
}

describeStore('in-memory', () => {
  const store = createMemorySessionStore();
  return { store, second: () => store, done: () => undefined };
});

describeStore('SQLite', () => {
  const file = path.join(tempDir('mite-sessions-'), 'sessions.db');
  const opened = [createSqliteSessionStore({ file })];
  return {
    store: opened[0] as SessionStore,
    second: () => {
      // Another connection to the same file: another process, as far as SQLite can tell.
      const other = createSqliteSessionStore({ file });
      opened.push(other);
      return other;
    },
    done: () => {
      for (const store of opened) store.close();
    },
  };
});

describe('SQLite session store', () => {
  it('keeps sessions across a restart, in a file only its owner reads', async () => {
    const file = path.join(tempDir('mite-sessions-'), 'sessions.db');
    const first = createSqliteSessionStore({ file, synchronous: 'full' });
    await first.open(session());
    await first.accept(channelId, 700n, chain.word(7), 4);
    await first.spend(channelId, 300n, 5);
    first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = createSqliteSessionStore({ file });
    const held = await again.get(channelId);
    assert.equal(held?.acceptedMicros, 700n);
    assert.equal(held?.spentMicros, 300n);
    assert.deepEqual(held?.proof, chain.word(7));
    again.close();
  });
});

describe('in-memory session store', () => {
  it('forgets the session closed longest ago when full, never an open one', async () => {
    const store = createMemorySessionStore({ sizeMax: 2 });
    const [a, b, c] = ['a', 'b', 'c'].map((letter) => `ses_${letter.repeat(32)}`) as [
      string,
      string,
      string,
    ];
    await store.open(session({ channelId: a }));
    await store.open(session({ channelId: b }));
    assert.equal(await store.open(session({ channelId: c })), undefined);
    await store.transition(a, 'open', 'closed', 'idle');
    assert.equal((await store.open(session({ channelId: c })))?.channelId, c);
    assert.equal(await store.get(a), undefined);
    assert.ok((await store.get(b)) !== undefined);
  });
});
