import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import type { ChargeEvent, FundingProvider } from './funding-provider.ts';
import {
  createSandboxProvider,
  processorFeeMicros,
  sandboxCards,
  sandboxFeeDefaults,
} from './sandbox-provider.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;
/** How long the sandbox under test takes to confirm a card that confirms later. */
const confirmDelayMs = 5_000;

function sandbox(
  delivered: { headers: Record<string, string>; body: string }[] = [],
  webhookSecret = secret,
): FundingProvider {
  return createSandboxProvider({
    ...sandboxFeeDefaults,
    webhookSecret,
    cardTokenKey: randomBytes(32),
    confirmDelayMs,
    deliverWebhook: async (headers, body) => {
      delivered.push({ headers, body });
    },
  });
}

/**
 * Moves the sandbox's mocked timers (enabled by the test before charging) to just before and then
 * to its confirmation delay: nothing is sent before it, the webhook at it.
 */
function confirmLater(t: TestContext, delivered: readonly unknown[]) {
  t.mock.timers.tick(confirmDelayMs - 1);
  assert.equal(delivered.length, 0, 'not confirmed before the delay');
  t.mock.timers.tick(1);
  assert.equal(delivered.length, 1, 'confirmed at the delay');
}

const card = (number: string) => ({ number, expMonth: 12, expYear: 2099, cvc: '123' });
const source = (number: string) => ({ kind: 'card' as const, card: card(number) });

describe('sandbox funding provider', () => {
  it('charges 2.9% + $0.30, rounded half up to a micro-unit', () => {
    assert.equal(processorFeeMicros(10_000_000n, sandboxFeeDefaults), 590_000n);
    assert.equal(processorFeeMicros(1n, sandboxFeeDefaults), 300_000n);
    // 0.029 * 17 = 0.493 rounds down; 0.029 * 18 = 0.522 rounds up.
    assert.equal(processorFeeMicros(17n, sandboxFeeDefaults), 300_000n);
    assert.equal(processorFeeMicros(18n, sandboxFeeDefaults), 300_001n);
  });

  it('succeeds, declines and refuses cards like a processor in test mode', async () => {
    const provider = sandbox();
    const charge = (number: string, key: string, extra = {}) =>
      provider.charge({
        amountMicros: 10_000_000n,
        source: { kind: 'card', card: { ...card(number), ...extra } },
        idempotencyKey: key,
      });
    const ok = await charge(sandboxCards.succeeds, 'a');
    assert.deepEqual(ok.outcome, { status: 'succeeded', feeMicros: 590_000n });
    assert.equal(ok.last4, '4242');
    assert.doesNotMatch(JSON.stringify({ ...ok, outcome: 0 }), /4242424242424242/);
    assert.deepEqual((await charge(sandboxCards.declines, 'b')).outcome, {
      status: 'declined',
      reason: 'cardDeclined',
    });
    assert.deepEqual((await charge(sandboxCards.insufficientFunds, 'c')).outcome, {
      status: 'declined',
      reason: 'insufficientFunds',
    });
    assert.deepEqual((await charge('4242424242424241', 'd')).outcome, {
      status: 'declined',
      reason: 'invalidCard',
    });
    assert.deepEqual((await charge(sandboxCards.succeeds, 'e', { expYear: 2020 })).outcome, {
      status: 'declined',
      reason: 'expiredCard',
    });
  });

  it('never charges twice for one idempotency key, and tokens a card the same way each time', async () => {
    const provider = sandbox();
    const request = {
      amountMicros: 5_000_000n,
      source: source(sandboxCards.succeeds),
      idempotencyKey: 'k',
    };
    const first = await provider.charge(request);
    assert.deepEqual(await provider.charge(request), first);
    const other = await provider.charge({ ...request, idempotencyKey: 'k2' });
    assert.notEqual(other.chargeId, first.chargeId);
    assert.equal(other.cardToken, first.cardToken);
  });

  it('confirms a pending charge later with a webhook that only the right secret verifies', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const delivered: { headers: Record<string, string>; body: string }[] = [];
    const provider = sandbox(delivered);
    const charge = await provider.charge({
      amountMicros: 10_000_000n,
      source: source(sandboxCards.confirmsLater),
      idempotencyKey: 'p',
    });
    assert.deepEqual(charge.outcome, { status: 'pending' });
    confirmLater(t, delivered);
    const [message] = delivered;
    assert.ok(message);
    const check = provider.verifyWebhook(message.headers, Buffer.from(message.body));
    const expected: ChargeEvent = {
      type: 'charge.succeeded',
      chargeId: charge.chargeId,
      feeMicros: 590_000n,
    };
    assert.deepEqual(check, { ok: true, value: expected });
    assert.equal(
      provider.verifyWebhook(message.headers, Buffer.from(message.body.replace('ch_', 'ch_x'))).ok,
      false,
    );
    assert.equal(
      sandbox([], `whsec_${randomBytes(24).toString('base64')}`).verifyWebhook(
        message.headers,
        Buffer.from(message.body),
      ).ok,
      false,
      'another secret',
    );
    const stale = {
      ...message.headers,
      'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 3600),
    };
    assert.equal(
      provider.verifyWebhook(stale, Buffer.from(message.body)).ok,
      false,
      'replayed an hour later',
    );
  });

  it('reports a pending charge that fails later', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const delivered: { headers: Record<string, string>; body: string }[] = [];
    const provider = sandbox(delivered);
    const charge = await provider.charge({
      amountMicros: 1_000_000n,
      source: source(sandboxCards.failsLater),
      idempotencyKey: 'f',
    });
    confirmLater(t, delivered);
    const [message] = delivered;
    assert.ok(message);
    assert.deepEqual(provider.verifyWebhook(message.headers, Buffer.from(message.body)), {
      ok: true,
      value: { type: 'charge.failed', chargeId: charge.chargeId, reason: 'cardDeclined' },
    });
  });
});
