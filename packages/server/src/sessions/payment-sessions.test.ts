import assert from 'node:assert/strict';
import { compactVerify, createLocalJWKSet } from 'jose';
import {
  decodeSessionGrantClaims,
  sessionGrantMediaType,
  sessionVoucherWire,
} from '@mite/protocol';
import { forEachDialect } from '../db/testing.ts';
import { expectStatus } from '../platform-testing.ts';
import {
  checkpoint,
  closeSession,
  ed25519Client,
  openedSession,
  openSession,
  paywordClient,
  sessionWorld,
} from './testing.ts';

/** The merchant's fee in these worlds: 10% (createMerchantWithKey). */
const merchantShare = (micros: bigint) => micros - micros / 10n;

forEachDialect('payment sessions', (dialect, it) => {
  it('holds the deposit at open, settles once at the last voucher and releases the rest', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token, walletId } = await world.user('ada', 1_000_000n);
    const client = paywordClient(100n, 1_000);
    const { sessionId, session } = await openedSession(world, token, {
      depositMicros: 50_000n,
      client,
    });
    assert.equal(session.state, 'open');
    assert.equal(session.deposit, '50000');
    assert.equal(await world.availableMicros(walletId), 950_000n);
    assert.equal(await world.postedMicros(walletId), 1_000_000n);

    const at30 = client.voucher(sessionId, 3_000n);
    const checked = expectStatus(await checkpoint(world, at30), 200, 'checkpoint');
    assert.equal((checked.session as Record<string, unknown>).acceptedCumulative, '3000');
    // The same voucher again is a success that changes nothing.
    expectStatus(await checkpoint(world, at30), 200, 'checkpoint again');

    const closed = expectStatus(
      await closeSession(world, world.apiKey, sessionId, client.voucher(sessionId, 4_200n)),
      200,
      'close',
    ).session as Record<string, unknown>;
    assert.equal(closed.state, 'settled');
    assert.equal(closed.settledAmount, '4200');
    assert.equal(closed.closeReason, 'merchant');
    assert.equal(await world.postedMicros(walletId), 1_000_000n - 4_200n);
    assert.equal(await world.availableMicros(walletId), 1_000_000n - 4_200n);
    assert.equal(await world.postedMicros(await world.merchantAccountId()), merchantShare(4_200n));

    // Closing again, or with an older voucher, changes nothing.
    const again = expectStatus(
      await closeSession(world, world.apiKey, sessionId, at30),
      200,
      'close again',
    ).session as Record<string, unknown>;
    assert.equal(again.settledAmount, '4200');
    assert.equal(await world.postedMicros(walletId), 1_000_000n - 4_200n);
    const late = await checkpoint(world, client.voucher(sessionId, 5_000n));
    assert.equal(late.status, 409);
    assert.equal(late.body?.type, '/v1/problems/session-closed');

    // The settlement is a payment the merchant sees like any other, and a webhook event.
    const payment = expectStatus(
      await world.env.call('GET', `/v1/payments/${String(closed.paymentId)}`, {
        auth: world.apiKey,
      }),
      200,
      'payment',
    );
    assert.equal(payment.amount, '0.0042');
    assert.equal(payment.state, 'succeeded');
    // The wallet's history shows what the session paid; its hold was never money spent.
    const history = expectStatus(
      await world.env.call('GET', '/v1/wallet/transactions', { auth: token }),
      200,
      'history',
    );
    const movements = (history.items as Record<string, unknown>[])
      .filter((item) => String(item.kind).startsWith('session'))
      .map((item) => [item.kind, item.direction, item.amount, item.merchantName]);
    assert.deepEqual(movements, [['sessionPayment', 'out', '0.0042', 'Radio Mite']]);
    const verified = await world.env.platform.ledger.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
  });

  it('refuses forged, stale, excessive and foreign vouchers with their problem types', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token } = await world.user('bob', 1_000_000n);
    const client = paywordClient(100n, 1_000);
    const other = paywordClient(100n, 1_000);
    const { sessionId } = await openedSession(world, token, { depositMicros: 20_000n, client });
    const { sessionId: otherId } = await openedSession(world, token, {
      depositMicros: 20_000n,
      client: other,
    });
    expectStatus(await checkpoint(world, client.voucher(sessionId, 1_000n)), 200, 'first');
    const problem = async (voucherCall: ReturnType<typeof checkpoint>) => {
      const answer = await voucherCall;
      return `${answer.status} ${String(answer.body?.type)}`;
    };
    // A word from another chain, claimed for this session.
    const forged = { ...other.voucher(otherId, 2_000n), channelId: sessionId };
    assert.equal(await problem(checkpoint(world, forged)), '422 /v1/problems/voucher-invalid');
    assert.equal(
      await problem(checkpoint(world, client.voucher(sessionId, 500n))),
      '409 /v1/problems/voucher-stale',
    );
    assert.equal(
      await problem(checkpoint(world, client.voucher(sessionId, 30_000n))),
      '422 /v1/problems/voucher-exceeds-deposit',
    );
    // The other session's voucher, sent to this session's route.
    const foreign = world.env.call('POST', `/v1/payment-sessions/${sessionId}/vouchers`, {
      auth: world.apiKey,
      body: sessionVoucherWire(other.voucher(otherId, 2_000n)),
    });
    assert.equal(await problem(foreign), '404 /v1/problems/session-not-found');
    // An amount that is not whole units of a PayWord session.
    const split = { ...client.voucher(sessionId, 2_000n), cumulativeMicros: 2_050n };
    assert.equal(await problem(checkpoint(world, split)), '422 /v1/problems/voucher-invalid');
    // Nothing changed: the accepted voucher is the first one.
    const read = expectStatus(
      await world.env.call('GET', `/v1/payment-sessions/${sessionId}`, { auth: token }),
      200,
      'read',
    );
    assert.equal((read.session as Record<string, unknown>).acceptedCumulative, '1000');
    // Another merchant's key cannot see it; the payer sees it without the pseudonym.
    assert.equal((read.session as Record<string, unknown>).payer, undefined);
  });

  it('settles a client close after its grace, at the merchant\u2019s higher voucher', async (t) => {
    const world = await sessionWorld(t, dialect, { sessionCloseGraceMs: 5_000 });
    const { token, walletId } = await world.user('cy', 1_000_000n);
    const client = ed25519Client();
    const challenge = world.challenge({ vouchers: ['ed25519'], unitType: 'token' });
    const { sessionId } = await openedSession(world, token, {
      challenge,
      depositMicros: 100_000n,
      client,
    });
    const closing = expectStatus(
      await closeSession(world, token, sessionId, client.voucher(sessionId, 7_300n)),
      200,
      'client close',
    ).session as Record<string, unknown>;
    assert.equal(closing.state, 'closing');
    assert.equal(closing.acceptedCumulative, '7300');
    // Within the grace, the merchant's higher voucher still counts.
    expectStatus(await checkpoint(world, client.voucher(sessionId, 9_100n)), 200, 'late voucher');
    await world.env.platform.services.paymentSessions.sweepDue();
    const still = await world.env.platform.services.paymentSessions.find(sessionId);
    assert.equal(still?.state, 'closing');
    world.advance(5_001);
    await world.env.platform.services.paymentSessions.sweepDue();
    const settled = await world.env.platform.services.paymentSessions.find(sessionId);
    assert.equal(settled?.state, 'settled');
    assert.equal(settled?.settled_micros, '9100');
    assert.equal(settled?.close_reason, 'client');
    assert.equal(await world.availableMicros(walletId), 1_000_000n - 9_100n);
  });

  it('settles an idle session at its last checkpoint, and releases one with none', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token, walletId } = await world.user('di', 1_000_000n);
    const challenge = world.challenge({ idleTimeoutSeconds: 10 });
    const client = paywordClient(100n, 1_000);
    const quiet = paywordClient(100n, 1_000);
    const { sessionId } = await openedSession(world, token, {
      challenge,
      depositMicros: 50_000n,
      client,
    });
    const { sessionId: quietId } = await openedSession(world, token, {
      challenge,
      depositMicros: 50_000n,
      client: quiet,
    });
    assert.equal(await world.availableMicros(walletId), 900_000n);
    expectStatus(await checkpoint(world, client.voucher(sessionId, 2_500n)), 200, 'checkpoint');
    world.advance(10_001);
    await world.env.platform.services.paymentSessions.sweepDue();
    const idle = await world.env.platform.services.paymentSessions.find(sessionId);
    const released = await world.env.platform.services.paymentSessions.find(quietId);
    assert.equal(idle?.state, 'settled');
    assert.equal(idle?.close_reason, 'idle');
    assert.equal(idle?.settled_micros, '2500');
    assert.equal(released?.state, 'settled');
    assert.equal(released?.settled_micros, '0');
    assert.equal(released?.payment_id, null);
    assert.equal(await world.availableMicros(walletId), 1_000_000n - 2_500n);
    assert.equal(await world.postedMicros(walletId), 1_000_000n - 2_500n);
  });

  it('tops up within the chain, with a new grant for the larger deposit', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token, walletId } = await world.user('ed', 1_000_000n);
    const client = paywordClient(100n, 1_000);
    const { sessionId, grant } = await openedSession(world, token, {
      depositMicros: 20_000n,
      client,
    });
    const beyond = client.voucher(sessionId, 30_000n);
    assert.equal((await checkpoint(world, beyond)).status, 422);
    const topped = expectStatus(
      await world.env.call('POST', `/v1/payment-sessions/${sessionId}/top-ups`, {
        auth: token,
        body: { amount: '20000' },
      }),
      200,
      'top-up',
    );
    assert.notEqual(topped.grant, grant);
    const claims = decodeSessionGrantClaims(
      JSON.parse(Buffer.from(String(topped.grant).split('.')[1] ?? '', 'base64url').toString()),
    );
    assert.ok(claims.ok);
    assert.equal(claims.value.claims.deposit, '40000');
    assert.equal(claims.value.claims.sequence, 1);
    expectStatus(await checkpoint(world, beyond), 200, 'voucher within the new deposit');
    // Past the chain's capacity (1,000 units of 100) is refused.
    const tooMuch = await world.env.call('POST', `/v1/payment-sessions/${sessionId}/top-ups`, {
      auth: token,
      body: { amount: '70000' },
    });
    assert.equal(tooMuch.status, 422);
    const closed = expectStatus(await closeSession(world, world.apiKey, sessionId), 200, 'close');
    assert.equal((closed.session as Record<string, unknown>).settledAmount, '30000');
    assert.equal(await world.availableMicros(walletId), 970_000n);
  });

  it('fails an open the wallet cannot hold, and answers a retry under its key the same', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token, walletId } = await world.user('fi', 10_000n);
    const client = paywordClient(100n, 1_000);
    const tooMuch = world.challenge();
    const refused = await openSession(world, token, {
      challenge: tooMuch,
      depositMicros: 50_000n,
      client,
      idempotencyKey: 'open-1',
    });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body?.type, '/v1/problems/insufficient-funds');
    assert.equal(await world.availableMicros(walletId), 10_000n);
    const retried = await openSession(world, token, {
      challenge: tooMuch,
      depositMicros: 50_000n,
      client,
      idempotencyKey: 'open-1',
    });
    assert.equal(retried.status, 409);
    // A good open is answered the same, grant and all, under its key.
    const first = await openSession(world, token, {
      depositMicros: 5_000n,
      client,
      idempotencyKey: 'open-2',
    });
    const second = await openSession(world, token, {
      depositMicros: 5_000n,
      client,
      idempotencyKey: 'open-2',
    });
    assert.equal(first.status, 201);
    assert.equal(second.text, first.text);
    assert.equal(await world.availableMicros(walletId), 5_000n);
  });

  it('counts a deposit against the monthly cap, and gives back what it did not use', async (t) => {
    const caps = {
      categoryMonthlyMicros: { content: 100_000n, goods: 100_000n },
      resellableMonthlyMicros: 50_000n,
      minorMonthlyMicros: 50_000n,
    };
    const world = await sessionWorld(t, dialect, { platformCaps: caps });
    const { token } = await world.user('ha', 1_000_000n);
    const spent = async () => {
      const summary = expectStatus(
        await world.env.call('GET', '/v1/users/me/spending', { auth: token }),
        200,
        'spending',
      );
      const scopes = summary.scopes as Record<string, unknown>[];
      return scopes.find((scope) => scope.scope === 'content')?.spent;
    };
    const client = paywordClient(100n, 2_000);
    const { sessionId } = await openedSession(world, token, { depositMicros: 80_000n, client });
    assert.equal(await spent(), '0.08');
    // A second deposit that would pass the cap is refused before anything is held.
    const refused = await openSession(world, token, {
      depositMicros: 30_000n,
      client: paywordClient(100n, 1_000),
    });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.body?.type, '/v1/problems/policy-blocked');
    expectStatus(
      await closeSession(world, world.apiKey, sessionId, client.voucher(sessionId, 12_000n)),
      200,
      'close',
    );
    // What the session did not use counts no more: the cap has room again.
    assert.equal(await spent(), '0.012');
    await openedSession(world, token, {
      depositMicros: 30_000n,
      client: paywordClient(100n, 1_000),
    });
  });

  it('signs a grant the platform\u2019s JWKS verifies, naming the session\u2019s terms', async (t) => {
    const world = await sessionWorld(t, dialect);
    const { token } = await world.user('gu', 1_000_000n);
    const client = ed25519Client();
    const { sessionId, grant } = await openedSession(world, token, {
      depositMicros: 10_000n,
      client,
    });
    const jwks = expectStatus(await world.env.call('GET', '/v1/keys'), 200, 'keys');
    const verified = await compactVerify(grant, createLocalJWKSet(jwks as never));
    assert.equal(verified.protectedHeader.typ, sessionGrantMediaType);
    const decoded = decodeSessionGrantClaims(
      JSON.parse(new TextDecoder().decode(verified.payload)),
    );
    assert.ok(decoded.ok, JSON.stringify(decoded));
    const { claims, commitment } = decoded.value;
    assert.equal(claims.channelId, sessionId);
    assert.equal(claims.merchantId, world.merchantId);
    assert.equal(claims.deposit, '10000');
    assert.equal(claims.amount, '100');
    assert.equal(commitment.kind, 'ed25519');
    assert.match(claims.payer, /^psn_/);
  });

  it('settles many concurrent sessions on one merchant to exactly their vouchers', async (t) => {
    const world = await sessionWorld(t, dialect);
    const users = await Promise.all(
      ['h1', 'h2', 'h3', 'h4'].map((name) => world.user(name, 2_000_000n)),
    );
    const perUser = 6;
    const runs = users.flatMap((user, userIndex) =>
      Array.from({ length: perUser }, async (_, index) => {
        const client = index % 2 === 0 ? paywordClient(100n, 2_000) : ed25519Client();
        const { sessionId } = await openedSession(world, user.token, {
          depositMicros: 100_000n,
          client,
        });
        const finalMicros = BigInt(100 * (10 + userIndex * perUser + index));
        await Promise.all([
          checkpoint(world, client.voucher(sessionId, (finalMicros / 2n / 100n) * 100n)),
          checkpoint(world, client.voucher(sessionId, finalMicros)),
        ]);
        const closed = expectStatus(
          await closeSession(
            world,
            world.apiKey,
            sessionId,
            client.voucher(sessionId, finalMicros),
          ),
          200,
          'close',
        );
        assert.equal(
          (closed.session as Record<string, unknown>).settledAmount,
          finalMicros.toString(),
        );
        return finalMicros;
      }),
    );
    const settled = await Promise.all(runs);
    const total = settled.reduce((sum, micros) => sum + micros, 0n);
    const shares = settled.reduce((sum, micros) => sum + merchantShare(micros), 0n);
    assert.equal(await world.postedMicros(await world.merchantAccountId()), shares);
    const wallets = await Promise.all(users.map((user) => world.availableMicros(user.walletId)));
    assert.equal(
      wallets.reduce((sum, micros) => sum + micros, 0n),
      8_000_000n - total,
    );
    const list = expectStatus(
      await world.env.call(
        'GET',
        `/v1/merchants/${world.merchantId}/payment-sessions?state=settled&limit=100`,
        {
          auth: world.apiKey,
        },
      ),
      200,
      'list',
    );
    assert.equal((list.items as unknown[]).length, users.length * perUser);
    const verified = await world.env.platform.ledger.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified));
  });
});
