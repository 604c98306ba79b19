import { readFileSync } from 'node:fs';
import { hkdfSync } from 'node:crypto';
import path from 'node:path';
import { type Ledger, openLedger, TimeOrderedIds } from '@mite/ledger';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { createAdminKeyService } from './auth/admin-keys.ts';
import { authRoutes } from './auth/auth-routes.ts';
import { createAuthenticator } from './auth/authenticator.ts';
import { adminKeyRoutes, apiKeyRoutes } from './auth/key-routes.ts';
import { createUserService } from './auth/user-service.ts';
import { createLimitProfiles } from './limits/limit-profiles.ts';
import { limitRoutes } from './limits/limit-routes.ts';
import { createMinorSettings } from './limits/minor-settings.ts';
import { minorRoutes } from './limits/minor-routes.ts';
import { createUserActivity } from './limits/user-activity.ts';
import { createUserLimitSettings } from './limits/user-limit-settings.ts';
import { createMerchantInvitations } from './staff/merchant-invitations.ts';
import { createMerchantPeople } from './staff/merchant-people.ts';
import { merchantPeopleRoutes } from './staff/merchant-people-routes.ts';
import { createOperatorPeople } from './staff/operator-people.ts';
import { operatorSessionRoutes } from './staff/operator-session-routes.ts';
import { createStaffPrincipals } from './staff/staff-principals.ts';
import { tokenKeyRoutes } from './tokens/token-key-routes.ts';
import { createTokenKeys } from './tokens/token-keys.ts';
import { tokenRoutes } from './tokens/token-routes.ts';
import { createTokenWithdrawals } from './tokens/token-withdrawals.ts';
import { createPaymentSessions } from './sessions/payment-sessions.ts';
import { sessionRoutes } from './sessions/session-routes.ts';
import { createTokenDeposits } from './tokens/token-deposits.ts';
import { createTokenSwaps } from './tokens/token-swaps.ts';
import { purgeExpiredSpentTokens } from './tokens/spent-tokens.ts';
import { createPurchasePricing } from './payments/purchase-pricing.ts';
import { createPurchaseReceipts } from './payments/purchase-receipts.ts';
import { openPlatformDb, type PlatformDb } from './db/platform-db.ts';
import {
  type FundingConfig,
  fundingConfigFromEnv,
  type FundingProviderName,
} from './funding/funding-config.ts';
import type { FundingProvider } from './funding/funding-provider.ts';
import { createSandboxProvider, sandboxFeeDefaults } from './funding/sandbox-provider.ts';
import { createStripeProvider } from './funding/stripe-provider.ts';
import { fundingWebhookPath, topUpRoutes } from './funding/topup-routes.ts';
import { fundingInfoRoutes } from './funding/funding-info-routes.ts';
import { createTopUpService } from './funding/topup-service.ts';
import { createHttpApp, type HttpApp } from './http/create-http-app.ts';
import { defaultHttpLimits, type HttpLimits } from './http/limits.ts';
import { createIdempotencyStore } from './idempotency/idempotency-store.ts';
import { ensurePlatformAccounts } from './ledger/chart-of-accounts.ts';
import { merchantRoutes } from './merchants/merchant-routes.ts';
import { createMerchantService } from './merchants/merchant-service.ts';
import { paymentRoutes } from './payments/payment-routes.ts';
import { createPaymentService } from './payments/payment-service.ts';
import { createRefundService } from './payments/refund-service.ts';
import { payoutRoutes } from './payouts/payout-routes.ts';
import { createReportRollup } from './reports/report-rollup.ts';
import { reportRoutes } from './reports/report-routes.ts';
import { createReportService } from './reports/report-service.ts';
import {
  bankChangeHoldMsFromEnv,
  createPayoutService,
  payoutDebtorFromEnv,
} from './payouts/payout-service.ts';
import { createAccountErasure } from './privacy/account-erasure.ts';
import { createDataKeyring } from './privacy/data-keys.ts';
import { erasureRoutes } from './privacy/erasure-routes.ts';
import { sealedBeforeDataKeys, upgradeToDataKeys } from './privacy/data-key-upgrade.ts';
import { loadMasterKeys } from './privacy/master-key.ts';
import { createPersonalDataCipher } from './privacy/personal-data-cipher.ts';
import { loadReceiptKey } from './receipts/receipt-keys.ts';
import { walletRoutes } from './wallets/wallet-routes.ts';
import { createWalletService } from './wallets/wallet-service.ts';
import { createWalletMovements } from './wallets/wallet-movements.ts';
import { createWalletPurchases } from './wallets/wallet-purchases.ts';
import { walletBudgetRoutes } from './wallets/wallet-budget-routes.ts';
import { consentRoutes } from './consents/consent-routes.ts';
import { createConsentService } from './consents/consent-service.ts';
import { privacyUseRoutes } from './consents/privacy-use-routes.ts';
import { createSuggestions } from './consents/suggestions.ts';
import { createWalletBudgets } from './wallets/wallet-budgets.ts';
import { webhookRoutes } from './webhooks/webhook-routes.ts';
import { createWebhookRetention } from './webhooks/webhook-retention.ts';
import { exportRoutes } from './data-export/export-routes.ts';
import { createUserExport } from './data-export/user-export.ts';
import { retentionRoutes } from './retention/retention-routes.ts';
import {
  createPurchaseCompaction,
  purchaseDetailRetentionMsFromEnv,
} from './retention/purchase-compaction.ts';
import { createWebhookService } from './webhooks/webhook-service.ts';
import { startWebhookWorker } from './webhooks/webhook-worker.ts';
import { webAppsPlugin, webBuildPresent } from './web/web-apps.ts';
import { createTransactionBatcher } from './db/transaction-batcher.ts';
import { startPlatformJobs } from './jobs/platform-jobs.ts';
import { monthKeyAt, operatorTimeZoneFromEnv } from './limits/operator-time-zone.ts';
import { spendingOf } from './limits/monthly-spending.ts';
import { type PlatformCaps, platformCapsFromEnv } from './limits/platform-caps.ts';
import { createSpendingLimits } from './limits/spending-limits.ts';
import { spendingRoutes } from './limits/spending-routes.ts';
import { createFairPriceReader } from './limits/fair-price.ts';
import { allowEverything, composePolicies, type Policy } from './policy/policy.ts';
import { createLedgerVerifications } from './operator/ledger-verifications.ts';
import { createOperatorReads } from './operator/operator-reads.ts';
import { operatorRoutes } from './operator/operator-routes.ts';
import { createPersonalDataViews } from './operator/personal-data-views.ts';
import { createPolicyGate } from './policy/policy-decisions.ts';
import { createPolicyConfirmations } from './policy/policy-confirmations.ts';
import { policyConfirmationRoutes } from './policy/policy-confirmation-routes.ts';
import { createAccountFreezes } from './review/account-freezes.ts';
import { createFreezePolicy } from './review/freeze-policy.ts';
import { createPolicyReview } from './review/policy-review.ts';
import { reviewRoutes } from './review/review-routes.ts';
import { createRiskEngine } from './risk/risk-engine.ts';
import { createRiskPolicy, merchantMembersOf } from './risk/risk-policy.ts';
import { createRuleSetStore } from './risk/rule-set-store.ts';
import { defaultRuleSetInput, parseRuleSet, type RuleSetInput } from './risk/rule-set.ts';
import { riskRuleSetRoutes } from './risk/risk-rule-set-routes.ts';
import { createRedemptionReports } from './risk/redemption-reports.ts';
import { redemptionRoutes } from './risk/redemption-routes.ts';
import { payerByPseudonym } from './payments/payer-pseudonyms.ts';

