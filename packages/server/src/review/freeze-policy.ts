/**
 * The platform's policy of frozen accounts (review/): a user whose account an operator froze
 * after confirming a fraud can neither pay, top up nor withdraw tokens, and no purchase pays a
 * frozen merchant. It is the first of `platformPolicies` (platform.ts), and it blocks, so the
 * refusal is recorded as any other block, under the rule `account-frozen`.
 */
import type { Policy, PolicyDecision } from '../policy/policy.ts';
import type { AccountFreezes } from './account-freezes.ts';

export const accountFrozenRule = 'account-frozen';

/** What the person asking is told: no rule or fraud finding, only where to turn. */
export const accountFrozenUserMessage =
  'This account is frozen. Please contact support to have it reviewed.';

const allowed: PolicyDecision = Object.freeze({
  verdict: 'allow',
  rule: accountFrozenRule,
  reason: 'no account involved is frozen',
});

function blocked(reason: string): PolicyDecision {
  return {
    verdict: 'block',
    rule: accountFrozenRule,
    reason,
    userMessage: accountFrozenUserMessage,
  };
}

export function createFreezePolicy(deps: { readonly freezes: AccountFreezes }): Policy {
  return {
    async decide(subject) {
      const merchantId = subject.kind === 'purchase' ? subject.merchantId : undefined;
      const frozen = await deps.freezes.frozen(subject.userId, merchantId);
      if (frozen.user) return blocked(`the user ${subject.userId} is frozen`);
      if (frozen.merchant && merchantId !== undefined) {
        return blocked(`the merchant ${merchantId} is frozen`);
      }
      return allowed;
    },
  };
}
