/**
 * The risk benchmark (issue 15, item 5): a seeded, reproducible synthetic population replayed
 * through the real risk rules (the default rule set) and the real purchase and top-up services
 * of an in-process platform (SQLite, no HTTP), on a simulated clock. It reports:
 *
 * - detection rate: the share of fraudulent actors with at least one request challenged or
 *   blocked (budget at least 95%);
 * - false-positive rate: the share of honest users ever challenged or blocked (at most 1%);
 * - the cost per decision: the risk engine's record and decide for one request, p50 and p99 in
 *   microseconds (p99 at most 20), timed around the engine's own calls so that the database's
 *   writes around them are not counted; the whole risk policy's p99 (with its cached reads) is
 *   printed beside it.
 *
 * The population: honest readers (a few articles a day, minutes apart), gamers (bursts of up to
 * four items in ten minutes), minors (few, small purchases); and fraud: card testers (tiny top-ups
 * and declines on stolen cards), cash-out brokers and their mules (gift cards of a shop classed
 * resellable, bought in a rush from the broker's device; the broker redeems each code minutes
 * later and the shop reports it, so that the mules' codes are redeemed by another account and the
 * broker redeems codes of several buyers; the broker then tries to buy and to top up), and
 * self-dealing merchants (their own members, or sock puppets on the owner's device, paying their
 * offers).
 */
import { randomUUID } from 'node:crypto';
import { createPlatform, type Platform } from '@mite/server';
import {
  ledgers,
  platformAccountIds,
  transferCodes,
} from '../../packages/server/src/ledger/chart-of-accounts.ts';
import { tempDir } from '@mite/testkit';
import pino from 'pino';
import {
  createRiskEngine,
  type RiskEvent,
  type RiskFacts,
} from '../../packages/server/src/risk/risk-engine.ts';
import { defaultRuleSet } from '../../packages/server/src/risk/rule-set.ts';
import { saveRun } from './results.ts';
import { type BudgetCheck, progressLog, verdictLines } from './run.ts';
import { formatTable } from './table.ts';

export interface RiskBenchOptions {
  /** The seed of the population and of its schedule: the same seed, the same run. */
  readonly seed: number;
  readonly readers: number;
  readonly gamers: number;
  readonly minors: number;
  readonly cardTesters: number;
  readonly brokers: number;
  readonly mulesPerBroker: number;
  readonly selfDealers: number;
  /** Simulated days the honest users are active. */
  readonly days: number;
}

export const riskBenchDefaults: RiskBenchOptions = {
  seed: 15,
  readers: 400,
  gamers: 150,
  minors: 50,
  cardTesters: 20,
  brokers: 10,
  mulesPerBroker: 4,
  selfDealers: 20,
  days: 3,
};

/** A tiny population, for a smoke run and the benchmark's own test. */
export const riskBenchQuick: RiskBenchOptions = {
  seed: 15,
  readers: 12,
  gamers: 6,
  minors: 3,
  cardTesters: 2,
  brokers: 1,
  // Four, as the default broker rule blocks a redeemer of codes from four other buyers.
  mulesPerBroker: 4,
  selfDealers: 2,
  days: 1,
};

export const detectionRateMin = 0.95;
export const falsePositiveRateMax = 0.01;
export const decisionMicrosP99Max = 20;

/** mulberry32: a small seeded generator, so that a seed replays the same population. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const actorKinds = [
  'reader',
  'gamer',
  'minor',
  'cardTester',
  'broker',
  'mule',
  'selfDealer',
] as const;
type ActorKind = (typeof actorKinds)[number];

interface Actor {
  readonly kind: ActorKind;
  readonly fraud: boolean;
  readonly userId: string;
  readonly ip: string;
  readonly deviceId: string;
  stopped: boolean;
}

/** One request of the schedule, at a simulated time. */
interface Step {
  readonly atMs: number;
  readonly actor: Actor;
  readonly run: () => Promise<'allow' | 'stop'>;
}

const minuteMs = 60_000;
const dayMs = 86_400_000;
const walletMicros = 1_000_000_000n;
const goodCard = { number: '4242424242424242', expMonth: 12, expYear: 2099, cvc: '123' };
const declinedCard = { number: '4000000000000002', expMonth: 12, expYear: 2099, cvc: '123' };