/** How long the sandbox takes to confirm a card that confirms later. */
const sandboxConfirmDelayMs = 2_000;

export interface PlatformOptions {
  /** Keys and (on SQLite) the databases live here. */
  readonly dataDir: string;
  /** PostgreSQL for both the ledger and the platform tables; else SQLite files in dataDir. */
  readonly databaseUrl?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly limits?: HttpLimits;
  /**
   * Behind a reverse proxy, which proxies' `X-Forwarded-For` to believe for the client's address
   * (rate limits count per address): a comma-separated list of proxy addresses and CIDR ranges.
   * Unset, the socket's peer is the client.
   */
  readonly trustProxy?: string;
  readonly clock?: () => number;
  /**
   * Decides whether each purchase and top-up may go ahead, besides the platform's own limits and
   * risk rules; by default it allows everything.
   */
  readonly policy?: Policy;
  /** The monthly caps per user; else from the environment (`platformCapsFromEnv`). */
  readonly platformCaps?: PlatformCaps;
  /** The operator's time zone (IANA), in which months roll over; else MITE_TIME_ZONE, else UTC. */
  readonly timeZone?: string;
  /**
   * The risk rules in force while the operator has stored none: the built-in default set
   * (risk/rule-set.ts) when unset. A load test, whose one client pays thousands of times a
   * minute, sets rules of its own here.
   */
  readonly riskRules?: RuleSetInput;
  /** The card processor; else from the environment (`fundingConfigFromEnv`): none by default. */
  readonly funding?: FundingConfig;
  /**
   * How long after a merchant's bank details change no payout is made to it; by default
   * MITE_BANK_CHANGE_HOLD_HOURS, else 48 hours (payout-service.ts, bankChangeHoldMsDefault).
   */
  readonly bankChangeHoldMs?: number;
  /**
   * Whether this platform runs its background work: the webhook worker and the jobs that finish
   * interrupted purchases and top-ups and purge expired records (jobs/platform-jobs.ts). True by
   * default, as every node runs them. Tests that call a job themselves, on a clock they move, turn
   * it off so that no run in the background races theirs.
   */
  readonly backgroundJobs?: boolean;
  /**
   * The web apps' build (packages/web/dist), served under `/wallet/` and the other apps' paths.
   * Unset or not built, those paths answer a page that says how to build them.
   */
  readonly webRoot?: string;
  /** The token denominations to make keys for; every power of two up to 2^26 by default. */
  readonly tokenDenominationsMicros?: readonly bigint[];
  /**
   * How long what a purchase was for (its offer and resource) is kept for the user's history
   * before it is compacted into daily totals; by default MITE_PURCHASE_DETAIL_RETENTION_DAYS,
   * else 90 days (retention/purchase-compaction.ts).
   */
  readonly purchaseDetailRetentionMs?: number;
  /**
   * How long a payer's close of a payment session waits for the merchant's last voucher before
   * it settles (sessions/session-closing.ts); 15 s by default.
   */
  readonly sessionCloseGraceMs?: number;
}

