/**
 * The risk engine (DESIGN.md section 8, issue 15): evaluates a versioned rule set (rule-set.ts)
 * against what a request is and what happened before it, in memory and without I/O, so that it
 * can sit on the payment path (risk-policy.ts wires it in).
 *
 * The caller records what happens (`record`: a payment or top-up attempt, a declined top-up, a
 * token withdrawal), then asks about a request (`decide`). An attempt is recorded before it is
 * decided, so "more than 5 attempts" is the sixth attempt's own decision. Every applicable rule
 * is evaluated and the strictest verdict wins (block over challenge over allow), the earlier rule
 * when two are as strict. A rule with `blockSeconds` keeps its subject blocked that long from the
 * event that reached its block threshold, even once the events that caused it leave the window.
 * Times are the engine's clock's, for recording and deciding alike; a fact's `atMs` is not read.
 *
 * A decision is a PolicyDecision (policy.ts) with the user's message and the rule set's version
 * besides, so the engine is a Policy; its facts are a PolicySubject with what only risk needs.
 */
import type { PolicyDecision, PolicySubject } from '../policy/policy.ts';
import { type Result, fail, ok } from '../result.ts';
import { createRiskCounters, type RiskCounters, riskKeysMax } from './risk-counters.ts';
import {
  type CardTestingRule,
  type CashOutRule,
  type CodeRedemptionRule,
  type RiskCountedEvent,
  type RiskRequestKind,
  type RiskRule,
  type RiskSubjectKind,
  type RuleSet,
  type SelfDealingRule,
  type VelocityRule,
  defaultRuleSet,
  parseRuleSet,
  riskEventsPerKeyMax,
  riskSubjectKinds,
  riskWindowSecondsMax,
} from './rule-set.ts';

/** Who did something: the user always, and the card, address and device where known. */
export interface RiskSubjects {
  readonly userId: string;
  /** The payment provider's token for the card, never the card number. */
  readonly cardToken?: string | undefined;
  readonly ip?: string | undefined;
  readonly deviceId?: string | undefined;
}

/** Something that happened, which velocity and card-testing rules count. */
export interface RiskEvent extends RiskSubjects {
  readonly kind: RiskCountedEvent;
  /** The amount tried, which card testing compares (tiny top-ups); zero when not given. */
  readonly amountMicros?: bigint | undefined;
}

/** The identities of a merchant's owner, which self-dealing compares with the payer's. */
export interface MerchantOwnerIdentity {
  readonly userIds: readonly string[];
  readonly cardTokens: readonly string[];
  readonly deviceIds: readonly string[];
}

/** What risk needs to know of a request beyond its PolicySubject. */
export interface RiskContext {
  readonly cardToken?: string | undefined;
  readonly ip?: string | undefined;
  readonly deviceId?: string | undefined;
  /** The spending category of a purchase (`content`, `goods`). */
  readonly category?: string | undefined;
  /** Whether a purchase is of goods that resell easily (gift cards, game currency). */
  readonly resellable?: boolean | undefined;
  /** For a purchase: who owns the merchant paid. */
  readonly merchantOwner?: MerchantOwnerIdentity | undefined;
  /** For a purchase: the user's spending on resellable goods this month, before this purchase. */
  readonly resellableSpentThisMonthMicros?: bigint | undefined;
  /**
   * The code redemptions merchants reported about the user (risk/redemption-reports.ts), when a
   * code-redemption rule asks for them (`redemptionsNeeded`).
   */
  readonly redemptions?: RedemptionFacts | undefined;
}

/**
 * What merchants reported of the codes a user bought and redeemed, as times (milliseconds since
 * the epoch), newest first, at most `riskEventsPerKeyMax` of each: no threshold counts past that.
 * Each rule counts those within its own window.
 */
export interface RedemptionFacts {
  /** When codes the user bought were redeemed by another account (a Mite user or an outsider). */
  readonly byOthersAtMs: readonly number[];
  /** For each other buyer whose codes the user redeemed: when the user last redeemed one. */
  readonly otherBuyersLatestAtMs: readonly number[];
}

/** Which redemption facts the rules in force need to decide a request. */
export interface RedemptionsNeeded {
  /** The buyer's (only for a purchase of resellable goods). */
  readonly asBuyer: boolean;
  /** The redeemer's. */
  readonly asRedeemer: boolean;
}

