/**
 * The client SDK's `approve` callback end to end, everything real on loopback: a platform whose
 * policy challenges payments, a merchant site behind this package, and `@mite/client` paying.
 * Asked and approved, the client confirms the decision and pays once; refused, or with no
 * callback, the payment fails as `policyChallenged` and nothing moves; a block is never asked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMiteFetch, isMitePaymentError, type PolicyChallenge } from '@mite/client';
import {
  type LivePlatform,
  type LiveShop,
  startLivePlatform,
  startShop,
} from './testing-end-to-end.ts';

type Verdict = 'allow' | 'challenge' | 'block';

let live: LivePlatform;
let shop: LiveShop;
let token: string;
let verdict: Verdict = 'allow';

before(async () => {
  live = await startLivePlatform({
    policy: {
      decide: (subject) => ({
        verdict: subject.kind === 'purchase' ? verdict : 'allow',
        rule: `test.${verdict}`,
        reason: verdict === 'block' ? 'the test blocks this' : 'please confirm this payment',
      }),
    },
  });
  const merchant = await live.createMerchant('Challenged News', 1_000);
  shop = await startShop('node:http', live.url, merchant);
  token = await live.signUp('reader@example.com');
  await live.topUp(token, '10.00');
});

after(async () => {
  await shop?.close();
  await live?.close();
});

function client(approve?: (asked: PolicyChallenge) => boolean) {
  return createMiteFetch({
    wallet: { platformUrl: live.url, token },
    budget: { maxPerPayment: '0.10', maxPerOriginPerDay: '1.00', maxTotal: '2.00' },
    ...(approve === undefined ? {} : { approve }),
  });
}

async function rejectsAs(promise: Promise<unknown>, code: string) {
  await assert.rejects(promise, (error) => {
    assert.ok(isMitePaymentError(error), String(error));
    assert.equal(error.code, code, error.message);
    return true;
  });
}

describe('the client SDK asks `approve` when the platform\u2019s policy challenges', () => {
  it('approved: confirms, pays once, and serves the content', async () => {
    verdict = 'challenge';
    const asked: PolicyChallenge[] = [];
    const before = await live.walletMicros(token);
    const response = await client((challenge) => {
      asked.push(challenge);
      return true;
    })(`${shop.url}/articles/approved`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /^article approved for psn_/);
    assert.equal(before - (await live.walletMicros(token)), 20_000n);
    assert.equal(asked.length, 1);
    const [challenge] = asked;
    assert.deepEqual(
      { ...challenge, decisionId: undefined },
      {
        reason: 'please confirm this payment',
        rule: 'test.challenge',
        amount: '0.02',
        amountMicros: 20_000n,
        merchant: shop.merchant.merchantId,
        merchantName: challenge?.merchantName,
        decisionId: undefined,
      },
    );
    assert.match(String(challenge?.decisionId), /^pdc_/);
    const decision = await live.platform.platformDb.db
      .selectFrom('policy_decisions')
      .select(['confirmed_at', 'consumed_at'])
      .where('id', '=', String(challenge?.decisionId))
      .executeTakeFirstOrThrow();
    assert.ok(decision.confirmed_at !== null && decision.consumed_at !== null);
  });

  it('refused, or without a callback: policyChallenged, nothing paid', async () => {
    verdict = 'challenge';
    const before = await live.walletMicros(token);
    let asked = 0;
    const refusing = client(() => {
      asked += 1;
      return false;
    });
    await rejectsAs(refusing(`${shop.url}/articles/refused`), 'policyChallenged');
    assert.equal(asked, 1);
    await rejectsAs(client()(`${shop.url}/articles/unasked`), 'policyChallenged');
    assert.equal(await live.walletMicros(token), before);
  });

  it('a block is not asked about: policyBlocked', async () => {
    verdict = 'block';
    let asked = 0;
    const approving = client(() => {
      asked += 1;
      return true;
    });
    await rejectsAs(approving(`${shop.url}/articles/blocked`), 'policyBlocked');
    assert.equal(asked, 0);
  });
});
