/** The review routes' answers (`/v1/operator/policy-decisions`, `/v1/operator/account-freezes`). */

export type ReviewState = 'open' | 'released' | 'fraud';

export interface PolicyDecision {
  readonly decisionId: string;
  readonly subject: 'purchase' | 'topUp' | 'tokenWithdrawal';
  readonly userId: string;
  readonly merchantId: string | null;
  readonly amount: string;
  readonly verdict: 'challenge' | 'block';
  readonly rule: string;
  readonly reason: string;
  readonly createdAt: string;
  readonly reviewState: ReviewState;
  readonly reviewedBy: string | null;
  readonly reviewedAt: string | null;
  readonly reviewNote: string | null;
}

export interface AccountFreeze {
  readonly freezeId: string;
  readonly account: { readonly kind: 'user' | 'merchant'; readonly id: string };
  readonly decisionId: string;
  readonly frozenBy: string;
  readonly frozenAt: string;
  readonly liftedBy: string | null;
  readonly liftedAt: string | null;
}

/** What each subject is called on the pages. */
export const subjectNames: Readonly<Record<PolicyDecision['subject'], string>> = {
  purchase: 'Purchase',
  topUp: 'Top-up',
  tokenWithdrawal: 'Token withdrawal',
};

/** The longest note the platform keeps with a review (review/policy-review.ts). */
export const reviewNoteLengthMax = 500;
