/**
 * A workload for the benchmark (not a test: no unit test times anything): an engine under the
 * default rule set, with counters for many users already held, and the two calls the payment path
 * makes per purchase, so that `bench/` can time them and report microseconds per decision. Every
 * purchase carries the code redemptions the platform reads for the rules (one user in ten buys
 * codes, two of which were redeemed by others), so that those rules are timed too.
 */
import type { PurchaseFacts } from '../policy/policy.ts';
import {
  createRiskEngine,
  type RedemptionFacts,
  type RiskDecision,
  type RiskEngine,
} from './risk-engine.ts';

export interface RiskBenchWorkload {
  readonly engine: RiskEngine;
  /** Records the i-th purchase attempt, then decides it, as the payment path will. */
  recordAndDecide(i: number): RiskDecision;
  /** Decides the i-th purchase without recording anything. */
  decide(i: number): RiskDecision;
}

/** Users, cards, addresses and devices the workload's purchases come from by default. */
const benchUsersDefault = 10_000;

/** Attempts recorded per user before timing starts, so that windows hold events. */
const warmAttemptsPerUser = 3;

/** One user in this many buys codes (resellable goods), two of which others redeemed. */
const codeBuyerEvery = 10;

/** What the platform supplies of users whose codes no merchant reported: nothing. */
const noRedemptions: RedemptionFacts = { byOthersAtMs: [], otherBuyersLatestAtMs: [] };

export function createRiskBenchWorkload(users = benchUsersDefault): RiskBenchWorkload {
  let nowMs = Date.UTC(2026, 0, 1);
  // A clock that moves by a millisecond a call keeps windows sliding as in real traffic.
  const engine = createRiskEngine({ clock: () => (nowMs += 1) });
  const redeemed: RedemptionFacts = {
    byOthersAtMs: [nowMs - 60_000, nowMs - 120_000],
    otherBuyersLatestAtMs: [],
  };
  const factsOf = (
    i: number,
  ): PurchaseFacts & {
    cardToken: string;
    ip: string;
    deviceId: string;
    redemptions: RedemptionFacts;
  } => {
    const user = i % users;
    const codes = user % codeBuyerEvery === 0;
    return {
      resellable: codes,
      redemptions: codes ? redeemed : noRedemptions,
      kind: 'purchase',
      userId: `usr_${user}`,
      merchantId: 'mer_bench',
      amountMicros: 1_000_000n,
      offerId: null,
      resource: '/article',
      atMs: nowMs,
      cardToken: `card_${user}`,
      ip: `10.0.${(user >> 8) & 255}.${user & 255}`,
      deviceId: `dev_${user}`,
    };
  };
  for (let i = 0; i < users * warmAttemptsPerUser; i += 1) {
    engine.record({ ...factsOf(i), kind: 'paymentAttempt' });
  }
  return {
    engine,
    recordAndDecide(i) {
      const facts = factsOf(i);
      engine.record({ ...facts, kind: 'paymentAttempt' });
      return engine.decide(facts);
    },
    decide: (i) => engine.decide(factsOf(i)),
  };
}
