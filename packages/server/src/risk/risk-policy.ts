/**
 * The risk rules as one of the platform's policies (platform.ts `platformPolicies`): each
 * purchase, top-up and token withdrawal is recorded as an attempt, then decided by the risk
 * engine (risk-engine.ts), in that order, so that "more than 5 attempts" is the sixth attempt's
 * own decision. A top-up the processor declines is recorded when it is declined (the top-up
 * service's `onDeclined`).
 *
 * Self-dealing compares the payer with the merchant's owner: its members' user ids (table
 * `merchant_members`), and the card tokens and devices those users were seen with. What was seen
 * is kept in memory on each node (`SeenIdentities`, bounded, fed by the events this node
 * recorded), so a member seen only by another node, or before a restart, is matched by user id
 * alone until seen here.
 *
 * The cash-out rule needs whether a purchase is of resellable goods (the merchant's class, on the
 * purchase's facts) and the user's resellable spending this month, which the platform supplies
 * from its monthly spending (limits/monthly-spending.ts) through `resellableSpend`.
 *
 * The code-redemption rules need what merchants reported of the codes the user bought and
 * redeemed (redemption-reports.ts), read through `redemptions` only when a rule in force asks for
 * them for this request (the engine's `redemptionsNeeded`): the buyer's on a purchase of
 * resellable goods, the redeemer's on the requests a broker rule stops.
 */
import { LRUCache } from 'lru-cache';
import type { PlatformDb } from '../db/platform-db.ts';
import type { TopUpDecline } from '../funding/topup-service.ts';
import type { Policy, PolicyDecision, PolicySubject, PurchaseFacts } from '../policy/policy.ts';
import type {
  MerchantOwnerIdentity,
  RedemptionFacts,
  RedemptionsNeeded,
  RiskContext,
  RiskEngine,
  RiskEvent,
  RiskSubjects,
} from './risk-engine.ts';
import type { RiskCountedEvent } from './rule-set.ts';

/** Users whose card tokens and devices are remembered, most recently seen kept. */
export const seenUsersMax = 100_000;

/** Card tokens, and devices, remembered per user: the most recent ones. */
export const seenPerUserMax = 8;

/** Merchants whose members are kept in memory, and for how long before they are read again. */
export const merchantMembersCachedMax = 10_000;
export const merchantMembersCacheMs = 30_000;

/** What each kind of request is recorded as before it is decided. */
const attemptOf: Record<PolicySubject['kind'], RiskCountedEvent> = {
  purchase: 'paymentAttempt',
  topUp: 'topUpAttempt',
  tokenWithdrawal: 'tokenWithdrawal',
};

interface Seen {
  readonly cardTokens: string[];
  readonly deviceIds: string[];
}

/** The card tokens and devices each user was seen with, bounded in users and per user. */
export interface SeenIdentities {
  see(subjects: RiskSubjects): void;
  of(userIds: readonly string[]): { cardTokens: string[]; deviceIds: string[] };
}

function remember(list: string[], value: string | undefined): void {
  if (value === undefined) return;
  const at = list.indexOf(value);
  if (at >= 0) list.splice(at, 1);
  list.push(value);
  if (list.length > seenPerUserMax) list.shift();
}

export function createSeenIdentities(usersMax = seenUsersMax): SeenIdentities {
  const seen = new LRUCache<string, Seen>({ max: usersMax });
  return {
    see(subjects) {
      if (subjects.cardToken === undefined && subjects.deviceId === undefined) return;
      let entry = seen.get(subjects.userId);
      if (entry === undefined) {
        entry = { cardTokens: [], deviceIds: [] };
        seen.set(subjects.userId, entry);
      }
      remember(entry.cardTokens, subjects.cardToken);
      remember(entry.deviceIds, subjects.deviceId);
    },
    of(userIds) {
      const cardTokens: string[] = [];
      const deviceIds: string[] = [];
      for (const userId of userIds) {
        const entry = seen.peek(userId);
        if (entry === undefined) continue;
        cardTokens.push(...entry.cardTokens);
        deviceIds.push(...entry.deviceIds);
      }
      return { cardTokens, deviceIds };
    },
  };
}

