/**
 * Puts a purchase, top-up or token withdrawal to the policy and records what stopped one (table
 * `policy_decisions`, migration 0015): a `challenge` or `block` is written, durably, before the
 * refusal is answered, so that the operator's review sees every request the policy stopped.
 *
 * A challenged request retried with the user's confirmation of that challenge goes ahead once
 * (policy-confirmations.ts); a block is never overridden.
 */
import { uuidv7 } from 'uuidv7';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { fail, type Failure } from '../result.ts';
import { allowEverything, type Policy, type PolicyDecision, type PolicySubject } from './policy.ts';
import type { PolicyConfirmations, PresentedConfirmation } from './policy-confirmations.ts';

/** How a stopped request is answered: its own problem type for each verdict. */
export type PolicyRefusal = 'policyBlocked' | 'policyChallenged';

/** The longest reason kept: a policy's text, bounded as every stored field is. */
export const policyReasonLengthMax = 500;

export interface PolicyGateDeps {
  readonly policy: Policy;
  readonly batcher: TransactionBatcher;
  readonly clock: () => number;
  readonly confirmations: PolicyConfirmations;
}

export interface PolicyGate {
  /**
   * The policy's decision on the request. A challenge the request's confirmation covers is
   * allowed, the confirmation used up in the same step (once, however many retries race).
   */
  decide(subject: PolicySubject, presented?: PresentedConfirmation): Promise<PolicyDecision>;
  /** Records a decision that stops the request, and the refusal to answer it with. */
  refuse(subject: PolicySubject, decision: StoppingDecision): Promise<Failure<PolicyRefusal>>;
}

/** A decision that stops a request. */
export type StoppingDecision = PolicyDecision & { readonly verdict: 'challenge' | 'block' };

/** Whether a decision stops the request it was asked about. */
export function stops(decision: PolicyDecision): decision is StoppingDecision {
  return decision.verdict !== 'allow';
}

export function createPolicyGate(deps: PolicyGateDeps): PolicyGate {
  const { policy, batcher, clock, confirmations } = deps;

  async function record(subject: PolicySubject, decision: StoppingDecision): Promise<string> {
    const id = `pdc_${uuidv7()}`;
    await batcher.run((tx) =>
      tx
        .insertInto('policy_decisions')
        .values({
          id,
          subject: subject.kind,
          user_id: subject.userId,
          merchant_id: subject.kind === 'purchase' ? subject.merchantId : null,
          amount_micros: subject.amountMicros.toString(),
          verdict: decision.verdict,
          rule: decision.rule.slice(0, policyReasonLengthMax),
          reason: decision.reason.slice(0, policyReasonLengthMax),
          created_at: BigInt(clock()),
        })
        .execute(),
    );
    return id;
  }

  async function decide(
    subject: PolicySubject,
    presented: PresentedConfirmation | undefined,
  ): Promise<PolicyDecision> {
    const decision = await policy.decide(subject);
    if (decision.verdict !== 'challenge' || presented === undefined) return decision;
    if (!(await confirmations.consume(subject, presented))) return decision;
    return {
      verdict: 'allow',
      rule: decision.rule,
      reason: `the user confirmed it (decision ${presented.decisionId})`,
    };
  }

  return {
    decide,
    async refuse(subject, decision) {
      const decisionId = await record(subject, decision);
      const extra = { rule: decision.rule, decisionId };
      const told = decision.userMessage ?? decision.reason;
      return decision.verdict === 'block'
        ? fail('policyBlocked', told, extra)
        : fail('policyChallenged', told, extra);
    },
  };
}

/** The gate of the default policy, which allows everything (and so records nothing). */
export const openPolicyGate: PolicyGate = {
  decide: async (subject) => allowEverything.decide(subject),
  refuse: () => {
    throw new Error('bug: the default policy stopped a request');
  },
};