export type RiskFacts = PolicySubject & RiskContext;

export interface RiskDecision extends PolicyDecision {
  /** What the user is told: why, without the numbers that would help get around it. */
  readonly userMessage: string;
  /** The version of the rule set that decided. */
  readonly ruleSetVersion: string;
}

export type RuleSetRefusal = 'invalidRuleSet' | 'versionUnchanged';

export interface RiskEngine {
  record(event: RiskEvent): void;
  decide(facts: RiskFacts): RiskDecision;
  /** Swaps in a new rule set (JSON as written) for every later decision, or refuses it whole. */
  replaceRuleSet(input: unknown): Result<{ readonly version: string }, RuleSetRefusal>;
  ruleSetVersion(): string;
  /**
   * Which redemption facts the rules in force need for this request, so that the caller reads
   * them only then (a resellable purchase's: whether it buys resellable goods).
   */
  redemptionsNeeded(kind: RiskRequestKind, resellable: boolean): RedemptionsNeeded;
  /** How many counter keys and blocks are held, to check that memory stays bounded. */
  memory(): { readonly counterKeys: number; readonly blocks: number };
}

export interface RiskEngineOptions {
  readonly clock: () => number;
  readonly ruleSet?: RuleSet;
  /** At most this many counter keys and this many blocks are kept (each). */
  readonly keysMax?: number;
}

/** The subject names reasons use. */
const subjectWords: Record<RiskSubjectKind, string> = {
  user: 'user',
  cardToken: 'card token',
  ip: 'IP address',
  device: 'device',
};

/** The requests an event's rule applies to, when the rule does not say. */
const requestOfEvent: Record<RiskCountedEvent, RiskRequestKind> = {
  paymentAttempt: 'purchase',
  topUpAttempt: 'topUp',
  topUpDeclined: 'topUp',
  tokenWithdrawal: 'tokenWithdrawal',
};

const verdictRank = { allow: 0, challenge: 1, block: 2 } as const;

/** A rule set made ready to evaluate: its rules by the kind of request they apply to. */
interface CompiledRuleSet {
  readonly version: string;
  readonly rules: readonly RiskRule[];
  readonly byRequest: Readonly<Record<RiskRequestKind, readonly RiskRule[]>>;
  readonly allowed: RiskDecision;
}

const nothingNeeded: RedemptionsNeeded = Object.freeze({ asBuyer: false, asRedeemer: false });

function appliesTo(rule: RiskRule): readonly RiskRequestKind[] {
  switch (rule.kind) {
    case 'velocity':
      return rule.appliesTo ?? [...new Set(rule.events.map((event) => requestOfEvent[event]))];
    case 'cardTesting':
      return rule.appliesTo ?? ['topUp'];
    case 'selfDealing':
    case 'cashOut':
      return ['purchase'];
    case 'codeRedemption':
      return rule.subject === 'buyer' ? ['purchase'] : (rule.appliesTo ?? ['purchase', 'topUp']);
  }
}

function redemptionsNeededBy(
  compiled: CompiledRuleSet,
  kind: RiskRequestKind,
  resellable: boolean,
): RedemptionsNeeded {
  let asBuyer = false;
  let asRedeemer = false;
  for (const rule of compiled.byRequest[kind]) {
    if (rule.kind !== 'codeRedemption') continue;
    if (rule.subject === 'redeemer') asRedeemer = true;
    else if (kind === 'purchase' && resellable) asBuyer = true;
  }
  return asBuyer || asRedeemer ? { asBuyer, asRedeemer } : nothingNeeded;
}

function compile(ruleSet: RuleSet): CompiledRuleSet {
  const byRequest = { purchase: [], topUp: [], tokenWithdrawal: [] } as Record<
    RiskRequestKind,
    RiskRule[]
  >;
  for (const rule of ruleSet.rules) {
    for (const request of appliesTo(rule)) byRequest[request].push(rule);
  }
  const allowed: RiskDecision = Object.freeze({
    verdict: 'allow',
    rule: 'risk.none',
    reason: 'no risk rule stops this',
    userMessage: '',
    ruleSetVersion: ruleSet.version,
  });
  return { version: ruleSet.version, rules: ruleSet.rules, byRequest, allowed };
}

