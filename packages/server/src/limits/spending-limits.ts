/**
 * The spending limits (issue 15 item 1, DESIGN.md section 8), as a policy on the policy hook and as
 * the plan a payment's spending is counted by. Before money moves, a payment, top-up or token
 * withdrawal is refused when the account is dormant, when a minor has no guardian's consent, when
 * it is above the user's limit per payment, or when it would take a month's spending past a cap:
 * the platform's cap for the merchant's category (a minor's lower cap), the lower cap on resellable
 * goods, and the user's own limits per category, on resellable goods and per merchant.
 *
 * The policy reads the month's spending to explain a refusal; the caps themselves are held by the
 * conditional writes of monthly-spending.ts, in the transaction that records the payment, so that
 * purchases racing to the cap cannot pass it together (the one that finds the cap reached is then
 * refused with the same decision, `refusalFor`).
 */
import { formatAmount } from '@mite/protocol';
import { sql } from 'kysely';
import type { PlatformDb } from '../db/platform-db.ts';
import type {
  Policy,
  PolicyDecision,
  PolicySubject,
  PurchaseFacts,
  TokenWithdrawalFacts,
  TopUpFacts,
} from '../policy/policy.ts';
import type { StoppingDecision } from '../policy/policy-decisions.ts';
import type { LimitProfile, LimitProfiles, LimitScope, SpendingCategory } from './limit-profile.ts';
import { type SpendingCharge, type SpendingPlan, spendingOf } from './monthly-spending.ts';
import { monthKeyAt, monthStartMsAt } from './operator-time-zone.ts';
import type { PlatformCaps } from './platform-caps.ts';

export interface SpendingLimitsDeps {
  readonly platform: PlatformDb;
  readonly profiles: LimitProfiles;
  readonly caps: PlatformCaps;
  /** The operator's time zone, in which months roll over. */
  readonly timeZone: string;
}

/** A payment whose amount counts against monthly caps: a purchase or a token withdrawal. */
export type SpendingSubject = PurchaseFacts | TokenWithdrawalFacts;

export interface SpendingLimits {
  readonly policy: Policy;
  /** The month and scopes the payment counts under, with the cap in force on each. */
  planFor(subject: SpendingSubject): Promise<SpendingPlan>;
  /** The decision for a payment a cap refused when its spending was added (a race lost). */
  refusalFor(subject: SpendingSubject, refused: SpendingCharge): StoppingDecision;
  /** The month (`YYYY-MM`, the operator's time zone) an instant falls in. */
  monthOf(atMs: number): string;
  /** What the user spent this month in each scope, against the cap in force on it. */
  summaryFor(userId: string, atMs: number): Promise<SpendingSummary>;
}

/** One scope of the month's spending, for the user's wallet. */
export interface ScopeSpending {
  readonly scope: string;
  readonly spentMicros: bigint;
  /** The cap in force: the lower of the platform's and the user's own. */
  readonly capMicros: bigint;
  /** The user's own limit, when they set one. */
  readonly ownLimitMicros: bigint | null;
}

export interface SpendingSummary {
  /** `YYYY-MM` in the operator's time zone. */
  readonly month: string;
  readonly timeZone: string;
  readonly scopes: readonly ScopeSpending[];
}

/**
 * Token withdrawals count under `content`: tokens are unlinkable, so what they later buy is not
 * known, and they are spent at paywalls. (Resellable goods' merchants do not take tokens, so tokens
 * are no way around the resellable cap.)
 */
const tokenWithdrawalCategory: SpendingCategory = 'content';

const allowed: PolicyDecision = Object.freeze({
  verdict: 'allow',
  rule: 'limits',
  reason: 'within every spending limit',
});

function block(rule: string, reason: string, userMessage: string): StoppingDecision {
  return { verdict: 'block', rule, reason, userMessage };
}