export interface Platform {
  readonly app: HttpApp;
  readonly dataDir: string;
  readonly ledger: Ledger;
  readonly platformDb: PlatformDb;
  readonly services: Awaited<ReturnType<typeof createServices>>;
  /** Which processor takes top-ups, and whether its money is fake (for the banner). */
  readonly funding: { readonly provider: FundingProviderName; readonly sandbox: boolean };
  /** Whether the web apps are served (their build was found), for the banner. */
  readonly webAppsServed: boolean;
  /** The first admin key, created and returned once on a fresh platform. */
  bootstrapAdminKey(): Promise<{ keyId: string; secret: string } | undefined>;
  /**
   * Makes the first operator person (who logs in to the console) when there is none, with a
   * generated password answered once; undefined when there is one.
   */
  bootstrapOperator(email: string): Promise<{ email: string; password: string } | undefined>;
  close(): Promise<void>;
}

/** Where each store lives for a data directory, or for one PostgreSQL database. */
export function storeUrls(options: { dataDir: string; databaseUrl?: string | undefined }) {
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    return { ledgerUrl: options.databaseUrl, platformUrl: options.databaseUrl };
  }
  return {
    ledgerUrl: `sqlite:${path.join(options.dataDir, 'ledger.sqlite')}`,
    platformUrl: `sqlite:${path.join(options.dataDir, 'platform.sqlite')}`,
  };
}