interface World {
  readonly platform: Platform;
  readonly clock: { nowMs: number };
  readonly offers: { readonly article: string; readonly item: string; readonly giftCard: string };
  /** The gift-card shop, classed resellable: it reports the codes redeemed. */
  readonly giftShopId: string;
}

async function fund(platform: Platform, userId: string): Promise<void> {
  const { users, transferIds } = platform.services;
  const profile = await users.profile(userId);
  if (profile === undefined) throw new Error('a bench user vanished');
  const [funded] = await platform.ledger.createTransfers([
    {
      id: transferIds.next(),
      debitAccountId: platformAccountIds.processorReceivable,
      creditAccountId: profile.walletAccountId,
      amount: walletMicros,
      ledger: ledgers.usd,
      code: transferCodes.topUp,
    },
  ]);
  if (funded !== 'ok') throw new Error(`funding a bench wallet failed: ${funded}`);
}

async function person(world: World, kind: ActorKind, fraud: boolean, n: number): Promise<Actor> {
  const signedUp = await world.platform.services.users.signUp({
    email: `${kind}-${n}-${randomUUID().slice(0, 8)}@example.com`,
    password: 'a long passphrase',
  });
  if (!signedUp.ok) throw new Error(`sign-up failed: ${signedUp.code}`);
  await fund(world.platform, signedUp.value.userId);
  return {
    kind,
    fraud,
    userId: signedUp.value.userId,
    ip: `10.${(n >> 8) & 255}.${n & 255}.${kind.length}`,
    deviceId: `dev-${kind}-${n}`,
    stopped: false,
  };
}

async function offer(
  platform: Platform,
  merchantId: string,
  resource: string,
  price: bigint,
  category: 'content' | 'goods' = 'content',
) {
  const made = await platform.services.merchants.createOffer({
    merchantId,
    resource,
    title: resource,
    priceMicros: price,
    category,
    accessPeriodSeconds: 0,
  });
  if (!made.ok) throw new Error(`an offer failed: ${made.code}`);
  return made.value.id;
}

/** A purchase; a code bought (its payment) is put in `codes`, when given. */
function buy(
  world: World,
  actor: Actor,
  offerId: string,
  deviceId = actor.deviceId,
  codes?: string[],
) {
  return async (): Promise<'allow' | 'stop'> => {
    const paid = await world.platform.services.payments.pay({
      userId: actor.userId,
      offerId,
      origin: { ip: actor.ip, deviceId },
    });
    if (paid.ok) codes?.push(paid.value.paymentId);
    return !paid.ok && (paid.code === 'policyBlocked' || paid.code === 'policyChallenged')
      ? 'stop'
      : 'allow';
  };
}

/** The broker redeems the oldest code not yet redeemed, and the shop reports it. */
function redeem(world: World, broker: Actor, codes: string[]) {
  return async (): Promise<'allow' | 'stop'> => {
    const paymentId = codes.shift();
    if (paymentId === undefined) return 'allow';
    const { payments, redemptions } = world.platform.services;
    const reported = await redemptions.report({
      merchantId: world.giftShopId,
      paymentId,
      redeemer: payments.pseudonym(broker.userId, world.giftShopId),
    });
    if (!reported.ok) throw new Error(`a redemption report failed: ${reported.code}`);
    return 'allow';
  };
}

function topUp(world: World, actor: Actor, amountMicros: bigint, card: typeof goodCard) {
  return async (): Promise<'allow' | 'stop'> => {
    const answer = await world.platform.services.topUps.topUp({
      userId: actor.userId,
      amountMicros,
      source: { kind: 'card', card },
      idempotencyKey: randomUUID(),
      origin: { ip: actor.ip, deviceId: actor.deviceId },
    });
    return !answer.ok && (answer.code === 'policyBlocked' || answer.code === 'policyChallenged')
      ? 'stop'
      : 'allow';
  };
}

/** A request every `gapMs` or so (jittered), `count` times from `startMs`. */
function spaced(random: () => number, startMs: number, count: number, gapMs: number): number[] {
  const times: number[] = [];
  let at = startMs;
  for (let i = 0; i < count; i += 1) {
    at += Math.round(gapMs * (0.5 + random()));
    times.push(at);
  }
  return times;
}