/** What a scope is called in a refusal. */
function scopeWords(scope: string): string {
  if (scope === 'resellable') return 'resellable goods (gift cards, game currency)';
  if (scope.startsWith('merchant:')) return 'this merchant';
  return scope;
}

function categoryOf(subject: SpendingSubject): SpendingCategory {
  return subject.kind === 'purchase'
    ? (subject.spendingCategory ?? 'content')
    : tokenWithdrawalCategory;
}

function min(a: bigint, b: bigint | undefined): bigint {
  return b !== undefined && b < a ? b : a;
}

/** The caps a payment counts under, for a user with this profile. */
export function chargesFor(
  subject: SpendingSubject,
  profile: LimitProfile,
  caps: PlatformCaps,
): SpendingCharge[] {
  const own = (scope: LimitScope) => profile.userLimits.get(scope);
  const category = categoryOf(subject);
  const platformCategoryCap = profile.minor
    ? min(caps.categoryMonthlyMicros[category], caps.minorMonthlyMicros)
    : caps.categoryMonthlyMicros[category];
  const charges: SpendingCharge[] = [
    { scope: category, capMicros: min(platformCategoryCap, own(category)) },
  ];
  if (subject.kind === 'purchase' && subject.resellable === true) {
    const platformCap = profile.minor
      ? min(caps.resellableMonthlyMicros, caps.minorMonthlyMicros)
      : caps.resellableMonthlyMicros;
    charges.push({ scope: 'resellable', capMicros: min(platformCap, own('resellable')) });
  }
  if (subject.kind === 'purchase') {
    const merchantLimit = own(`merchant:${subject.merchantId}`);
    if (merchantLimit !== undefined) {
      charges.push({ scope: `merchant:${subject.merchantId}`, capMicros: merchantLimit });
    }
  }
  return charges;
}

/** Dormancy and a minor's consent refuse everything, whatever the amount. */
function standingRefusal(profile: LimitProfile): StoppingDecision | undefined {
  if (profile.dormant) {
    return block(
      'limit.dormant',
      'the account has not been used for a year and is dormant until the user re-enables it',
      'This account has not been used for a year. Re-enable it in your wallet to pay again.',
    );
  }
  if (profile.minor && !profile.guardianConsented) {
    return block(
      'limit.minor-consent',
      'the user is a minor without a guardian\u2019s recorded consent',
      'Payments by a minor need a guardian\u2019s consent. Ask your guardian in your wallet.',
    );
  }
  return undefined;
}

function perPaymentRefusal(
  subject: PolicySubject,
  profile: LimitProfile,
): StoppingDecision | undefined {
  const limit = profile.userLimits.get('perPayment');
  if (limit === undefined || subject.amountMicros <= limit) return undefined;
  const words = `${formatAmount(subject.amountMicros)} is above the user's limit per payment of ${formatAmount(limit)}`;
  return block(
    'limit.per-payment',
    words,
    `This payment is above your own limit per payment of ${formatAmount(limit)}.`,
  );
}

