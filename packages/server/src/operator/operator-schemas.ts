/**
 * The operator console's response shapes (operator-routes.ts, operator-list-routes.ts): amounts
 * as the protocol writes ledger amounts (decimal strings), times as ISO 8601.
 */
import { currency, formatLedgerAmount } from '@mite/protocol';
import { z } from 'zod';
import { accountKinds, type KindBalance } from './kind-balances.ts';
import type { LedgerVerification } from './ledger-verifications.ts';
import type {
  OperatorMerchant,
  OperatorTopUp,
  PayoutProgress,
  PendingSummary,
  WebhookBacklog,
} from './operator-reads.ts';
import type { PersonalDataView } from './personal-data-views.ts';

export const isoTime = (ms: number): string => new Date(ms).toISOString();
export const isoTimeOrNull = (ms: number | null): string | null =>
  ms === null ? null : isoTime(ms);

const kindBalanceSchema = z.object({
  accounts: z.number().int(),
  balance: z
    .string()
    .describe('Posted, on the kind\u2019s normal side (what is owed, earned or paid out)'),
  debitsPosted: z.string(),
  creditsPosted: z.string(),
  debitsPending: z.string(),
  creditsPending: z.string(),
});

export const verificationSchema = z.object({
  verificationId: z.string(),
  state: z.enum(['running', 'done', 'failed', 'abandoned']),
  requestedBy: z.string().describe('`operator:<id>`'),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  ok: z.boolean().nullable().describe('Whether verify() found no problem; null until done'),
  problemCount: z.number().int().nullable(),
  problems: z.array(z.string()).describe('The first problems verify() found'),
  balances: z
    .record(z.enum(accountKinds), kindBalanceSchema)
    .nullable()
    .describe('Balances per kind of account, read by the same run'),
  error: z.string().nullable().describe('Why the run could not finish'),
  currency: z.string(),
});

function kindBalanceBody(balance: KindBalance): z.infer<typeof kindBalanceSchema> {
  const amount = (micros: string) => formatLedgerAmount(BigInt(micros));
  return {
    accounts: balance.accounts,
    balance: amount(balance.balance),
    debitsPosted: amount(balance.debitsPosted),
    creditsPosted: amount(balance.creditsPosted),
    debitsPending: amount(balance.debitsPending),
    creditsPending: amount(balance.creditsPending),
  };
}

const noKindBalance: KindBalance = {
  accounts: 0,
  debitsPosted: '0',
  creditsPosted: '0',
  debitsPending: '0',
  creditsPending: '0',
  balance: '0',
};

export function verificationBody(run: LedgerVerification): z.infer<typeof verificationSchema> {
  const { balances } = run;
  return {
    verificationId: run.id,
    state: run.state,
    requestedBy: run.requestedBy,
    startedAt: isoTime(run.startedAtMs),
    finishedAt: isoTimeOrNull(run.finishedAtMs),
    ok: run.report?.ok ?? null,
    problemCount: run.report?.problemCount ?? null,
    problems: run.report?.problems ?? [],
    balances:
      balances === null
        ? null
        : (Object.fromEntries(
            // A run recorded before a kind existed (tokens outstanding) summed none of it.
            accountKinds.map((kind) => [kind, kindBalanceBody(balances[kind] ?? noKindBalance)]),
          ) as Record<(typeof accountKinds)[number], z.infer<typeof kindBalanceSchema>>),
    error: run.error,
    currency,
  };
}

export const pendingSchema = z.object({
  count: z.number().int(),
  amount: z.string(),
  oldestAt: z.string().nullable(),
});

export function pendingBody(summary: PendingSummary): z.infer<typeof pendingSchema> {
  return {
    count: summary.count,
    amount: formatLedgerAmount(summary.amountMicros),
    oldestAt: isoTimeOrNull(summary.oldestAtMs),
  };
}

export const payoutProgressSchema = z.object({
  batchId: z.string(),
  paid: pendingSchema,
  pending: pendingSchema,
  failed: pendingSchema,
  currency: z.string(),
});

export function payoutProgressBody(progress: PayoutProgress): z.infer<typeof payoutProgressSchema> {
  return {
    batchId: progress.batchId,
    paid: pendingBody(progress.paid),
    pending: pendingBody(progress.pending),
    failed: pendingBody(progress.failed),
    currency,
  };
}

export const operatorMerchantSchema = z.object({
  merchantId: z.string(),
  name: z.string(),
  createdAt: z.string(),
  state: z
    .enum(['active', 'payoutsHeld'])
    .describe('`payoutsHeld` while a bank-details change is cooling off'),
  feeBasisPoints: z.number().int(),
  payoutThreshold: z.string(),
  balance: z.string().describe('What the merchant has earned and not been paid out'),
  bankAccount: z.enum(['none', 'held', 'ready']),
  payoutsHeldUntil: z.string().nullable(),
  currency: z.string(),
  spendingCategory: z
    .enum(['content', 'goods'])
    .describe('The monthly cap its HTTP 402 challenges count under (PUT .../spending-class)'),
  resellable: z.boolean().describe('Whether its sales count under the lower resellable cap'),
});