function subjectValue(subjects: RiskSubjects, kind: RiskSubjectKind): string | undefined {
  switch (kind) {
    case 'user':
      return subjects.userId;
    case 'cardToken':
      return subjects.cardToken;
    case 'ip':
      return subjects.ip;
    case 'device':
      return subjects.deviceId;
  }
}

function render(template: string, values: Readonly<Record<string, string | number | bigint>>) {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ''));
}

function counterKey(event: RiskCountedEvent, subject: RiskSubjectKind, value: string): string {
  return `${event}\u0000${subject}\u0000${value}`;
}

/** What a stateful rule found: its verdict (allow when it does not fire) and its count. */
interface Finding {
  readonly verdict: 'allow' | 'challenge' | 'block';
  readonly count: number;
  readonly atLeast: number;
}

const notFired: Finding = { verdict: 'allow', count: 0, atLeast: 0 };

/** What the engine remembers between decisions: counts, and blocks with a duration. */
interface EngineMemory {
  readonly counters: RiskCounters;
  /** Until when a rule blocks a subject, by rule name and subject key, in order of last use. */
  readonly blocks: Map<string, number>;
  readonly keysMax: number;
}

type CountingRule = VelocityRule | CardTestingRule;

function sinceMsOf(rule: CountingRule, nowMs: number): number {
  // The window is the last `windowSeconds`: an event exactly that old has left it.
  return nowMs - rule.windowSeconds * 1000 + 1;
}

function velocityFinding(memory: EngineMemory, rule: VelocityRule, value: string, nowMs: number) {
  const sinceMs = sinceMsOf(rule, nowMs);
  let count = 0;
  for (const event of rule.events) {
    count += memory.counters.count(counterKey(event, rule.subject, value), sinceMs);
  }
  let found: Finding = { ...notFired, count };
  for (const threshold of rule.thresholds) {
    if (count >= threshold.atLeast) {
      found = { verdict: threshold.verdict, count, atLeast: threshold.atLeast };
    }
  }
  return found;
}

function cardTestingFinding(
  memory: EngineMemory,
  rule: CardTestingRule,
  value: string,
  nowMs: number,
) {
  const sinceMs = sinceMsOf(rule, nowMs);
  const { smallTopUps, declines } = rule;
  if (smallTopUps) {
    const key = counterKey('topUpAttempt', rule.subject, value);
    const count = memory.counters.count(key, sinceMs, smallTopUps.belowMicros);
    if (count >= smallTopUps.atLeast) {
      return { verdict: rule.verdict, count, atLeast: smallTopUps.atLeast };
    }
  }
  if (declines) {
    const count = memory.counters.count(counterKey('topUpDeclined', rule.subject, value), sinceMs);
    if (count >= declines.atLeast)
      return { verdict: rule.verdict, count, atLeast: declines.atLeast };
  }
  return notFired;
}

function finding(memory: EngineMemory, rule: CountingRule, value: string, nowMs: number): Finding {
  return rule.kind === 'velocity'
    ? velocityFinding(memory, rule, value, nowMs)
    : cardTestingFinding(memory, rule, value, nowMs);
}

/** Whether a rule counts an event of this kind. */
function counts(rule: CountingRule, event: RiskCountedEvent): boolean {
  if (rule.kind === 'velocity') return rule.events.includes(event);
  return (
    (event === 'topUpAttempt' && rule.smallTopUps !== undefined) ||
    (event === 'topUpDeclined' && rule.declines !== undefined)
  );
}

function blockKey(rule: CountingRule, value: string): string {
  return `${rule.name}\u0000${rule.subject}\u0000${value}`;
}

/** Starts the blocks with a duration whose threshold this event's count reached. */
function startBlocks(
  memory: EngineMemory,
  rules: readonly RiskRule[],
  event: RiskEvent,
  nowMs: number,
) {
  const { blocks, keysMax } = memory;
  for (const rule of rules) {
    if (rule.kind !== 'velocity' && rule.kind !== 'cardTesting') continue;
    if (rule.blockSeconds === undefined || !counts(rule, event.kind)) continue;
    const value = subjectValue(event, rule.subject);
    if (value === undefined || finding(memory, rule, value, nowMs).verdict !== 'block') continue;
    const key = blockKey(rule, value);
    if ((blocks.get(key) ?? 0) > nowMs) continue; // blocked already: the block is not extended
    blocks.delete(key);
    blocks.set(key, nowMs + rule.blockSeconds * 1000);
    const oldest = blocks.keys().next();
    if (blocks.size > keysMax && oldest.done !== true) blocks.delete(oldest.value);
  }
}