/**
 * The built-in sandbox card processor. Its secrets derive from the master key, so a webhook sent
 * before a restart still verifies after it; it delivers its webhooks to this platform's own
 * endpoint, over HTTP once the platform listens.
 */
function createSandbox(masterKey: Buffer, appRef: { current?: HttpApp }, confirmDelayMs: number) {
  const sandboxWebhookPath = fundingWebhookPath('sandbox');
  return createSandboxProvider({
    ...sandboxFeeDefaults,
    webhookSecret: sandboxWebhookSecretFor(masterKey),
    cardTokenKey: deriveKey(masterKey, 'mite sandbox card tokens', 32),
    confirmDelayMs,
    deliverWebhook: async (headers, body) => {
      const app = appRef.current;
      if (app === undefined) return;
      if (app.server.listening) {
        await fetch(`${app.listeningOrigin}${sandboxWebhookPath}`, {
          method: 'POST',
          headers,
          body,
        });
      } else {
        await app.inject({ method: 'POST', url: sandboxWebhookPath, headers, payload: body });
      }
    },
  });
}

function deriveKey(masterKey: Buffer, purpose: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, '', purpose, bytes));
}

/** The sandbox's Standard Webhooks secret: derived, so it survives restarts. */
export function sandboxWebhookSecretFor(masterKey: Buffer): string {
  return `whsec_${deriveKey(masterKey, 'mite sandbox webhook secret', 24).toString('base64')}`;
}

function createFundingProvider(
  config: FundingConfig,
  masterKey: Buffer,
  appRef: { current?: HttpApp },
): FundingProvider | undefined {
  switch (config.provider) {
    case 'none':
      return undefined;
    case 'sandbox':
      return createSandbox(masterKey, appRef, config.confirmDelayMs ?? sandboxConfirmDelayMs);
    case 'stripe':
      return createStripeProvider(config);
  }
}

/**
 * The rule set in MITE_RISK_RULES_FILE (a JSON file, as the console takes one), in force while
 * the operator has stored none; undefined when unset. An unreadable file stops the start.
 */
function riskRulesFromEnv(env: PlatformOptions['env']): unknown {
  const file = env.MITE_RISK_RULES_FILE;
  if (file === undefined || file === '') return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`MITE_RISK_RULES_FILE ${file} is not a readable JSON file: ${String(error)}`, {
      cause: error,
    });
  }
}

/**
 * The risk engine with the rule set in force (the stored one, else the default), the policy over
 * it, and the store the operator versions rule sets in.
 */
async function createRisk(
  platformDb: PlatformDb,
  options: PlatformOptions,
  clock: () => number,
  timeZone: string,
) {
  const given = options.riskRules ?? riskRulesFromEnv(options.env) ?? defaultRuleSetInput;
  const parsed = parseRuleSet(given);
  if (!parsed.ok) throw new Error(`riskRules is not a valid rule set: ${parsed.detail ?? ''}`);
  // Valid, so the input as written is a rule set's.
  const fallback = given as RuleSetInput;
  const engine = createRiskEngine({ clock, ruleSet: parsed.value });
  const ruleSets = createRuleSetStore({
    platform: platformDb,
    engine,
    clock,
    fallback,
    onUnreadable: (version, detail) =>
      options.logger.error({ version, detail }, 'the stored risk rule set in force is invalid'),
  });
  await ruleSets.load();
  const redemptions = createRedemptionReports({
    db: platformDb.db,
    clock,
    payerOf: payerByPseudonym(platformDb.db),
  });
  const policy = createRiskPolicy({
    engine,
    merchantMembers: merchantMembersOf(platformDb),
    refreshRuleSet: () => ruleSets.refreshIfStale(),
    // The cash-out rule measures the month's resellable spending, as the caps count it.
    resellableSpend: async (userId, atMs) =>
      (await spendingOf(platformDb.db, userId, monthKeyAt(atMs, timeZone))).get('resellable') ?? 0n,
    redemptions,
  });
  return { engine, ruleSets, policy, redemptions };
}

