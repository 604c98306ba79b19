/**
 * What the spending limits (DESIGN.md section 8, issue 15) know of a user besides what they spent:
 * the limits the user set themselves, whether they are a minor and, if so, whether a guardian
 * consented, and whether their account is dormant. The limits policy (limits-policy.ts) reads a
 * profile on every payment, top-up and token withdrawal; the settings service that users change
 * (user-limit-settings.ts) keeps it.
 */

/** The spending categories every payment belongs to, each with its own monthly cap. */
export const spendingCategories = ['content', 'goods'] as const;
export type SpendingCategory = (typeof spendingCategories)[number];

/**
 * What a user may limit: a category's monthly spending, the monthly spending on resellable goods
 * (gift cards, game currency, transit top-ups), any one payment, and the monthly spending with one
 * merchant (`merchant:<merchant id>`). A limit of zero blocks what it limits.
 */
export type LimitScope =
  SpendingCategory | 'resellable' | 'perPayment' | 'topUpMonthly' | `merchant:${string}`;

export interface LimitProfile {
  /** The user's own limits, in micro-units; a scope without one is capped by the platform only. */
  readonly userLimits: ReadonlyMap<LimitScope, bigint>;
  /** Under the age of majority by the birth date the user declared, at the time asked about. */
  readonly minor: boolean;
  /** For a minor: whether a guardian's consent is recorded and not withdrawn. */
  readonly guardianConsented: boolean;
  /** Unused for a year and not re-enabled since: every payment is refused until re-enabled. */
  readonly dormant: boolean;
}

export interface LimitProfiles {
  /** The user's profile at `atMs` (a minor turns adult on their birthday in the operator's zone). */
  profileOf(userId: string, atMs: number): Promise<LimitProfile>;
}

/** A user who set nothing and declared nothing: adult, active, capped by the platform only. */
export const unrestrictedProfile: LimitProfile = Object.freeze({
  userLimits: new Map<LimitScope, bigint>(),
  minor: false,
  guardianConsented: false,
  dormant: false,
});