/** The honest users: readers, gamers and minors, each on their own device and address. */
async function honestSteps(world: World, options: RiskBenchOptions, random: () => number) {
  const steps: Step[] = [];
  const actors: Actor[] = [];
  const { article, item } = world.offers;
  const kinds: [ActorKind, number][] = [
    ['reader', options.readers],
    ['gamer', options.gamers],
    ['minor', options.minors],
  ];
  let n = 0;
  for (const [kind, count] of kinds) {
    for (let i = 0; i < count; i += 1) {
      const actor = await person(world, kind, false, (n += 1));
      actors.push(actor);
      for (let day = 0; day < options.days; day += 1) {
        const dayStart = world.clock.nowMs + day * dayMs + Math.round(random() * 12 * 3_600_000);
        // Readers a few articles minutes apart; gamers bursts of up to four items in ten
        // minutes; minors one or two small purchases.
        const times =
          kind === 'reader'
            ? spaced(random, dayStart, 2 + Math.floor(random() * 6), 8 * minuteMs)
            : kind === 'gamer'
              ? [0, 1, 2].flatMap((burst) =>
                  spaced(random, dayStart + burst * 3_600_000, 4, 2 * minuteMs),
                )
              : spaced(random, dayStart, 1 + Math.floor(random() * 2), 30 * minuteMs);
        const offerId = kind === 'gamer' ? item : article;
        for (const atMs of times) steps.push({ atMs, actor, run: buy(world, actor, offerId) });
      }
    }
  }
  return { steps, actors };
}

/**
 * A broker and its mules. The broker buys a gift card once, as a customer of the shop (which then
 * knows its pseudonym); the mules buy gift cards in a rush on the broker's phone, and the broker
 * redeems each code minutes later, which the shop reports. After the rush the broker tries to
 * buy and to top up its own wallet.
 */
async function brokerSteps(
  world: World,
  options: RiskBenchOptions,
  random: () => number,
  broker: Actor,
  nextN: () => number,
): Promise<Step[]> {
  const steps: Step[] = [];
  const codes: string[] = [];
  const rushMs = world.clock.nowMs + Math.round(random() * dayMs) + 30 * minuteMs;
  const { giftCard, article } = world.offers;
  steps.push({ atMs: rushMs - 30 * minuteMs, actor: broker, run: buy(world, broker, giftCard) });
  for (let m = 0; m < options.mulesPerBroker; m += 1) {
    const mule = await person(world, 'mule', true, nextN());
    // Gift cards bought in a rush on the broker's phone, to be sold for cash.
    for (const atMs of spaced(random, rushMs + m * 20 * minuteMs, 8, minuteMs)) {
      steps.push({ atMs, actor: mule, run: buy(world, mule, giftCard, broker.deviceId, codes) });
      steps.push({ atMs: atMs + 2 * minuteMs, actor: broker, run: redeem(world, broker, codes) });
    }
  }
  const afterMs = rushMs + (options.mulesPerBroker * 20 + 30) * minuteMs;
  steps.push({ atMs: afterMs, actor: broker, run: buy(world, broker, article) });
  steps.push({
    atMs: afterMs + 10 * minuteMs,
    actor: broker,
    run: topUp(world, broker, 20_000_000n, goodCard),
  });
  return steps;
}