async function createServices(
  ledger: Ledger,
  platformDb: PlatformDb,
  options: PlatformOptions,
  appRef: { current?: HttpApp },
) {
  const clock = options.clock ?? Date.now;
  const masterKeys = loadMasterKeys({ env: options.env, dataDir: options.dataDir });
  // Personal fields under each user's data key; the platform's own secrets under its root key,
  // random, or on a database older than data keys the master key it had (privacy/data-keys.ts).
  const keyring = createDataKeyring({ platform: platformDb, masterKeys, clock });
  const rootKey = await keyring.platformRoot(() => sealedBeforeDataKeys(platformDb.db));
  const cipher = createPersonalDataCipher(rootKey);
  // The sandbox's secrets stay derived from the master key, as before: a rotation changes them,
  // which only a sandbox (no real money) sees.
  const masterKey = masterKeys.current.key;
  await upgradeToDataKeys({ platform: platformDb, keyring, cipher, nowMs: clock() });
  const receiptKey = await loadReceiptKey(options.dataDir, options.env);
  // One batcher for every service, so that their writes share commits.
  const batcher = createTransactionBatcher(platformDb);
  const deps = { platform: platformDb, ledger, clock, batcher };
  const wallets = createWalletService({ ledger });
  // The users' own limits, minors and dormancy (limits/): the profiles the limits policy reads,
  // whose cache every change below is told of.
  const timeZone = options.timeZone ?? operatorTimeZoneFromEnv(options.env);
  const limitProfiles = createLimitProfiles({ platform: platformDb, keyring, timeZone });
  const activity = createUserActivity({ platform: platformDb, clock, profiles: limitProfiles });
  const users = createUserService({ ...deps, wallets, cipher, keyring, activity });
  const merchants = createMerchantService(deps);
  const limitSettings = createUserLimitSettings({
    platform: platformDb,
    clock,
    profiles: limitProfiles,
    merchantExists: async (merchantId) => (await merchants.merchantName(merchantId)) !== undefined,
  });
  const minors = createMinorSettings({
    platform: platformDb,
    keyring,
    clock,
    timeZone,
    profiles: limitProfiles,
    userIdByEmail: (email) => users.userIdByEmail(email),
  });
  const staffPrincipals = createStaffPrincipals({ platform: platformDb });
  const merchantPeople = createMerchantPeople({
    ...deps,
    users,
    merchants,
    keyring,
    staffPrincipals,
  });
  const merchantInvitations = createMerchantInvitations({
    ...deps,
    people: merchantPeople,
    cipher,
    keyring,
  });
  const operatorPeople = createOperatorPeople({ ...deps, users, staffPrincipals });
  const adminKeys = createAdminKeyService(deps);
  const transferIds = new TimeOrderedIds();
  const idempotency = createIdempotencyStore(platformDb, { clock, batcher, cipher });
  const risk = await createRisk(platformDb, options, clock, timeZone);
  // One gate for purchases, top-ups and token withdrawals: the platform's own policies (limits,
  // risk rules) and the one a deployment adds, composed so that the strictest verdict wins. Risk
  // comes first: it records every attempt, which a policy that blocks before it would hide.
  const limits = createSpendingLimits({
    platform: platformDb,
    profiles: limitProfiles,
    caps: options.platformCaps ?? platformCapsFromEnv(options.env),
    timeZone,
  });
  const freezes = createAccountFreezes({ platform: platformDb });
  const platformPolicies: Policy[] = [risk.policy, createFreezePolicy({ freezes }), limits.policy];
  const policyConfirmations = createPolicyConfirmations({ platform: platformDb, batcher, clock });
  const policy = createPolicyGate({
    policy: composePolicies([...platformPolicies, options.policy ?? allowEverything]),
    batcher,
    clock,
    confirmations: policyConfirmations,
  });
  const payments = createPaymentService({
    ...deps,
    policy,
    limits,
    merchants,
    cipher,
    receiptKey,
    transferIds,
  });
  const refunds = createRefundService({ ...deps, transferIds, freezes });
  const fundingConfig = options.funding ?? fundingConfigFromEnv(options.env);
  const fundingProvider = createFundingProvider(fundingConfig, masterKey, appRef);
  const topUps = createTopUpService({
    ...deps,
    policy,
    provider: fundingProvider,
    transferIds,
    keyring,
    activity,
    onDeclined: (decline) => risk.policy.recordTopUpDeclined(decline),
  });
  const bankChangeHoldMs = options.bankChangeHoldMs ?? bankChangeHoldMsFromEnv(options.env);
  const payouts = createPayoutService({
    ...deps,
    cipher,
    transferIds,
    debtor: payoutDebtorFromEnv(options.env),
    bankChangeHoldMs,
  });
  const webhooks = createWebhookService({
    platform: platformDb,
    clock,
    cipher,
    allowPrivateNetworks: options.env.MITE_WEBHOOK_ALLOW_PRIVATE_NETWORKS === '1',
  });
  const webhookRetention = createWebhookRetention({ platform: platformDb, clock });
  const reports = createReportService({ platform: platformDb });
  const tokenKeys = createTokenKeys({
    platform: platformDb,
    cipher,
    clock,
    ...(options.tokenDenominationsMicros === undefined
      ? {}
      : { denominationsMicros: options.tokenDenominationsMicros }),
  });
  const reportRollup = createReportRollup({ platform: platformDb });
  const purchaseDetailRetentionMs =
    options.purchaseDetailRetentionMs ?? purchaseDetailRetentionMsFromEnv(options.env);
  const purchaseCompaction = createPurchaseCompaction({
    platform: platformDb,
    clock,
    retentionMs: purchaseDetailRetentionMs,
  });
  const tokenWithdrawals = createTokenWithdrawals({
    platform: platformDb,
    ledger,
    tokenKeys,
    policy,
    limits,
    batcher,
    transferIds,
    clock,
  });
  // Deposits are priced and receipted as purchases are (their own caches of the same data).
  const tokenDeposits = createTokenDeposits({
    ...deps,
    freezes,
    tokenKeys,
    pricing: createPurchasePricing({ platform: platformDb, transferIds }),
    receipts: createPurchaseReceipts({ cipher, receiptKey }),
  });
  const tokenSwaps = createTokenSwaps({ platform: platformDb, batcher, tokenKeys, clock });
  const consents = createConsentService({
    platform: platformDb,
    clock,
    merchantExists: async (merchantId) => (await merchants.merchantName(merchantId)) !== undefined,
    pseudonym: (userId, merchantId) => payments.pseudonym(userId, merchantId),
  });
  const operator = {
    verifications: createLedgerVerifications({
      platform: platformDb,
      ledger,
      clock,
      onError: (error) => options.logger.error({ err: error }, 'ledger verification failed'),
    }),
    reads: createOperatorReads({ platform: platformDb, ledger, clock, bankChangeHoldMs, keyring }),
    views: createPersonalDataViews({ platform: platformDb, batcher, keyring, clock }),
  };
  // Payment sessions price, police and count their deposits as purchases do (issue 16).
  const paymentSessions = createPaymentSessions({
    ...deps,
    policy,
    limits,
    pricing: createPurchasePricing({ platform: platformDb, transferIds }),
    receiptKey,
    transferIds,
    pseudonym: (userId, merchantId) => payments.pseudonym(userId, merchantId),
    merchantName: (merchantId) => merchants.merchantName(merchantId),
    ...(options.sessionCloseGraceMs === undefined
      ? {}
      : { closeGraceMs: options.sessionCloseGraceMs }),
    onSweepError: (sessionId, error) =>
      options.logger.error({ err: error, sessionId }, 'a payment session could not be swept'),
  });
  const review = createPolicyReview(deps);
  const erasure = createAccountErasure({ ...deps, keyring, users, transferIds, limitProfiles });
  return {
    users,
    limitProfiles,
    limitSettings,
    minors,
    activity,
    timeZone,
    erasure,
    wallets,
    merchants,
    staffPrincipals,
    merchantPeople,
    merchantInvitations,
    operatorPeople,
    adminKeys,
    payments,
    limits,
    refunds,
    topUps,
    payouts,
    webhooks,
    webhookRetention,
    reports,
    reportRollup,
    purchaseCompaction,
    purchaseDetailRetentionMs,
    tokenKeys,
    tokenWithdrawals,
    tokenDeposits,
    tokenSwaps,
    paymentSessions,
    policyConfirmations,
    spentTokens: { purgeExpired: () => purgeExpiredSpentTokens(platformDb.db, clock()) },
    operator,
    review,
    freezes,
    consents,
    risk,
    // The retention purge deletes redemption reports past their period (jobs/platform-jobs.ts).
    redemptions: risk.redemptions,
    idempotency,
    receiptKeys: [receiptKey],
    fundingProvider,
    funding: { provider: fundingConfig.provider, sandbox: fundingProvider?.sandbox ?? false },
    transferIds,
    batcher,
    // What a test needs to build a variant of one service over this platform's stores.
    clock,
    cipher,
    keyring,
  };
}

