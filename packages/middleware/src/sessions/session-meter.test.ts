import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  parseSessionChallengeHeader,
  parseSessionReceiptHeader,
  problemTable,
  type SessionReceipt,
  signVoucher,
  voucherKeyPair,
} from '@mite/protocol';
import { testSecret } from '../test-platform.ts';
import { createSessionMeter } from './session-meter.ts';
import {
  type MeterWorld,
  meteredTestRoutes,
  openAtPlatform,
  send,
  sessionChallengeOf,
  settledAtPlatform,
  startMeterWorld,
  waitFor,
} from './testing-world.ts';

function receiptOf(response: Response): SessionReceipt {
  const receipt = parseSessionReceiptHeader(response.headers.get('payment-receipt') ?? '');
  if (!receipt.ok) throw new Error(`no receipt: ${receipt.detail}`);
  return receipt.value;
}

async function problemOf(response: Response): Promise<{ type: string; miteCode: string }> {
  assert.match(response.headers.get('content-type') ?? '', /problem\+json/);
  return (await response.json()) as { type: string; miteCode: string };
}

async function refusedWith(response: Response, code: keyof typeof problemTable): Promise<void> {
  const problem = await problemOf(response);
  assert.equal(problem.miteCode, code);
  assert.equal(problem.type, problemTable[code].type);
  assert.equal(response.status, problemTable[code].status);
}