/** The fraudulent actors: card testers, brokers' mules, self-dealing merchants and their puppets. */
async function fraudSteps(world: World, options: RiskBenchOptions, random: () => number) {
  const steps: Step[] = [];
  const actors: Actor[] = [];
  const { platform } = world;
  const startMs = world.clock.nowMs;
  let n = 100_000;
  for (let i = 0; i < options.cardTesters; i += 1) {
    const tester = await person(world, 'cardTester', true, (n += 1));
    actors.push(tester);
    // Stolen cards tried one after another, at the smallest top-up the platform takes.
    for (const atMs of spaced(random, startMs + Math.round(random() * dayMs), 6, minuteMs)) {
      steps.push({ atMs, actor: tester, run: topUp(world, tester, 1_000_000n, declinedCard) });
    }
  }
  for (let b = 0; b < options.brokers; b += 1) {
    const broker = await person(world, 'broker', true, (n += 1));
    actors.push(broker);
    steps.push(...(await brokerSteps(world, options, random, broker, () => (n += 1))));
  }
  const mules = steps.filter((step) => step.actor.kind === 'mule').map((step) => step.actor);
  actors.push(...new Set(mules));
  for (let s = 0; s < options.selfDealers; s += 1) {
    // The fraudulent actor is the merchant: its owner paying, or its sock puppet.
    const owner = await person(world, 'selfDealer', true, (n += 1));
    const { merchantId } = await platform.services.merchants.createMerchant({
      name: `Self Dealer ${s}`,
      ownerUserId: owner.userId,
      feeBasisPoints: 500,
      payoutThresholdMicros: 10_000_000n,
    });
    await platform.platformDb.db
      .insertInto('merchant_members')
      .values({ merchant_id: merchantId, user_id: owner.userId, role: 'owner', created_at: 0n })
      .execute();
    const own = await offer(platform, merchantId, `/own-${s}`, 500_000n);
    const atMs = startMs + Math.round(random() * dayMs);
    if (s % 2 === 0) {
      actors.push(owner);
      steps.push({ atMs, actor: owner, run: buy(world, owner, own) });
    } else {
      // A sock puppet on the owner's phone: the owner is seen with it first, buying elsewhere.
      const puppet = await person(world, 'selfDealer', true, (n += 1));
      actors.push(puppet);
      steps.push({ atMs, actor: owner, run: topUp(world, owner, 5_000_000n, goodCard) });
      steps.push({
        atMs: atMs + minuteMs,
        actor: puppet,
        run: buy(world, puppet, own, owner.deviceId),
      });
    }
  }
  return { steps, actors };
}

/** One call the platform made to its risk engine, with the time on the engine's clock. */
type EngineCall =
  | { readonly kind: 'record'; readonly event: RiskEvent; readonly atMs: number }
  | { readonly kind: 'decide'; readonly facts: RiskFacts; readonly atMs: number };

interface EngineTiming {
  engineNs: number[];
  policyNs: number[];
  readonly calls: EngineCall[];
}

/**
 * Nanoseconds of the engine's record and decide for each decision, timed around its own calls
 * inside the platform (where the platform's own garbage collection lands in some of them), and
 * every call kept, for `replayedEngineNs`.
 */
function timeEngine(platform: Platform, nowMs: () => number): EngineTiming {
  const { engine, policy } = platform.services.risk;
  const engineNs: number[] = [];
  const policyNs: number[] = [];
  const calls: EngineCall[] = [];
  let recordNs = 0;
  const record = engine.record.bind(engine);
  const decide = engine.decide.bind(engine);
  engine.record = (event) => {
    calls.push({ kind: 'record', event, atMs: nowMs() });
    const started = process.hrtime.bigint();
    record(event);
    recordNs = Number(process.hrtime.bigint() - started);
  };
  engine.decide = (facts) => {
    calls.push({ kind: 'decide', facts, atMs: nowMs() });
    const started = process.hrtime.bigint();
    const decision = decide(facts);
    engineNs.push(recordNs + Number(process.hrtime.bigint() - started));
    recordNs = 0;
    return decision;
  };
  const policyDecide = policy.decide.bind(policy);
  policy.decide = async (subject) => {
    const started = process.hrtime.bigint();
    const decision = await policyDecide(subject);
    policyNs.push(Number(process.hrtime.bigint() - started));
    return decision;
  };
  return { engineNs, policyNs, calls };
}

/** Timed replays of the engine's calls; each decision's time is its median over them. */
export const engineReplayRounds = 5;

/**
 * The same calls, the same events and facts at the same times, replayed through a fresh engine
 * under the same rules with nothing else running: the cost of the rules themselves per decision
 * (record + decide). A first replay warms the engine's code up; then `engineReplayRounds` are
 * timed, each decision's time being its median across them, so that an interrupt or a neighbour
 * on the machine that lands on one replay's decision does not count as that decision's cost,
 * while a cost the decision has every time (its work, the collections its own allocations cause)
 * does.
 */
function replayedEngineNs(calls: readonly EngineCall[]): number[] {
  const rounds: number[][] = [];
  for (let round = 0; round <= engineReplayRounds; round += 1) {
    let atMs = 0;
    const engine = createRiskEngine({ clock: () => atMs, ruleSet: defaultRuleSet });
    const timed: number[] = [];
    let recordNs = 0;
    for (const call of calls) {
      atMs = call.atMs;
      const started = process.hrtime.bigint();
      if (call.kind === 'record') {
        engine.record(call.event);
        recordNs = Number(process.hrtime.bigint() - started);
      } else {
        engine.decide(call.facts);
        timed.push(recordNs + Number(process.hrtime.bigint() - started));
        recordNs = 0;
      }
    }
    if (round > 0) rounds.push(timed);
  }
  const first = rounds[0] ?? [];
  return first.map((_, index) => {
    const times = rounds.map((timed) => timed[index] ?? 0).sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)] ?? 0;
  });
}