const healthRoutes: FastifyPluginAsyncZod = async (api) => {
  api.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness',
        tags: ['health'],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
      config: { auth: 'public' },
    },
    async () => ({ status: 'ok' as const }),
  );
};

/** The webhook worker and the platform's jobs, each stopped by its `stop()`. */
function startBackgroundJobs(
  services: Platform['services'],
  options: PlatformOptions,
): { stop(): Promise<void> }[] {
  const webhookWorker = startWebhookWorker({
    service: services.webhooks,
    onError: (error) => options.logger.error({ err: error }, 'webhook delivery run failed'),
  });
  return [webhookWorker, startPlatformJobs({ ...services, logger: options.logger })];
}

/**
 * The whole platform: the ledger, the platform database, the services over them and the HTTP
 * API. Everything is made here from explicit options; nothing is global.
 */
export async function createPlatform(options: PlatformOptions): Promise<Platform> {
  const { ledgerUrl, platformUrl } = storeUrls(options);
  const ledger = await openLedger({ url: ledgerUrl });
  let platformDb: PlatformDb | undefined;
  try {
    platformDb = await openPlatformDb({ url: platformUrl });
    await ensurePlatformAccounts(ledger);
    const appRef: { current?: HttpApp } = {};
    const services = await createServices(ledger, platformDb, options, appRef);
    await services.payouts.sealPlaintextBankDetails();
    await services.idempotency.sealPlaintextResponses();
    await services.webhooks.sealPlaintextSecrets();
    await services.payments.recordPastPayers();
    const app = createHttpApp({
      logger: options.logger,
      metricsRegistry: new Registry(),
      limits: options.limits ?? defaultHttpLimits,
      ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
      authenticator: createAuthenticator(services),
      idempotency: services.idempotency,
    });
    appRef.current = app;
    await app.register(healthRoutes);
    await app.register(authRoutes, { users: services.users });
    await app.register(erasureRoutes, { erasure: services.erasure });
    await app.register(merchantPeopleRoutes, {
      people: services.merchantPeople,
      invitations: services.merchantInvitations,
      users: services.users,
    });
    await app.register(operatorSessionRoutes, {
      operators: services.operatorPeople,
      users: services.users,
    });
    await app.register(walletRoutes, {
      users: services.users,
      wallets: services.wallets,
      movements: createWalletMovements({ wallets: services.wallets, platform: platformDb }),
      purchases: createWalletPurchases(platformDb),
    });
    await app.register(retentionRoutes, {
      purchaseDetailRetentionMs: services.purchaseDetailRetentionMs,
    });
    await app.register(exportRoutes, {
      exporter: createUserExport({
        platform: platformDb,
        users: services.users,
        wallets: services.wallets,
        movements: createWalletMovements({ wallets: services.wallets, platform: platformDb }),
        cipher: services.cipher,
        keyring: services.keyring,
        clock: options.clock ?? Date.now,
      }),
    });
    await app.register(walletBudgetRoutes, {
      budgets: createWalletBudgets({ platform: platformDb, clock: options.clock ?? Date.now }),
    });
    await app.register(limitRoutes, {
      limits: services.limitSettings,
      activity: services.activity,
    });
    await app.register(minorRoutes, { minors: services.minors });
    await app.register(merchantRoutes, { merchants: services.merchants });
    await app.register(apiKeyRoutes, { merchants: services.merchants });
    await app.register(adminKeyRoutes, { adminKeys: services.adminKeys });
    await app.register(paymentRoutes, {
      payments: services.payments,
      refunds: services.refunds,
      receiptKeys: services.receiptKeys,
      consents: services.consents,
    });
    await app.register(sessionRoutes, { sessions: services.paymentSessions });
    await app.register(policyConfirmationRoutes, { confirmations: services.policyConfirmations });
    await app.register(consentRoutes, { consents: services.consents });
    await app.register(spendingRoutes, {
      limits: services.limits,
      clock: services.clock,
      fairPrices: createFairPriceReader({ db: platformDb.db, monthOf: services.limits.monthOf }),
    });
    await app.register(privacyUseRoutes, {
      consents: services.consents,
      suggestions: createSuggestions({ platform: platformDb, consents: services.consents }),
      emailOf: async (userId) => (await services.users.profile(userId))?.email,
    });
    await app.register(webhookRoutes, { webhooks: services.webhooks });
    await app.register(payoutRoutes, { payouts: services.payouts });
    await app.register(reportRoutes, { reports: services.reports });
    await app.register(topUpRoutes, {
      topUps: services.topUps,
      webhookProvider: services.fundingProvider?.name,
    });
    await app.register(fundingInfoRoutes, { funding: services.funding });
    await app.register(tokenKeyRoutes, { tokenKeys: services.tokenKeys });
    await app.register(tokenRoutes, {
      withdrawals: services.tokenWithdrawals,
      swaps: services.tokenSwaps,
      deposits: services.tokenDeposits,
    });
    await app.register(operatorRoutes, services.operator);
    await app.register(reviewRoutes, { review: services.review });
    await app.register(riskRuleSetRoutes, { ruleSets: services.risk.ruleSets });
    await app.register(redemptionRoutes, {
      redemptions: services.risk.redemptions,
      pseudonym: services.payments.pseudonym,
    });
    await app.register(webAppsPlugin, { root: options.webRoot });
    const background =
      options.backgroundJobs === false ? [] : startBackgroundJobs(services, options);
    const db = platformDb;
    return {
      app,
      dataDir: options.dataDir,
      ledger,
      platformDb: db,
      services,
      funding: services.funding,
      webAppsServed: webBuildPresent(options.webRoot),
      bootstrapAdminKey: () => services.adminKeys.bootstrap(),
      bootstrapOperator: (email) => services.operatorPeople.bootstrap({ email }),
      async close() {
        await Promise.all(background.map((job) => job.stop()));
        await app.close();
        // A verification under way reads the ledger: it ends before the ledger closes.
        await services.operator.verifications.drain();
        // The handlers app.close waited for may have queued writes: they commit first.
        await services.batcher.drain();
        await db.close();
        await ledger.close();
      },
    };
  } catch (error) {
    await platformDb?.close();
    await ledger.close();
    throw error;
  }
}