describe('session meter over HTTP', () => {
  let world: MeterWorld;
  before(async () => {
    world = await startMeterWorld();
  });
  after(() => world.close());

  it('answers an unpaid metered request with 402 and a session challenge', async () => {
    const response = await fetch(`${world.url}/songs/1`);
    assert.equal(response.status, 402);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const header = response.headers.get('www-authenticate') ?? '';
    const challenge = parseSessionChallengeHeader(header, { nowSeconds: world.clock.nowSeconds() });
    assert.ok(challenge.ok);
    assert.deepEqual(challenge.value.request, {
      amount: '100',
      currency: 'usd',
      recipient: world.merchantId,
      unitType: 'second',
      suggestedDeposit: '10000',
      description: 'A song, by the second',
      methodDetails: {
        platform: world.platform.url,
        resource: '/songs/1',
        sessionProtocol: 'mite-v1',
        minVoucherDelta: '300',
        idleTimeoutSeconds: 300,
        vouchers: ['payword', 'ed25519'],
        decimals: 6,
      },
    });
    const problem = await problemOf(response);
    assert.equal(problem.type, problemTable.paymentRequired.type);
    const free = await fetch(`${world.url}/not-metered`);
    assert.equal(free.status, 404);
    assert.equal(await free.text(), 'not metered');
  });

  it('opens on HEAD, then serves one unit per request against the vouchers', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    const opened = await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal(opened.status, 204);
    assert.deepEqual(receiptOf(opened), {
      ...receiptOf(opened),
      channelId: session.id,
      acceptedCumulativeMicros: 0n,
      spentMicros: 0n,
      remainingMicros: 1_000n,
      units: 0,
      final: false,
    });
    for (const cumulative of [100n, 200n, 300n]) {
      const response = await send(world, '/api/quote', session.pay(cumulative));
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'quote 1');
      const receipt = receiptOf(response);
      assert.equal(receipt.acceptedCumulativeMicros, cumulative);
      assert.equal(receipt.spentMicros, cumulative);
      assert.equal(receipt.units, 1);
      assert.equal(receipt.remainingMicros, 1_000n - cumulative);
    }
  });

  it('refuses a forged word, a stale voucher, one beyond the deposit, and takes a replay once', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 500n,
      kind: 'payword',
    });
    await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    const forged = session.voucher(200n);
    if (forged.proof.kind !== 'payword') throw new Error('unreachable');
    const word = forged.proof.word.slice();
    word[0] = (word[0] ?? 0) ^ 1;
    const forgedHeader = session.credential({
      action: 'voucher',
      voucher: { ...forged, proof: { kind: 'payword', word } },
    });
    await refusedWith(await send(world, '/api/quote', forgedHeader), 'voucherInvalid');
    // A real word for another count of units is no better.
    const shifted = session.credential({
      action: 'voucher',
      voucher: { ...session.voucher(300n), cumulativeMicros: 200n },
    });
    await refusedWith(await send(world, '/api/quote', shifted), 'voucherInvalid');
    assert.equal((await send(world, '/api/quote', session.pay(200n))).status, 200);
    // The same voucher again: a success that raises nothing. It paid two units: the second is
    // served now, and a third showing pays for nothing more.
    const replay = await send(world, '/api/quote', session.pay(200n));
    assert.equal(replay.status, 200);
    assert.equal(receiptOf(replay).acceptedCumulativeMicros, 200n);
    await refusedWith(await send(world, '/api/quote', session.pay(200n)), 'insufficientBalance');
    const delivered = await send(world, '/api/quote', session.pay(200n), 'HEAD');
    assert.equal(delivered.status, 204);
    assert.equal(receiptOf(delivered).acceptedCumulativeMicros, 200n);
    assert.equal(receiptOf(delivered).spentMicros, 200n);
    await refusedWith(await send(world, '/api/quote', session.pay(100n)), 'voucherStale');
    // The chain ends at the deposit: a word past it cannot exist, so the amount alone is tried.
    const beyond = { ...session.voucher(500n), cumulativeMicros: 600n };
    await refusedWith(
      await send(world, '/api/quote', session.credential({ action: 'voucher', voucher: beyond })),
      'voucherExceedsDeposit',
    );
    const held = await world.store.get(session.id);
    assert.equal(held?.acceptedMicros, 200n);
    assert.equal(held?.spentMicros, 200n);
  });

  it('refuses vouchers for another session, an unknown one, and under the minimum step', async () => {
    const challenge = await sessionChallengeOf(world, '/llm/1');
    const first = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'ed25519',
    });
    const second = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'ed25519',
    });
    for (const session of [first, second]) {
      const open = session.credential({ action: 'open', grant: session.grant });
      assert.equal((await send(world, '/llm/1', open, 'HEAD')).status, 204);
    }
    // Signed with the first session's key, for the second session: the signature fails.
    const crossed = signVoucher(first.secretKey ?? new Uint8Array(), second.id, 100n);
    await refusedWith(
      await send(world, '/llm/1', first.credential({ action: 'voucher', voucher: crossed })),
      'voucherInvalid',
    );
    // The first session's voucher under the second's id, or a key nobody committed to.
    const moved = { ...first.voucher(100n), channelId: second.id };
    await refusedWith(
      await send(world, '/llm/1', first.credential({ action: 'voucher', voucher: moved })),
      'voucherInvalid',
    );
    const stranger = signVoucher(voucherKeyPair().secretKey, first.id, 100n);
    await refusedWith(
      await send(world, '/llm/1', first.credential({ action: 'voucher', voucher: stranger })),
      'voucherInvalid',
    );
    const unknown = { ...first.voucher(100n), channelId: `ses_${'0'.repeat(32)}` };
    await refusedWith(
      await send(world, '/llm/1', first.credential({ action: 'voucher', voucher: unknown })),
      'sessionUnknown',
    );
    await refusedWith(await send(world, '/llm/1', first.pay(40n)), 'voucherDeltaTooSmall');
    assert.equal((await send(world, '/llm/1', first.pay(50n), 'HEAD')).status, 204);
    // The whole deposit is always a valid last step, however small.
    assert.equal((await send(world, '/llm/1', first.pay(990n), 'HEAD')).status, 204);
    assert.equal((await send(world, '/llm/1', first.pay(1_000n), 'HEAD')).status, 204);
  });

  it('never serves more than the vouchers accepted, whatever runs at once', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 2_000n,
      kind: 'payword',
    });
    await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal((await send(world, '/api/quote', session.pay(500n), 'HEAD')).status, 204);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send(world, '/api/quote', session.pay(500n))),
    );
    const statuses = responses.map((response) => response.status);
    await Promise.all(responses.map((response) => response.body?.cancel()));
    assert.equal(statuses.filter((status) => status === 200).length, 5);
    assert.equal(statuses.filter((status) => status === 402).length, 15);
    const held = await world.store.get(session.id);
    assert.equal(held?.spentMicros, 500n);
    assert.equal(held?.acceptedMicros, 500n);
  });

  it('gives back the unit of a response that failed (5xx)', async () => {
    const challenge = await sessionChallengeOf(world, '/api/flaky');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    await send(
      world,
      '/api/flaky',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    const failed = await send(world, '/api/flaky', session.pay(100n));
    assert.equal(failed.status, 503);
    await failed.body?.cancel();
    // The give-back runs as the response closes; the retry may race it, so wait for it.
    await waitFor(async () => (await world.store.get(session.id))?.spentMicros === 0n);
    const retried = await send(world, '/api/flaky', session.pay(100n));
    assert.equal(retried.status, 200);
    assert.equal(receiptOf(retried).spentMicros, 100n);
  });

  it('refuses grants the platform did not sign for this challenge', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    const [, payload] = session.grant.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    const other = await openAtPlatform(world, await sessionChallengeOf(world, '/api/flaky'), {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    const cases: [string, keyof typeof problemTable][] = [
      [await world.signGrant({ ...claims, merchantId: 'mer_other' }), 'wrongMerchant'],
      [await world.signGrant({ ...claims, deposit: 'lots' }), 'grantInvalid'],
      [other.grant, 'challengeMismatch'],
      [`${session.grant.slice(0, -4)}AAAA`, 'grantInvalid'],
    ];
    for (const [grant, code] of cases) {
      const open = session.credential({ action: 'open', grant });
      await refusedWith(await send(world, '/api/quote', open), code);
    }
    const altered = { ...challenge, realm: 'elsewhere.test' };
    const forged = session.credential({ action: 'open', grant: session.grant });
    const header = forged.replace(/^Payment /, '');
    const json = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as {
      challenge: { realm: string };
    };
    json.challenge.realm = altered.realm;
    const tampered = `Payment ${Buffer.from(JSON.stringify(json)).toString('base64url')}`;
    await refusedWith(await send(world, '/api/quote', tampered), 'invalidChallenge');
    // Opened at /api/quote: the same credential does not open /api/flaky.
    const elsewhere = await send(world, '/api/flaky', forged);
    await refusedWith(elsewhere, 'wrongResource');
  });

  it('answers 503 when the platform’s keys cannot be had to check a grant', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    const blind = createSessionMeter({
      merchantId: world.merchantId,
      realm: 'radio.test',
      platformUrl: world.platform.url,
      jwksUrl: 'http://127.0.0.1:9/v1/keys',
      challengeSecret: testSecret,
      routes: meteredTestRoutes,
      apiKey: world.merchantKey,
      clock: world.clock.nowMs,
      checkpointIntervalMs: 0,
    });
    const outcome = await blind.handle({
      method: 'HEAD',
      url: '/api/quote',
      headers: { authorization: session.credential({ action: 'open', grant: session.grant }) },
    });
    assert.equal(outcome.kind, 'answer');
    assert.equal(outcome.kind === 'answer' ? outcome.status : 0, 503);
    assert.equal(outcome.kind === 'answer' ? outcome.code : undefined, 'keysUnavailable');
    await blind.stop();
  });

  it('takes a top-up grant, then vouchers up to the larger deposit', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 500n,
      kind: 'ed25519',
    });
    await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    await refusedWith(await send(world, '/api/quote', session.pay(800n)), 'voucherExceedsDeposit');
    const response = await fetch(
      `${world.platform.url}/v1/payment-sessions/${session.id}/top-ups`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${world.userToken}`,
          'content-type': 'application/json',
          'idempotency-key': 'top-up-1',
        },
        body: JSON.stringify({ amount: '500' }),
      },
    );
    assert.equal(response.status, 200);
    const { grant } = (await response.json()) as { grant: string };
    const toppedUp = await send(
      world,
      '/api/quote',
      session.credential({ action: 'topUp', grant }),
      'HEAD',
    );
    assert.equal(toppedUp.status, 204);
    assert.equal(receiptOf(toppedUp).remainingMicros, 1_000n);
    // The older grant again changes nothing.
    const older = await send(
      world,
      '/api/quote',
      session.credential({ action: 'topUp', grant: session.grant }),
      'HEAD',
    );
    assert.equal(receiptOf(older).remainingMicros, 1_000n);
    assert.equal((await send(world, '/api/quote', session.pay(800n))).status, 200);
  });

  it('checkpoints the highest voucher and closes idle sessions at the platform', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal((await send(world, '/api/quote', session.pay(300n))).status, 200);
    await world.meter.upkeep();
    // The voucher went to the merchant only: the platform has it from the checkpoint.
    const checkpointed = await world.sessionAt(session.id);
    assert.equal(checkpointed.state, 'open');
    assert.equal(checkpointed.acceptedMicros, 300n);
    assert.equal((await world.store.get(session.id))?.checkpointedMicros, 300n);
    world.clock.advanceSeconds(301);
    await world.meter.upkeep();
    // The platform's own sweeper is off: the merchant's idle close settled it.
    const settled = await world.sessionAt(session.id);
    assert.equal(settled.state, 'settled');
    assert.equal(settled.closeReason, 'merchant');
    assert.equal(settled.settledMicros, 300n);
    assert.equal((await world.store.get(session.id))?.state, 'closed');
    await refusedWith(await send(world, '/api/quote', session.pay(400n)), 'sessionClosed');
    world.clock.advanceSeconds(-301);
    assert.deepEqual(world.upkeepErrors, []);
  });

  it('closes for the client with its last voucher, and settles at the platform', async () => {
    const challenge = await sessionChallengeOf(world, '/api/quote');
    const session = await openAtPlatform(world, challenge, {
      depositMicros: 1_000n,
      kind: 'payword',
    });
    const before = await world.wallet();
    await send(
      world,
      '/api/quote',
      session.credential({ action: 'open', grant: session.grant }),
      'HEAD',
    );
    assert.equal((await send(world, '/api/quote', session.pay(200n))).status, 200);
    // A close with a stale voucher is refused: nobody but the holder closes a session.
    await refusedWith(await send(world, '/api/quote', session.pay(100n, 'close')), 'voucherStale');
    const closed = await send(world, '/api/quote', session.pay(200n, 'close'));
    assert.equal(closed.status, 204);
    assert.equal(receiptOf(closed).final, true);
    const settled = await settledAtPlatform(world, session.id);
    assert.equal(settled.settledMicros, 200n);
    assert.equal(settled.closeReason, 'merchant');
    // The deposit's hold is gone: 200 paid, the other 800 back in the balance.
    const after = await world.wallet();
    assert.equal(after.balanceMicros, before.balanceMicros + 800n);
    assert.equal(after.reservedMicros, before.reservedMicros - 1_000n);
    const again = await send(world, '/api/quote', session.pay(200n, 'close'));
    assert.equal(again.status, 204);
    await refusedWith(await send(world, '/api/quote', session.pay(300n)), 'sessionClosed');
    assert.equal((await world.sessionAt(session.id)).settledMicros, 200n);
    assert.deepEqual(await world.wallet(), after);
  });
});