function percentileMicros(samples: readonly number[], share: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1);
  return (sorted[Math.max(0, at)] ?? 0) / 1000;
}

async function startWorld(): Promise<World> {
  const clock = { nowMs: Date.UTC(2026, 2, 2) };
  const platform = await createPlatform({
    dataDir: tempDir('mite-bench-risk-'),
    env: {},
    logger: pino({ level: 'silent' }),
    backgroundJobs: false,
    funding: { provider: 'sandbox' },
    clock: () => clock.nowMs,
  });
  const { merchants } = platform.services;
  const { merchantId } = await merchants.createMerchant({
    name: 'Bench Shop',
    feeBasisPoints: 500,
    payoutThresholdMicros: 10_000_000n,
  });
  const giftShop = await merchants.createMerchant({
    name: 'Bench Gift Cards',
    feeBasisPoints: 500,
    payoutThresholdMicros: 10_000_000n,
  });
  const classed = await merchants.setSpendingClass(giftShop.merchantId, {
    category: 'goods',
    resellable: true,
  });
  if (!classed.ok) throw new Error(`classing the gift shop failed: ${classed.code}`);
  const offers = {
    article: await offer(platform, merchantId, '/article', 20_000n),
    item: await offer(platform, merchantId, '/game-item', 500_000n),
    giftCard: await offer(platform, giftShop.merchantId, '/gift-card', 5_000_000n, 'goods'),
  };
  return { platform, clock, offers, giftShopId: giftShop.merchantId };
}

export interface RiskBenchReport {
  readonly population: Readonly<Record<ActorKind, number>>;
  readonly requests: number;
  readonly fraudActors: number;
  readonly fraudCaught: number;
  readonly honestUsers: number;
  readonly honestStopped: number;
  readonly engineMicros: { readonly p50: number; readonly p99: number };
  readonly inPlatformMicros: { readonly p50: number; readonly p99: number };
  readonly policyMicros: { readonly p50: number; readonly p99: number };
  readonly budgets: BudgetCheck[];
  readonly notes: string[];
  /** The requests each rule stopped (challenged or blocked), as the policy recorded them. */
  readonly stopsByRule: Readonly<Record<string, number>>;
}

async function stopsByRule(platform: Platform): Promise<Record<string, number>> {
  const rows = await platform.platformDb.db
    .selectFrom('policy_decisions')
    .select((eb) => ['rule', eb.fn.countAll().as('stops')])
    .groupBy('rule')
    .orderBy('rule')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.rule, Number(row.stops)]));
}

export async function runRiskBench(
  options: RiskBenchOptions,
  log: (line: string) => void,
): Promise<RiskBenchReport> {
  const random = seeded(options.seed);
  const world = await startWorld();
  try {
    log('making the population');
    const honest = await honestSteps(world, options, random);
    const fraud = await fraudSteps(world, options, random);
    const steps = [...honest.steps, ...fraud.steps].sort((a, b) => a.atMs - b.atMs);
    const timing = timeEngine(world.platform, () => world.clock.nowMs);
    log(`replaying ${steps.length} requests`);
    for (const step of steps) {
      world.clock.nowMs = Math.max(world.clock.nowMs, Math.round(step.atMs));
      if ((await step.run()) === 'stop') step.actor.stopped = true;
    }
    const actors = [...honest.actors, ...fraud.actors];
    const population = Object.fromEntries(
      actorKinds.map((kind) => [kind, actors.filter((actor) => actor.kind === kind).length]),
    ) as Record<ActorKind, number>;
    log("replaying the engine's calls alone");
    const replayedNs = replayedEngineNs(timing.calls);
    const report = reportOf(options, steps.length, honest.actors, fraud.actors, population, {
      ...timing,
      replayedNs,
    });
    return { ...report, stopsByRule: await stopsByRule(world.platform) };
  } finally {
    await world.platform.close();
  }
}