export function createSpendingLimits(deps: SpendingLimitsDeps): SpendingLimits {
  const { platform, profiles, caps, timeZone } = deps;
  const db = platform.db;

  function refusalFor(subject: SpendingSubject, refused: SpendingCharge): StoppingDecision {
    const cap = refused.capMicros ?? 0n;
    const what = scopeWords(refused.scope);
    const rule = refused.scope.startsWith('merchant:')
      ? 'limit.monthly.merchant'
      : `limit.monthly.${refused.scope}`;
    const reason = `${formatAmount(subject.amountMicros)} would take this month's spending on ${what} past its cap of ${formatAmount(cap)}`;
    const told =
      cap === 0n
        ? `Payments for ${what} are blocked on this account.`
        : `This payment would take your spending on ${what} this month past its limit of ${formatAmount(cap)}.`;
    return block(rule, reason, told);
  }

  async function planWith(subject: SpendingSubject, profile: LimitProfile): Promise<SpendingPlan> {
    return {
      month: monthKeyAt(subject.atMs, timeZone),
      charges: chargesFor(subject, profile, caps),
    };
  }

  async function spendingDecision(subject: SpendingSubject, profile: LimitProfile) {
    const plan = await planWith(subject, profile);
    const spent = await spendingOf(db, subject.userId, plan.month);
    for (const charge of plan.charges) {
      if (charge.capMicros === null) continue;
      if ((spent.get(charge.scope) ?? 0n) + subject.amountMicros > charge.capMicros) {
        return refusalFor(subject, charge);
      }
    }
    return allowed;
  }

  /** A user's own monthly limit on top-ups, against the month's top-ups not failed. */
  async function topUpDecision(subject: TopUpFacts, profile: LimitProfile) {
    const limit = profile.userLimits.get('topUpMonthly');
    if (limit === undefined) return allowed;
    const sinceMs = monthStartMsAt(subject.atMs, timeZone);
    // Summed by the database: a month of top-ups is one row to read, however many there were.
    const row = await db
      .selectFrom('topups')
      .select(sql<string | bigint | null>`sum(cast(amount_micros as bigint))`.as('total'))
      .where('user_id', '=', subject.userId)
      .where('created_at', '>=', BigInt(sinceMs))
      .where('state', '!=', 'failed')
      .executeTakeFirst();
    const toppedUp = BigInt(row?.total ?? 0n);
    if (toppedUp + subject.amountMicros <= limit) return allowed;
    return block(
      'limit.monthly.top-ups',
      `${formatAmount(subject.amountMicros)} would take this month's top-ups past the user's limit of ${formatAmount(limit)}`,
      `This top-up would take this month's top-ups past your own limit of ${formatAmount(limit)}.`,
    );
  }

  const policy: Policy = {
    async decide(subject) {
      const profile = await profiles.profileOf(subject.userId, subject.atMs);
      const standing = standingRefusal(profile);
      if (standing !== undefined) return standing;
      // A top-up pays nothing: it has its own monthly limit, and no limit per payment.
      if (subject.kind === 'topUp') return topUpDecision(subject, profile);
      return perPaymentRefusal(subject, profile) ?? spendingDecision(subject, profile);
    },
  };

  /** The platform's cap on a scope (a minor's where lower); null for a merchant's scope. */
  function platformCapOf(scope: string, profile: LimitProfile): bigint | null {
    const base =
      scope === 'content' || scope === 'goods'
        ? caps.categoryMonthlyMicros[scope]
        : scope === 'resellable'
          ? caps.resellableMonthlyMicros
          : null;
    if (base === null) return null;
    return profile.minor ? min(base, caps.minorMonthlyMicros) : base;
  }

  async function summaryFor(userId: string, atMs: number): Promise<SpendingSummary> {
    const profile = await profiles.profileOf(userId, atMs);
    const month = monthKeyAt(atMs, timeZone);
    const spent = await spendingOf(db, userId, month);
    const merchantScopes = [...profile.userLimits.keys()].filter((scope) =>
      scope.startsWith('merchant:'),
    );
    const scopes = ['content', 'goods', 'resellable', ...merchantScopes].map((scope) => {
      const own = profile.userLimits.get(scope as LimitScope) ?? null;
      const platformCap = platformCapOf(scope, profile);
      const capMicros =
        platformCap === null ? (own ?? 0n) : own === null ? platformCap : min(platformCap, own);
      return { scope, spentMicros: spent.get(scope) ?? 0n, capMicros, ownLimitMicros: own };
    });
    return { month, timeZone, scopes };
  }

  return {
    policy,
    summaryFor,
    monthOf: (atMs) => monthKeyAt(atMs, timeZone),
    async planFor(subject) {
      return planWith(subject, await profiles.profileOf(subject.userId, subject.atMs));
    },
    refusalFor,
  };
}
