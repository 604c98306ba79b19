import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type PlatformOverrides, startPlatformUnderTest } from '../platform-testing.ts';
import { sandboxCards } from './sandbox-provider.ts';

async function fundingSeenByAUser(t: TestContext, overrides: PlatformOverrides = {}) {
  const env = await startPlatformUnderTest(t, 'sqlite', overrides);
  const user = { email: 'funding@example.com', password: 'a long passphrase' };
  assert.equal((await env.call('POST', '/v1/users', { body: user })).status, 201);
  const session = await env.call('POST', '/v1/sessions', { body: user });
  const answer = await env.call('GET', '/v1/funding', { auth: String(session.body?.token) });
  assert.equal(answer.status, 200, answer.text);
  return { env, funding: answer.body };
}

describe('GET /v1/funding', () => {
  it('lists the sandbox\u2019s test cards, the ones it decides by', async (t) => {
    const { env, funding } = await fundingSeenByAUser(t);
    assert.equal(funding?.provider, 'sandbox');
    assert.equal(funding?.sandbox, true);
    const cards = funding?.testCards as { number: string; behaviour: string }[];
    assert.deepEqual(
      Object.fromEntries(cards.map((card) => [card.behaviour, card.number])),
      sandboxCards,
    );
    assert.equal((await env.call('GET', '/v1/funding')).status, 401);
    assert.equal((await env.call('GET', '/v1/funding', { auth: env.admin })).status, 403);
  });

  it('says when top-ups are off, with no cards', async (t) => {
    const { funding } = await fundingSeenByAUser(t, { funding: { provider: 'none' } });
    assert.deepEqual(funding, { provider: 'none', sandbox: false, testCards: [] });
  });
});