export interface RiskPolicyDeps {
  readonly engine: RiskEngine;
  /** The user ids of a merchant's members. */
  readonly merchantMembers: (merchantId: string) => Promise<readonly string[]>;
  /** Brings the engine's rule set up to date when it may be stale (rule-set-store.ts). */
  readonly refreshRuleSet?: () => Promise<void>;
  /** The user's spending on resellable goods in the month of `atMs`, before this purchase. */
  readonly resellableSpend?: (userId: string, atMs: number) => Promise<bigint>;
  /** What merchants reported of the codes the user bought and redeemed, as the rules need. */
  readonly redemptions?: {
    factsFor(userId: string, atMs: number, needed: RedemptionsNeeded): Promise<RedemptionFacts>;
  };
  readonly seen?: SeenIdentities;
}

export interface RiskPolicy extends Policy {
  /** Records a top-up the processor declined (the top-up service's `onDeclined`). */
  recordTopUpDeclined(decline: TopUpDecline): void;
}

function subjectsOf(subject: {
  readonly userId: string;
  readonly origin?: PolicySubject['origin'];
}): RiskSubjects {
  const origin = subject.origin ?? {};
  return {
    userId: subject.userId,
    cardToken: origin.cardToken,
    ip: origin.ip,
    deviceId: origin.deviceId,
  };
}

/** The operator's reason names the rule set's version that decided, for the review. */
function withVersion(decision: PolicyDecision & { ruleSetVersion: string }): PolicyDecision {
  if (decision.verdict === 'allow') return decision;
  return { ...decision, reason: `${decision.reason} (rules ${decision.ruleSetVersion})` };
}

export function merchantMembersOf(platform: PlatformDb) {
  return async (merchantId: string): Promise<readonly string[]> => {
    const rows = await platform.db
      .selectFrom('merchant_members')
      .select('user_id')
      .where('merchant_id', '=', merchantId)
      .execute();
    return rows.map((row) => row.user_id);
  };
}

export function createRiskPolicy(deps: RiskPolicyDeps): RiskPolicy {
  const { engine } = deps;
  const seen = deps.seen ?? createSeenIdentities();
  const members = new LRUCache<string, readonly string[]>({
    max: merchantMembersCachedMax,
    ttl: merchantMembersCacheMs,
  });

  function record(event: RiskEvent): void {
    engine.record(event);
    seen.see(event);
  }

  async function merchantOwner(merchantId: string): Promise<MerchantOwnerIdentity> {
    let userIds = members.get(merchantId);
    if (userIds === undefined) {
      userIds = await deps.merchantMembers(merchantId);
      members.set(merchantId, userIds);
    }
    return { userIds, ...seen.of(userIds) };
  }

  async function purchaseContext(purchase: PurchaseFacts): Promise<RiskContext> {
    // The merchant's class (limits/), which the purchase core puts on the facts.
    const resellable = purchase.resellable === true;
    const spent =
      resellable && deps.resellableSpend !== undefined
        ? await deps.resellableSpend(purchase.userId, purchase.atMs)
        : undefined;
    return {
      merchantOwner: await merchantOwner(purchase.merchantId),
      resellable,
      resellableSpentThisMonthMicros: spent,
    };
  }

  async function redemptionContext(subject: PolicySubject): Promise<RiskContext> {
    const resellable = subject.kind === 'purchase' && subject.resellable === true;
    const needed = engine.redemptionsNeeded(subject.kind, resellable);
    if (deps.redemptions === undefined || (!needed.asBuyer && !needed.asRedeemer)) return {};
    return { redemptions: await deps.redemptions.factsFor(subject.userId, subject.atMs, needed) };
  }

  return {
    async decide(subject) {
      await deps.refreshRuleSet?.();
      const subjects = subjectsOf(subject);
      record({ kind: attemptOf[subject.kind], ...subjects, amountMicros: subject.amountMicros });
      const context = subject.kind === 'purchase' ? await purchaseContext(subject) : {};
      const redemptions = await redemptionContext(subject);
      return withVersion(engine.decide({ ...subject, ...subjects, ...context, ...redemptions }));
    },
    recordTopUpDeclined(decline) {
      record({ kind: 'topUpDeclined', ...subjectsOf(decline), amountMicros: decline.amountMicros });
    },
  };
}
