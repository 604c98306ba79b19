/**
 * Risk rules as data (DESIGN.md section 8, issue 15): a versioned rule set, written as JSON, that
 * the risk engine (risk-engine.ts) evaluates on the payment path. A rule set is parsed whole by
 * `parseRuleSet`: one invalid rule refuses the whole set, so a set is never half-applied.
 *
 * Every rule has a stable name (what decisions and the operator's review cite), an operator-facing
 * reason template whose `{placeholders}` the engine fills in, and a user-facing message. The user's
 * message may hold no digits and no placeholders: telling a fraudster "more than 5 attempts" tells
 * them to make 5.
 *
 * Amounts are micro-units written as decimal strings (JSON has no bigint, and a float is never
 * money); shares are basis points (1/10,000), so no rule needs a float either.
 */
import { z } from 'zod';
import { fail, ok, type Result } from '../result.ts';

/** The most events of one kind kept per subject key; a threshold above it could never be reached. */
export const riskEventsPerKeyMax = 64;

/** The longest window a rule may count over: a day, so that counters stay small and in memory. */
export const riskWindowSecondsMax = 86_400;

/**
 * The longest window a code-redemption rule may count over: 90 days. Codes are redeemed days or
 * weeks after they are bought, and these counts are read from the merchants' reports in the
 * database (risk/redemption-reports.ts), not kept in memory, so the window may be long.
 */
export const redemptionWindowSecondsMax = 90 * 86_400;

/** The longest block a rule may impose: a week. */
export const riskBlockSecondsMax = 7 * 86_400;

/** The most rules in one set, so that a decision stays a few microseconds. */
export const riskRulesMax = 100;

/** The longest reason template or user message. */
export const riskTextLengthMax = 300;

/** Who a velocity or card-testing counter is kept for. */
export const riskSubjectKinds = ['user', 'cardToken', 'ip', 'device'] as const;
export type RiskSubjectKind = (typeof riskSubjectKinds)[number];

/** What happened, as velocity rules count it. */
export const riskCountedEvents = [
  'paymentAttempt',
  'topUpAttempt',
  'topUpDeclined',
  'tokenWithdrawal',
] as const;
export type RiskCountedEvent = (typeof riskCountedEvents)[number];

/** The requests a rule can stop: the kinds of PolicySubject (policy.ts). */
export const riskRequestKinds = ['purchase', 'topUp', 'tokenWithdrawal'] as const;
export type RiskRequestKind = (typeof riskRequestKinds)[number];

/**
 * Whom a code-redemption rule counts for: the `buyer` of codes other accounts redeemed (another
 * Mite user, or an account outside Mite), or the `redeemer` of codes that other buyers bought.
 */
export const redemptionSubjects = ['buyer', 'redeemer'] as const;
export type RedemptionSubject = (typeof redemptionSubjects)[number];

/** The identities self-dealing compares between a payer and a merchant's owner. */
export const selfDealingMatches = ['userId', 'cardToken', 'device'] as const;

/** The placeholders each kind of rule's reason template may use. */
export const reasonPlaceholders = {
  velocity: ['count', 'atLeast', 'windowSeconds', 'subject', 'event', 'blockSeconds'],
  cardTesting: ['count', 'atLeast', 'windowSeconds', 'subject', 'belowMicros', 'blockSeconds'],
  selfDealing: ['shared'],
  cashOut: ['spentMicros', 'capMicros', 'aboveBasisPoints'],
  codeRedemption: ['count', 'atLeast', 'windowSeconds', 'windowDays'],
} as const;

const ruleName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/, 'a rule name is lower-case words joined by - and .')
  .max(100);

const userMessage = z
  .string()
  .min(1)
  .max(riskTextLengthMax)
  .refine((text) => !/[0-9{}]/.test(text), {
    message: 'a user message may hold no digits or placeholders: it must not reveal thresholds',
  });