export function operatorMerchantBody(
  merchant: OperatorMerchant,
): z.infer<typeof operatorMerchantSchema> {
  return {
    merchantId: merchant.merchantId,
    name: merchant.name,
    createdAt: isoTime(merchant.createdAtMs),
    state: merchant.bankAccount === 'held' ? 'payoutsHeld' : 'active',
    feeBasisPoints: merchant.feeBasisPoints,
    payoutThreshold: formatLedgerAmount(merchant.payoutThresholdMicros),
    balance: formatLedgerAmount(merchant.balanceMicros),
    bankAccount: merchant.bankAccount,
    payoutsHeldUntil: isoTimeOrNull(merchant.payoutsHeldUntilMs),
    currency,
    spendingCategory: merchant.spendingCategory,
    resellable: merchant.resellable,
  };
}

export const operatorTopUpSchema = z.object({
  topUpId: z.string(),
  state: z.enum(['pending', 'succeeded', 'failed']),
  amount: z.string(),
  cardFee: z.string().nullable().describe('What the card processor charged; known once confirmed'),
  provider: z.string(),
  sandbox: z.boolean(),
  cardLast4: z.string().nullable(),
  userErased: z
    .boolean()
    .describe('The user erased their account: their personal data is gone (cardLast4 is null)'),
  failureCode: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  currency: z.string(),
});

export function operatorTopUpBody(topUp: OperatorTopUp): z.infer<typeof operatorTopUpSchema> {
  return {
    topUpId: topUp.id,
    state: topUp.state,
    amount: formatLedgerAmount(topUp.amountMicros),
    cardFee: topUp.feeMicros === null ? null : formatLedgerAmount(topUp.feeMicros),
    provider: topUp.provider,
    sandbox: topUp.sandbox,
    cardLast4: topUp.cardLast4,
    userErased: topUp.userErased,
    failureCode: topUp.failureCode,
    createdAt: isoTime(topUp.createdAtMs),
    completedAt: isoTimeOrNull(topUp.completedAtMs),
    currency,
  };
}

export const webhookBacklogSchema = z.object({
  pending: z.number().int().describe('Deliveries not yet succeeded nor given up on'),
  due: z.number().int().describe('Of those, due for an attempt now'),
  oldestPendingAt: z.string().nullable().describe('When the oldest pending event happened'),
  failedLastDay: z.number().int().describe('Deliveries given up on in the last 24 hours'),
  failingEndpoints: z.array(
    z.object({
      endpointId: z.string(),
      merchantId: z.string().nullable().describe('Null for the operator\u2019s own endpoints'),
      origin: z.string().describe('The endpoint URL\u2019s origin (its path may hold a token)'),
      pending: z.number().int(),
      attemptsMax: z.number().int(),
      oldestAt: z.string().nullable(),
      lastStatus: z.number().int().nullable(),
      lastError: z.string().nullable(),
    }),
  ),
});

/** An endpoint URL's origin: its path and query may carry a secret token of the receiver's. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}

export function webhookBacklogBody(backlog: WebhookBacklog): z.infer<typeof webhookBacklogSchema> {
  return {
    pending: backlog.pendingCount,
    due: backlog.dueCount,
    oldestPendingAt: isoTimeOrNull(backlog.oldestPendingAtMs),
    failedLastDay: backlog.failedLastDayCount,
    failingEndpoints: backlog.failingEndpoints.map((endpoint) => ({
      endpointId: endpoint.endpointId,
      merchantId: endpoint.merchantId,
      origin: originOf(endpoint.url),
      pending: endpoint.pendingCount,
      attemptsMax: endpoint.attemptsMax,
      oldestAt: isoTimeOrNull(endpoint.oldestAtMs),
      lastStatus: endpoint.lastStatus,
      lastError: endpoint.lastError,
    })),
  };
}

export const personalDataViewSchema = z.object({
  viewId: z.string(),
  operator: z.string().describe('`operator:<id>`: who saw the field'),
  operatorEmail: z
    .string()
    .nullable()
    .describe('The operator person\u2019s email; null for an admin key'),
  recordKind: z.string(),
  recordId: z.string(),
  field: z.string(),
  reason: z.string(),
  viewedAt: z.string(),
});

export function personalDataViewBody(
  view: PersonalDataView,
): z.infer<typeof personalDataViewSchema> {
  return {
    viewId: view.id,
    operator: view.operator,
    operatorEmail: view.operatorEmail,
    recordKind: view.recordKind,
    recordId: view.recordId,
    field: view.field,
    reason: view.reason,
    viewedAt: isoTime(view.viewedAtMs),
  };
}