function isBlocked(memory: EngineMemory, rule: CountingRule, value: string, nowMs: number) {
  if (rule.blockSeconds === undefined) return false;
  const key = blockKey(rule, value);
  const untilMs = memory.blocks.get(key);
  if (untilMs === undefined) return false;
  if (untilMs > nowMs) return true;
  memory.blocks.delete(key);
  return false;
}

/** The threshold a counting rule blocks at, for the reason of a block that outlasts its count. */
function blockThreshold(rule: CountingRule): number {
  if (rule.kind === 'velocity') return rule.thresholds.at(-1)?.atLeast ?? 0;
  return rule.smallTopUps?.atLeast ?? rule.declines?.atLeast ?? 0;
}

function countingDecision(
  memory: EngineMemory,
  compiled: CompiledRuleSet,
  rule: CountingRule,
  facts: RiskFacts,
  nowMs: number,
): RiskDecision | undefined {
  const value = subjectValue(facts, rule.subject);
  if (value === undefined) return undefined;
  const found = finding(memory, rule, value, nowMs);
  const blocked = found.verdict !== 'block' && isBlocked(memory, rule, value, nowMs);
  const verdict = blocked ? 'block' : found.verdict;
  if (verdict === 'allow') return undefined;
  const reason = render(rule.reason, {
    count: found.count,
    atLeast: blocked ? blockThreshold(rule) : found.atLeast,
    windowSeconds: rule.windowSeconds,
    subject: subjectWords[rule.subject],
    event: rule.kind === 'velocity' ? rule.events.join(', ') : 'topUpAttempt',
    belowMicros: rule.kind === 'cardTesting' ? (rule.smallTopUps?.belowMicros ?? '') : '',
    blockSeconds: rule.blockSeconds ?? '',
  });
  return decision(compiled, rule, verdict, reason);
}

function evaluate(
  memory: EngineMemory,
  compiled: CompiledRuleSet,
  rule: RiskRule,
  facts: RiskFacts,
  nowMs: number,
): RiskDecision | undefined {
  switch (rule.kind) {
    case 'velocity':
    case 'cardTesting':
      return countingDecision(memory, compiled, rule, facts, nowMs);
    case 'selfDealing':
      return selfDealingDecision(compiled, rule, facts);
    case 'cashOut':
      return cashOutDecision(compiled, rule, facts);
    case 'codeRedemption':
      return redemptionDecision(compiled, rule, facts, nowMs);
  }
}

export function createRiskEngine(options: RiskEngineOptions): RiskEngine {
  const { clock } = options;
  const keysMax = options.keysMax ?? riskKeysMax;
  const counters = createRiskCounters({
    keysMax,
    eventsPerKeyMax: riskEventsPerKeyMax,
    retainMs: riskWindowSecondsMax * 1000,
  });
  const memory: EngineMemory = { counters, blocks: new Map(), keysMax };
  let current = compile(options.ruleSet ?? defaultRuleSet);

  return {
    record(event) {
      const nowMs = clock();
      const amount = event.amountMicros ?? 0n;
      for (const subject of riskSubjectKinds) {
        const value = subjectValue(event, subject);
        if (value !== undefined)
          counters.add(counterKey(event.kind, subject, value), nowMs, amount);
      }
      startBlocks(memory, current.rules, event, nowMs);
    },
    decide(facts) {
      const compiled = current; // one read: a rule set replaced meanwhile applies to the next decision
      const nowMs = clock();
      let best: RiskDecision = compiled.allowed;
      for (const rule of compiled.byRequest[facts.kind]) {
        const found = evaluate(memory, compiled, rule, facts, nowMs);
        if (found && verdictRank[found.verdict] > verdictRank[best.verdict]) {
          best = found;
          if (best.verdict === 'block') break; // nothing is stricter, and earlier rules win ties
        }
      }
      return best;
    },
    replaceRuleSet(input) {
      const parsed = parseRuleSet(input);
      if (!parsed.ok) return parsed;
      if (parsed.value.version === current.version) {
        const detail = `the rule set in force is version ${current.version} already`;
        return fail('versionUnchanged', detail);
      }
      current = compile(parsed.value);
      return ok({ version: parsed.value.version });
    },
    ruleSetVersion: () => current.version,
    redemptionsNeeded: (kind, resellable) => redemptionsNeededBy(current, kind, resellable),
    memory: () => ({ counterKeys: counters.keyCount(), blocks: memory.blocks.size }),
  };
}