const windowSeconds = z.number().int().min(1).max(riskWindowSecondsMax);
const blockSeconds = z.number().int().min(1).max(riskBlockSecondsMax);
const count = z.number().int().min(1).max(riskEventsPerKeyMax);
const stoppingVerdict = z.enum(['challenge', 'block']);

/** Micro-units as a decimal string of at most 13 digits (a price is at most 10^12 units). */
const micros = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,12})$/, 'an amount is a whole number of micro-units, as a string')
  .transform((text) => BigInt(text));

function reasonFor(kind: keyof typeof reasonPlaceholders) {
  const allowed: readonly string[] = reasonPlaceholders[kind];
  return z
    .string()
    .min(1)
    .max(riskTextLengthMax)
    .superRefine((text, ctx) => {
      for (const match of text.matchAll(/\{([^}]*)\}/g)) {
        const name = match[1] ?? '';
        if (!allowed.includes(name)) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown placeholder {${name}} (this kind allows ${allowed.join(', ')})`,
          });
        }
      }
    });
}

const appliesTo = z.array(z.enum(riskRequestKinds)).min(1).optional();

/** One or two thresholds, a challenge before a block (checked in `ruleProblems`). */
const countThresholds = z
  .array(z.strictObject({ atLeast: count, verdict: stoppingVerdict }))
  .min(1)
  .max(2);

const velocityRule = z.strictObject({
  kind: z.literal('velocity'),
  name: ruleName,
  subject: z.enum(riskSubjectKinds),
  events: z.array(z.enum(riskCountedEvents)).min(1),
  windowSeconds,
  /** Ascending by `atLeast`; a later threshold is at least as strict as an earlier one. */
  thresholds: countThresholds,
  /** Once a `block` threshold is reached, the subject stays blocked this long. */
  blockSeconds: blockSeconds.optional(),
  appliesTo,
  reason: reasonFor('velocity'),
  userMessage,
});

const cardTestingRule = z.strictObject({
  kind: z.literal('cardTesting'),
  name: ruleName,
  subject: z.enum(riskSubjectKinds).default('cardToken'),
  windowSeconds,
  /** Fires on this many top-up attempts below the amount within the window. */
  smallTopUps: z.strictObject({ atLeast: count, belowMicros: micros }).optional(),
  /** Fires on this many declined top-ups within the window. */
  declines: z.strictObject({ atLeast: count }).optional(),
  verdict: stoppingVerdict,
  blockSeconds: blockSeconds.optional(),
  appliesTo,
  reason: reasonFor('cardTesting'),
  userMessage,
});

const selfDealingRule = z.strictObject({
  kind: z.literal('selfDealing'),
  name: ruleName,
  /** Which of the payer's identities, shared with the merchant's owner, make it self-dealing. */
  match: z.array(z.enum(selfDealingMatches)).min(1),
  verdict: stoppingVerdict,
  reason: reasonFor('selfDealing'),
  userMessage,
});

const cashOutRule = z.strictObject({
  kind: z.literal('cashOut'),
  name: ruleName,
  /** The monthly cap on resellable goods this rule measures against. */
  monthlyCapMicros: micros,
  /** Fires when the month's resellable spending, this purchase included, is above this share. */
  aboveBasisPoints: z.number().int().min(0).max(10_000),
  verdict: stoppingVerdict,
  reason: reasonFor('cashOut'),
  userMessage,
});

/**
 * Cash-out through codes (gift cards, game currency) that merchants report redeemed
 * (`POST /v1/merchants/{id}/redemptions`). For the `buyer`: how many codes the user bought were
 * redeemed by another account in the window; it stops the buyer's purchases of resellable goods
 * only (buying codes is what it is about). For the `redeemer`: how many distinct other buyers'
 * codes the user redeemed in the window, a broker cashing out mules' purchases; it stops the
 * requests `appliesTo` names (purchases and top-ups unless it says).
 */
const codeRedemptionRule = z.strictObject({
  kind: z.literal('codeRedemption'),
  name: ruleName,
  subject: z.enum(redemptionSubjects),
  windowSeconds: z.number().int().min(1).max(redemptionWindowSecondsMax),
  thresholds: countThresholds,
  appliesTo,
  reason: reasonFor('codeRedemption'),
  userMessage,
});

const rule = z.discriminatedUnion('kind', [
  velocityRule,
  cardTestingRule,
  selfDealingRule,
  cashOutRule,
  codeRedemptionRule,
]);

export const ruleSetSchema = z
  .strictObject({
    version: z.string().min(1).max(100),
    rules: z.array(rule).max(riskRulesMax),
  })
  .superRefine((set, ctx) => {
    const seen = new Set<string>();
    set.rules.forEach((r, index) => {
      if (seen.has(r.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', index, 'name'],
          message: 'a duplicate name',
        });
      }
      seen.add(r.name);
      for (const problem of ruleProblems(r)) {
        ctx.addIssue({ code: 'custom', path: ['rules', index], message: problem });
      }
    });
  });

/** Whether two thresholds go down, or block before they challenge. */
function thresholdsGoDown(thresholds: z.infer<typeof countThresholds>): boolean {
  const [first, second] = thresholds;
  return first !== undefined && second !== undefined
    ? second.atLeast <= first.atLeast || first.verdict === 'block'
    : false;
}

const thresholdsGoUp = 'thresholds go up: a challenge first, then a block at a higher count';

/** Checks across a rule's fields, which the field schemas cannot see. */
function ruleProblems(r: z.infer<typeof rule>): string[] {
  if (r.kind === 'codeRedemption') {
    if (thresholdsGoDown(r.thresholds)) return [thresholdsGoUp];
    if (r.subject === 'buyer' && r.appliesTo !== undefined) {
      return ["a buyer's rule stops purchases of resellable goods only: it takes no appliesTo"];
    }
  }
  if (r.kind === 'velocity') {
    if (thresholdsGoDown(r.thresholds)) return [thresholdsGoUp];
    if (r.blockSeconds !== undefined && !r.thresholds.some((t) => t.verdict === 'block')) {
      return ['blockSeconds needs a block threshold'];
    }
  }
  if (r.kind === 'cardTesting') {
    if (!r.smallTopUps && !r.declines) return ['card testing needs smallTopUps or declines'];
    if (r.blockSeconds !== undefined && r.verdict !== 'block') {
      return ['blockSeconds needs the verdict block'];
    }
  }
  return [];
}

export type RuleSet = z.output<typeof ruleSetSchema>;
export type RiskRule = RuleSet['rules'][number];
export type VelocityRule = z.output<typeof velocityRule>;
export type CardTestingRule = z.output<typeof cardTestingRule>;
export type SelfDealingRule = z.output<typeof selfDealingRule>;
export type CashOutRule = z.output<typeof cashOutRule>;
export type CodeRedemptionRule = z.output<typeof codeRedemptionRule>;
/** A rule set as written, in JSON. */
export type RuleSetInput = z.input<typeof ruleSetSchema>;

/** Reads a rule set, whole or not at all; the failure's detail lists every problem found. */
export function parseRuleSet(input: unknown): Result<RuleSet, 'invalidRuleSet'> {
  const parsed = ruleSetSchema.safeParse(input);
  if (!parsed.success) return fail('invalidRuleSet', z.prettifyError(parsed.error));
  return ok(deepFreeze(parsed.data));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * The default rule set, with the issue's example numbers: more than 5 payment attempts in 10
 * minutes challenge and more than 10 block, per user, card, IP and device; 5 declined top-ups in
 * an hour block top-ups for an hour; bursts of tiny top-ups on one card; a merchant paid by its
 * owner's account, card or device; spending above 90% of the resellable goods cap; and codes
 * redeemed by other accounts: a buyer's 3 in 30 days challenged and 5 blocked, and a redeemer of
 * codes from 4 other buyers in 30 days blocked as a broker.
 */
const subjectNames: Record<RiskSubjectKind, string> = {
  user: 'user',
  cardToken: 'card-token',
  ip: 'ip',
  device: 'device',
};

export const defaultRuleSetInput: RuleSetInput = {
  version: 'default-1',
  rules: [
    ...riskSubjectKinds.map((subject) => ({
      kind: 'velocity' as const,
      name: `velocity.payments.${subjectNames[subject]}`,
      subject,
      events: ['paymentAttempt' as const],
      windowSeconds: 600,
      thresholds: [
        { atLeast: 6, verdict: 'challenge' as const },
        { atLeast: 11, verdict: 'block' as const },
      ],
      reason: '{count} payment attempts by this {subject} in {windowSeconds} s (limit {atLeast})',
      userMessage: 'There have been many payments from this account in a short time.',
    })),
    {
      kind: 'velocity',
      name: 'velocity.top-up-declines.user',
      subject: 'user',
      events: ['topUpDeclined'],
      windowSeconds: 3600,
      thresholds: [{ atLeast: 5, verdict: 'block' }],
      blockSeconds: 3600,
      appliesTo: ['topUp'],
      reason:
        '{count} declined top-ups by this {subject} in {windowSeconds} s: blocked for {blockSeconds} s',
      userMessage: 'Top-ups are paused for a while after several declined cards.',
    },
    {
      kind: 'cardTesting',
      name: 'card-testing.card',
      subject: 'cardToken',
      windowSeconds: 3600,
      smallTopUps: { atLeast: 5, belowMicros: '1000000' },
      declines: { atLeast: 3 },
      verdict: 'block',
      blockSeconds: 86_400,
      reason: '{count} top-ups on this {subject} in {windowSeconds} s looks like card testing',
      userMessage: 'This card cannot be used to add money right now.',
    },
    {
      kind: 'selfDealing',
      name: 'self-dealing',
      match: ['userId', 'cardToken', 'device'],
      verdict: 'block',
      reason: "the payer shares the merchant owner's {shared}",
      userMessage: 'This payment cannot be made from this account.',
    },
    {
      kind: 'cashOut',
      name: 'cash-out.resellable',
      // The platform's default monthly cap on resellable goods (limits/platform-caps.ts): the
      // last tenth before it is challenged; the cap itself then refuses.
      monthlyCapMicros: '100000000',
      aboveBasisPoints: 9000,
      verdict: 'challenge',
      reason:
        'resellable goods this month {spentMicros} of a cap of {capMicros} (above {aboveBasisPoints} bp)',
      userMessage: 'Please confirm this purchase.',
    },
    {
      kind: 'codeRedemption',
      name: 'cash-out.codes-redeemed-by-others',
      subject: 'buyer',
      // A gift bought for a friend is redeemed by another account too: a few are let through.
      windowSeconds: 30 * 86_400,
      thresholds: [
        { atLeast: 3, verdict: 'challenge' },
        { atLeast: 5, verdict: 'block' },
      ],
      reason:
        '{count} codes this user bought were redeemed by other accounts in {windowDays} days (limit {atLeast})',
      userMessage: 'This purchase needs a check before it can go ahead.',
    },
    {
      kind: 'codeRedemption',
      name: 'cash-out.code-broker',
      subject: 'redeemer',
      windowSeconds: 30 * 86_400,
      thresholds: [{ atLeast: 4, verdict: 'block' }],
      reason:
        'this user redeemed codes bought by {count} other buyers in {windowDays} days (limit {atLeast}): a cash-out broker',
      userMessage: 'Payments and top-ups from this account are paused. Please contact support.',
    },
  ],
};

function parseDefault(): RuleSet {
  const parsed = parseRuleSet(defaultRuleSetInput);
  if (!parsed.ok) throw new Error(`bug: the default rule set is invalid: ${parsed.detail ?? ''}`);
  return parsed.value;
}

export const defaultRuleSet: RuleSet = parseDefault();

/**
 * Rules that stop nothing, for the platform's `riskRules` where one client pays many times a
 * minute on purpose (a load test, a race under test), which the default rules rightly challenge.
 */
export const noRiskRules: RuleSetInput = Object.freeze({ version: 'no-risk-rules', rules: [] });