function reportOf(
  options: RiskBenchOptions,
  requests: number,
  honest: readonly Actor[],
  fraud: readonly Actor[],
  population: Record<ActorKind, number>,
  timing: { engineNs: number[]; policyNs: number[]; replayedNs: number[] },
): Omit<RiskBenchReport, 'stopsByRule'> {
  const fraudCaught = fraud.filter((actor) => actor.stopped).length;
  const honestStopped = honest.filter((actor) => actor.stopped).length;
  const detection = fraud.length === 0 ? 1 : fraudCaught / fraud.length;
  const falsePositives = honest.length === 0 ? 0 : honestStopped / honest.length;
  const engineMicros = {
    p50: percentileMicros(timing.replayedNs, 0.5),
    p99: percentileMicros(timing.replayedNs, 0.99),
  };
  const inPlatformMicros = {
    p50: percentileMicros(timing.engineNs, 0.5),
    p99: percentileMicros(timing.engineNs, 0.99),
  };
  const policyMicros = {
    p50: percentileMicros(timing.policyNs, 0.5),
    p99: percentileMicros(timing.policyNs, 0.99),
  };
  const status = (ok: boolean): BudgetCheck['status'] => (ok ? 'PASS' : 'FAIL');
  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  return {
    population,
    requests,
    fraudActors: fraud.length,
    fraudCaught,
    honestUsers: honest.length,
    honestStopped,
    engineMicros,
    inPlatformMicros,
    policyMicros,
    budgets: [
      {
        name: `detection rate >= ${percent(detectionRateMin)}`,
        status: status(detection >= detectionRateMin),
        detail: `${percent(detection)} (${fraudCaught} of ${fraud.length})`,
      },
      {
        name: `false-positive rate <= ${percent(falsePositiveRateMax)}`,
        status: status(falsePositives <= falsePositiveRateMax),
        detail: `${percent(falsePositives)} (${honestStopped} of ${honest.length})`,
      },
      {
        name: `p99 per decision <= ${decisionMicrosP99Max} us`,
        status: status(engineMicros.p99 <= decisionMicrosP99Max),
        detail: `${engineMicros.p99.toFixed(1)} us (the rules: engine record + decide)`,
      },
    ],
    notes: [
      `seed ${options.seed}: the same seed replays the same population and schedule`,
      `the rules row replays the engine's own calls, events and times alone, after a warm-up, ${engineReplayRounds} times: each decision's median`,
      'the in-platform row is the same calls timed inside the platform, GC pauses included',
      "the risk policy row includes its reads (merchant members, the month's resellable spend)",
    ],
  };
}

export function formatRiskReport(report: RiskBenchReport): string {
  const population = formatTable(
    [{ header: 'actors' }, { header: 'count', align: 'right' }],
    Object.entries(report.population).map(([kind, count]) => [kind, String(count)]),
  );
  const cost = formatTable(
    [
      { header: 'per decision' },
      { header: 'p50 us', align: 'right' },
      { header: 'p99 us', align: 'right' },
      { header: 'p99 / budget', align: 'right' },
    ],
    [
      ['the rules (engine record + decide)', report.engineMicros, decisionMicrosP99Max],
      ['the same, inside the platform', report.inPlatformMicros, undefined],
      ['risk policy (with its reads)', report.policyMicros, undefined],
    ].map(([name, micros, budget]) => {
      const { p50, p99 } = micros as { p50: number; p99: number };
      return [
        String(name),
        p50.toFixed(1),
        p99.toFixed(1),
        budget === undefined ? '' : (p99 / Number(budget)).toFixed(2),
      ];
    }),
  );
  const stops = formatTable(
    [{ header: 'rule' }, { header: 'stopped', align: 'right' }],
    Object.entries(report.stopsByRule).map(([rule, count]) => [rule, String(count)]),
  );
  return [
    population,
    '',
    stops,
    '',
    `requests replayed: ${report.requests}`,
    '',
    cost,
    '',
    ...verdictLines(report),
  ].join('\n');
}

export async function riskBenchMain(args: { readonly quick: boolean }): Promise<void> {
  const options = args.quick ? riskBenchQuick : riskBenchDefaults;
  const startedAt = new Date();
  console.error(`risk benchmark${args.quick ? ' (quick)' : ''}: ${JSON.stringify(options)}`);
  const report = await runRiskBench(options, progressLog(startedAt));
  console.log(formatRiskReport(report));
  saveRun({ name: 'risk', quick: args.quick, startedAt, options }, report);
}