function decision(
  compiled: CompiledRuleSet,
  rule: RiskRule,
  verdict: 'challenge' | 'block',
  reason: string,
): RiskDecision {
  return {
    verdict,
    rule: rule.name,
    reason,
    userMessage: rule.userMessage,
    ruleSetVersion: compiled.version,
  };
}

function selfDealingDecision(compiled: CompiledRuleSet, rule: SelfDealingRule, facts: RiskFacts) {
  const owner = facts.merchantOwner;
  if (facts.kind !== 'purchase' || owner === undefined) return undefined;
  const shared: string[] = [];
  for (const match of rule.match) {
    if (match === 'userId' && owner.userIds.includes(facts.userId)) shared.push('account');
    if (
      match === 'cardToken' &&
      facts.cardToken !== undefined &&
      owner.cardTokens.includes(facts.cardToken)
    ) {
      shared.push('card');
    }
    if (
      match === 'device' &&
      facts.deviceId !== undefined &&
      owner.deviceIds.includes(facts.deviceId)
    ) {
      shared.push('device');
    }
  }
  if (shared.length === 0) return undefined;
  return decision(
    compiled,
    rule,
    rule.verdict,
    render(rule.reason, { shared: shared.join(' and ') }),
  );
}

function cashOutDecision(compiled: CompiledRuleSet, rule: CashOutRule, facts: RiskFacts) {
  if (facts.kind !== 'purchase' || facts.resellable !== true) return undefined;
  const spentMicros = (facts.resellableSpentThisMonthMicros ?? 0n) + facts.amountMicros;
  // Compared in whole numbers: spent / cap > bp / 10,000, without dividing.
  if (spentMicros * 10_000n <= rule.monthlyCapMicros * BigInt(rule.aboveBasisPoints))
    return undefined;
  const reason = render(rule.reason, {
    spentMicros,
    capMicros: rule.monthlyCapMicros,
    aboveBasisPoints: rule.aboveBasisPoints,
  });
  return decision(compiled, rule, rule.verdict, reason);
}

/** A window in days for a reason: whole, or to a tenth (integers only: no rounding surprises). */
function daysOf(windowSeconds: number): string {
  const tenths = Math.floor((windowSeconds * 10) / 86_400);
  return tenths % 10 === 0 ? String(tenths / 10) : `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

/**
 * Codes redeemed by other accounts: for the buyer, only on a purchase of resellable goods (the
 * codes themselves); for the redeemer, on every request the rule applies to. Counted from the
 * reported times within the rule's window; facts not supplied count nothing.
 */
function redemptionDecision(
  compiled: CompiledRuleSet,
  rule: CodeRedemptionRule,
  facts: RiskFacts,
  nowMs: number,
) {
  const buyer = rule.subject === 'buyer';
  if (buyer && (facts.kind !== 'purchase' || facts.resellable !== true)) return undefined;
  const times = buyer ? facts.redemptions?.byOthersAtMs : facts.redemptions?.otherBuyersLatestAtMs;
  if (times === undefined || times.length === 0) return undefined;
  // The window is the last `windowSeconds`: a redemption exactly that old has left it.
  const sinceMs = nowMs - rule.windowSeconds * 1000 + 1;
  let count = 0;
  for (const atMs of times) if (atMs >= sinceMs) count += 1;
  let found: Finding = notFired;
  for (const threshold of rule.thresholds) {
    if (count >= threshold.atLeast) {
      found = { verdict: threshold.verdict, count, atLeast: threshold.atLeast };
    }
  }
  if (found.verdict === 'allow') return undefined;
  const reason = render(rule.reason, {
    count,
    atLeast: found.atLeast,
    windowSeconds: rule.windowSeconds,
    windowDays: daysOf(rule.windowSeconds),
  });
  return decision(compiled, rule, found.verdict, reason);
}
