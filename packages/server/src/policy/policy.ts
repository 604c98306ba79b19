/**
 * The policy hook (DESIGN.md section 8): before money moves, a purchase or a top-up is put to the
 * platform's policy, which allows it, asks the user to confirm it (challenge), or blocks it, and
 * says which rule decided and why, in words a person can read. Spending limits, minors, dormancy
 * and risk rules are policies; the platform's default allows everything.
 *
 * A decision other than `allow` stops the request before anything is written but the decision
 * itself (policy-decisions.ts), so that an operator can review it; an `allow` is not written:
 * the payment or top-up it let through is its record.
 */
import type { SpendingCategory } from '../limits/limit-profile.ts';

export type PolicyVerdict = 'allow' | 'challenge' | 'block';

export interface PolicyDecision {
  readonly verdict: PolicyVerdict;
  /** Which rule decided: a stable name (`default`, `monthly-cap.content`, ...). */
  readonly rule: string;
  /** Why, for the operator reviewing it (and for the person asking, without `userMessage`). */
  readonly reason: string;
  /**
   * What the person asking is told instead of `reason`, when the reason holds what would help a
   * fraudster around the rule (its thresholds); the operator's review still sees the reason.
   */
  readonly userMessage?: string | undefined;
}

/**
 * Where a request came from, as far as the platform can tell: the client's address, the device
 * the wallet or SDK names (header `Mite-Device`), and the card token of a top-up. Risk rules count
 * by these; each is absent when unknown.
 */
export interface RequestOrigin {
  readonly ip?: string | undefined;
  readonly deviceId?: string | undefined;
  readonly cardToken?: string | undefined;
}

/** What a policy knows of a purchase: who pays whom, how much, for what. */
export interface PurchaseFacts {
  readonly kind: 'purchase';
  readonly userId: string;
  readonly merchantId: string;
  /**
   * What the purchase is expected to charge: its price, or less under the merchant's fair-price
   * cap (limits/fair-price.ts), as the user's spending with the merchant stood when asked.
   */
  readonly amountMicros: bigint;
  /** The full price, when the merchant's fair-price cap applies (may equal `amountMicros`). */
  readonly listPriceMicros?: bigint | undefined;
  /** The offer bought, or null for a merchant's HTTP 402 challenge. */
  readonly offerId: string | null;
  readonly resource: string;
  /** What the merchant sells, for the monthly cap per category; `content` when not given. */
  readonly spendingCategory?: SpendingCategory | undefined;
  /** Whether the merchant's goods resell easily (gift cards, game currency); false if not given. */
  readonly resellable?: boolean | undefined;
  /** Milliseconds since the epoch. */
  readonly atMs: number;
  readonly origin?: RequestOrigin | undefined;
}

/** What a policy knows of a top-up: who funds their wallet with how much. */
export interface TopUpFacts {
  readonly kind: 'topUp';
  readonly userId: string;
  readonly amountMicros: bigint;
  /** Milliseconds since the epoch. */
  readonly atMs: number;
  readonly origin?: RequestOrigin | undefined;
}

/** What a policy knows of a token withdrawal: who turns how much of their wallet into tokens. */
export interface TokenWithdrawalFacts {
  readonly kind: 'tokenWithdrawal';
  readonly userId: string;
  readonly amountMicros: bigint;
  /** Milliseconds since the epoch. */
  readonly atMs: number;
  readonly origin?: RequestOrigin | undefined;
}

export type PolicySubject = PurchaseFacts | TopUpFacts | TokenWithdrawalFacts;

export interface Policy {
  decide(subject: PolicySubject): PolicyDecision | Promise<PolicyDecision>;
}

const allowed: PolicyDecision = Object.freeze({
  verdict: 'allow',
  rule: 'default',
  reason: 'no policy restricts this',
});

/** The platform's default: every purchase and top-up goes ahead. */
export const allowEverything: Policy = { decide: () => allowed };

const verdictRank: Readonly<Record<PolicyVerdict, number>> = { allow: 0, challenge: 1, block: 2 };

/**
 * Several policies as one: each is asked in turn and the strictest verdict wins (block over
 * challenge over allow), the earlier policy when two are as strict. A block ends the asking, as
 * nothing is stricter. The platform composes its limits, its risk rules and the policy a
 * deployment adds this way (platform.ts).
 */
export function composePolicies(policies: readonly Policy[]): Policy {
  if (policies.length === 1 && policies[0] !== undefined) return policies[0];
  return {
    async decide(subject) {
      let strictest = allowed;
      for (const policy of policies) {
        const decision = await policy.decide(subject);
        if (verdictRank[decision.verdict] > verdictRank[strictest.verdict]) strictest = decision;
        if (strictest.verdict === 'block') break;
      }
      return strictest;
    },
  };
}
