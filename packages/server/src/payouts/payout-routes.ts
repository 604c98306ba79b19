import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { formatLedgerAmount } from '@mite/protocol';
import { encodeCursor, page, pageQuery, pageSchema } from '../http/pagination.ts';
import { sendProblem } from '../http/problems.ts';
import { holderNameLengthMax } from './bank-details.ts';
import {
  type BankAccount,
  type BankFileFormat,
  type FrozenPayout,
  type HeldPayout,
  type MerchantPayout,
  type Payout,
  type PayoutBatch,
  type PayoutBatchSummary,
  payoutCurrency,
  type PayoutService,
  type ReconciliationFinding,
  type ReconciliationFindingCode,
  type ReconciliationReport,
} from './payout-service.ts';
import { actsForMerchant, requirePrincipal } from '../http/route-config.ts';

const batchIdSchema = z.string().min(1).max(64);
const isoTime = (ms: number) => new Date(ms).toISOString();
const isoTimeOrNull = (ms: number | null) => (ms === null ? null : isoTime(ms));

const payoutSchema = z.object({
  payoutId: z.string().describe('Also the EndToEndId of its credit transfer in the bank file'),
  merchantId: z.string(),
  amount: z.string().describe('Whole cents: the balance rounded down; the rest stays'),
  currency: z.string(),
  state: z.enum(['pending', 'paid', 'failed']),
  failureCode: z.string().nullable().describe('Why the ledger refused the transfer'),
  transferId: z.string().describe('The ledger transfer, fixed before any money moved'),
  holderName: z.string(),
  iban: z.string(),
  bic: z.string(),
  completedAt: z.string().nullable(),
});

const batchSummarySchema = z.object({
  batchId: z.string().describe('Also the MsgId of the bank file'),
  state: z.enum(['building', 'paid', 'failed']),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
  total: z.string().describe('While building, the payouts planned; once done, those paid'),
  currency: z.string(),
  count: z.number().int(),
  files: z
    .object({ xml: z.string(), csv: z.string() })
    .nullable()
    .describe('Where the bank files are, once the batch has paid anything'),
});

const batchSchema = batchSummarySchema.extend({ payouts: z.array(payoutSchema) });

const bankAccountSchema = z.object({
  holderName: z.string(),
  iban: z.string(),
  bic: z.string(),
  updatedAt: z.string(),
  payoutsHeldUntil: z
    .string()
    .describe('Payout runs pass the merchant by until then: the hold after the last change'),
});

const heldSchema = z
  .array(
    z.object({
      merchantId: z.string(),
      reason: z.literal('bankDetailsChanged'),
      bankDetailsChangedAt: z.string(),
      heldUntil: z.string().describe('The first run from then pays the merchant'),
    }),
  )
  .describe('Merchants due a payout but not paid: their bank details changed lately');

function heldBody(held: HeldPayout): z.infer<typeof heldSchema>[number] {
  return {
    merchantId: held.merchantId,
    reason: 'bankDetailsChanged',
    bankDetailsChangedAt: isoTime(held.bankDetailsChangedAtMs),
    heldUntil: isoTime(held.heldUntilMs),
  };
}

const frozenSchema = z
  .array(
    z.object({
      merchantId: z.string(),
      reason: z.literal('accountFrozen'),
      frozenAt: z.string(),
    }),
  )
  .describe(
    'Merchants due a payout but not paid: frozen after a confirmed fraud; the balance stays ' +
      'until the freeze is lifted (`/v1/operator/account-freezes`)',
  );

function frozenBody(frozen: FrozenPayout): z.infer<typeof frozenSchema>[number] {
  return {
    merchantId: frozen.merchantId,
    reason: 'accountFrozen',
    frozenAt: isoTime(frozen.frozenAtMs),
  };
}

const amountOrNull = z.string().nullable();
const reconciliationSchema = z.object({
  batchId: z.string(),
  state: z.enum(['building', 'paid', 'failed']),
  matches: z.boolean().describe('Every payout and total agrees across ledger, database and files'),
  problems: z.array(z.string()),
  currency: z.string(),
  totals: z.object({
    paid: z.string(),
    paidCount: z.number().int(),
    batch: z.string(),
    ledger: z.string(),
    ledgerCount: z.number().int(),
    xml: z.string(),
    xmlControlSum: z.string(),
    xmlCount: z.number().int(),
    csv: z.string(),
    csvCount: z.number().int(),
  }),
  lines: z.array(
    z.object({
      payoutId: z.string(),
      merchantId: z.string(),
      state: z.enum(['pending', 'paid', 'failed']),
      amount: z.string(),
      transferId: z.string(),
      ledgerAmount: amountOrNull.describe('The ledger transfer found, if any'),
      xmlAmount: amountOrNull,
      csvAmount: amountOrNull,
      problems: z.array(z.string()),
    }),
  ),
});

function summaryBody(batch: PayoutBatchSummary): z.infer<typeof batchSummarySchema> {
  const base = `/v1/payout-batches/${encodeURIComponent(batch.batchId)}`;
  return {
    batchId: batch.batchId,
    state: batch.state,
    createdAt: isoTime(batch.createdAtMs),
    completedAt: isoTimeOrNull(batch.completedAtMs),
    total: formatLedgerAmount(batch.totalMicros),
    currency: payoutCurrency,
    count: batch.count,
    files: batch.hasFiles ? { xml: `${base}/pain.001.xml`, csv: `${base}/payouts.csv` } : null,
  };
}

function payoutBody(payout: Payout): z.infer<typeof payoutSchema> {
  return {
    payoutId: payout.id,
    merchantId: payout.merchantId,
    amount: formatLedgerAmount(payout.amountMicros),
    currency: payoutCurrency,
    state: payout.state,
    failureCode: payout.failureCode,
    transferId: payout.transferId.toString(),
    holderName: payout.holderName,
    iban: payout.iban,
    bic: payout.bic,
    completedAt: isoTimeOrNull(payout.completedAtMs),
  };
}

function batchBody(batch: PayoutBatch): z.infer<typeof batchSchema> {
  return { ...summaryBody(batch), payouts: batch.payouts.map(payoutBody) };
}

function bankAccountBody(account: BankAccount): z.infer<typeof bankAccountSchema> {
  return {
    holderName: account.holderName,
    iban: account.iban,
    bic: account.bic,
    updatedAt: isoTime(account.updatedAtMs),
    payoutsHeldUntil: isoTime(account.payoutsHeldUntilMs),
  };
}

const fileNames = { xml: 'XML', csv: 'CSV' } as const;

/**
 * The words for each reconciliation finding, the one place they are written. Keyed by every
 * code: a new code without its words does not compile.
 */
const findingTexts: {
  readonly [Code in ReconciliationFindingCode]: (
    finding: Extract<ReconciliationFinding, { code: Code }>,
  ) => string;
} = {
  payoutPending: () => 'still pending: its batch is building (a payout run resumes it)',
  paidWithoutTransfer: () => 'paid, but the ledger has no transfer',
  transferAmountDiffers: () => 'the ledger transfer has another amount',
  transferNotFromMerchant: () => "the ledger transfer does not debit the merchant's account",
  transferNotToSettlement: () => 'the ledger transfer does not credit the settlement account',
  transferNotPayout: () => 'the ledger transfer is not a payout',
  paidMissingFromFile: ({ file }) => `paid, but missing from the ${fileNames[file]} file`,
  fileAmountDiffers: ({ file }) => `the ${fileNames[file]} file has another amount`,
  failedWithTransfer: () => 'failed, but the ledger has its transfer',
  failedInFile: ({ file }) => `failed, but in the ${fileNames[file]} file`,
  fileAltered: ({ file }) =>
    `the ${fileNames[file]} file does not decrypt: it was altered where it is stored`,
  fileMissing: ({ file }) => `the batch is paid but has no ${fileNames[file]} file`,
  fileUnreadable: ({ file, reason }) => `the ${fileNames[file]} file cannot be read: ${reason}`,
  filePaysTwice: ({ file, payoutId }) => `the ${fileNames[file]} file pays ${payoutId} twice`,
  filePaysOutsideBatch: ({ file, payoutId }) =>
    `the ${fileNames[file]} file pays ${payoutId}, not in the batch`,
  fileCurrencyDiffers: ({ file, payoutId, currency }) =>
    `the ${fileNames[file]} file pays ${payoutId} in ${currency}`,
  xmlMessageIdDiffers: () => 'the XML file has another MsgId',
  xmlCountDiffers: () => 'the XML file NbOfTxs differs from its transactions',
  xmlControlSumDiffers: () => 'the XML file CtrlSum differs from the sum of its amounts',
  fileTotalsDiffer: ({ file }) => `the ${fileNames[file]} file totals differ from the paid payouts`,
  batchBuilding: () => 'the batch is still building: a payout run resumes it',
  batchTotalsDiffer: () => "the batch's total or count differs from its paid payouts",
  ledgerTotalDiffers: () => 'the ledger moved a different total than was paid',
};

/** A finding in words, for operators reading the report. */
export function findingText(finding: ReconciliationFinding): string {
  // The table's entry for a code takes that code's finding; TypeScript cannot follow the pairing.
  const text = findingTexts[finding.code] as (finding: ReconciliationFinding) => string;
  return text(finding);
}

const orNull = (micros: bigint | null) => (micros === null ? null : formatLedgerAmount(micros));

function reconciliationBody(report: ReconciliationReport): z.infer<typeof reconciliationSchema> {
  const { totals } = report;
  return {
    batchId: report.batchId,
    state: report.state,
    matches: report.matches,
    problems: report.findings.map(findingText),
    currency: payoutCurrency,
    totals: {
      paid: formatLedgerAmount(totals.paidMicros),
      paidCount: totals.paidCount,
      batch: formatLedgerAmount(totals.batchMicros),
      ledger: formatLedgerAmount(totals.ledgerMicros),
      ledgerCount: totals.ledgerCount,
      xml: formatLedgerAmount(totals.xmlMicros),
      xmlControlSum: formatLedgerAmount(totals.xmlControlSumMicros),
      xmlCount: totals.xmlCount,
      csv: formatLedgerAmount(totals.csvMicros),
      csvCount: totals.csvCount,
    },
    lines: report.lines.map((line) => ({
      payoutId: line.payoutId,
      merchantId: line.merchantId,
      state: line.state,
      amount: formatLedgerAmount(line.amountMicros),
      transferId: line.transferId.toString(),
      ledgerAmount: orNull(line.ledgerAmountMicros),
      xmlAmount: orNull(line.xmlAmountMicros),
      csvAmount: orNull(line.csvAmountMicros),
      problems: line.findings.map(findingText),
    })),
  };
}

const bankFiles: Readonly<
  Record<BankFileFormat, { path: string; contentType: string; summary: string }>
> = {
  xml: {
    path: 'pain.001.xml',
    contentType: 'application/xml; charset=utf-8',
    summary: 'The batch as an ISO 20022 pain.001.001.09 credit transfer file for the bank',
  },
  csv: {
    path: 'payouts.csv',
    contentType: 'text/csv; charset=utf-8; header=present',
    summary: 'The batch\u2019s payouts as CSV (RFC 4180)',
  },
};

type PayoutRoutes = FastifyPluginAsyncZod<{ payouts: PayoutService }>;

/**
 * Payouts: operators run them and fetch each batch, its bank files and its reconciliation report;
 * a merchant sets the bank account it is paid to.
 */
export const payoutRoutes: PayoutRoutes = async (api, options) => {
  await api.register(payoutRunRoute, options);
  await api.register(batchRoutes, options);
  await api.register(bankFileRoutes, options);
  await api.register(bankAccountRoutes, options);
  await api.register(merchantPayoutRoutes, options);
};

/** Running payouts: one batch of every merchant due, after any batch left building. */
const payoutRunRoute: PayoutRoutes = async (api, { payouts }) => {
  api.post(
    '/v1/payout-runs',
    {
      schema: {
        summary: 'Pay every merchant due a payout, in one batch',
        description:
          'Finishes any batch an earlier run left building (never paying twice), then moves ' +
          'each merchant\u2019s balance, once it reaches the merchant\u2019s payout threshold and ' +
          'the merchant has a bank account, to the settlement account, rounded down to whole ' +
          'cents, and writes the bank files. A merchant whose bank details were set or changed ' +
          'less than the hold ago (48 hours unless configured) is not paid yet, and is listed in ' +
          '`held`. A merchant frozen after a confirmed fraud is not paid while the freeze ' +
          'lasts, and is listed in `frozen`. 201 with the new batch; 200 when nothing was due.',
        tags: ['payouts'],
        response: {
          201: batchSchema.extend({
            resumedBatchIds: z.array(z.string()),
            held: heldSchema,
            frozen: frozenSchema,
          }),
          200: z.object({
            nothingDue: z.literal(true),
            resumedBatchIds: z.array(z.string()),
            held: heldSchema,
            frozen: frozenSchema,
          }),
        },
      },
      config: { auth: { kinds: ['operator'] }, idempotent: true },
    },
    async (request, reply) => {
      const run = await payouts.runPayouts({
        onProgress: (progress) => request.log.info({ payoutProgress: progress }, 'payout run'),
      });
      const notes = {
        resumedBatchIds: [...run.resumedBatchIds],
        held: run.held.map(heldBody),
        frozen: run.frozen.map(frozenBody),
      };
      if (run.nothingDue) return reply.code(200).send({ nothingDue: true, ...notes });
      return reply.code(201).send({ ...batchBody(run), ...notes });
    },
  );
};

/** The batches that runs made. */
const batchRoutes: PayoutRoutes = async (api, { payouts }) => {
  api.get(
    '/v1/payout-batches',
    {
      schema: {
        summary: 'Payout batches, newest first',
        tags: ['payouts'],
        querystring: pageQuery(z.object({ batchId: batchIdSchema })),
        response: { 200: pageSchema(batchSummarySchema) },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const batches = await payouts.listBatches({
        limit: limit + 1,
        ...(cursor === undefined ? {} : { beforeBatchId: cursor.batchId }),
      });
      const shown = page(batches, limit, (batch) => ({ batchId: batch.batchId }));
      return { items: shown.items.map(summaryBody), nextCursor: shown.nextCursor };
    },
  );

  api.get(
    '/v1/payout-batches/:batchId',
    {
      schema: {
        summary: 'A payout batch and its payouts',
        tags: ['payouts'],
        params: z.object({ batchId: batchIdSchema }),
        response: { 200: batchSchema },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request, reply) => {
      const batch = await payouts.getBatch(request.params.batchId);
      if (batch === undefined) return sendProblem(reply, 'notFound', 'No such payout batch.');
      return batchBody(batch);
    },
  );
};

/** A batch's bank files, and its reconciliation against them and the ledger. */
const bankFileRoutes: PayoutRoutes = async (api, { payouts }) => {
  for (const format of ['xml', 'csv'] as const) {
    const file = bankFiles[format];
    api.get(
      `/v1/payout-batches/:batchId/${file.path}`,
      {
        schema: {
          summary: file.summary,
          tags: ['payouts'],
          params: z.object({ batchId: batchIdSchema }),
          response: {
            200: {
              description: file.summary,
              content: { [file.contentType.split(';')[0] ?? '']: { schema: z.string() } },
            },
          },
        },
        config: { auth: { kinds: ['operator'] } },
      },
      async (request, reply) => {
        const { batchId } = request.params;
        const found = await payouts.getBankFile(batchId, format);
        if (!found.ok) {
          const detail = found.code === 'batchNotFound' ? 'No such payout batch.' : found.detail;
          return sendProblem(reply, 'notFound', detail);
        }
        reply.header('content-type', file.contentType);
        reply.header('content-disposition', `attachment; filename="${batchId}.${file.path}"`);
        return reply.send(found.value);
      },
    );
  }

  api.get(
    '/v1/payout-batches/:batchId/reconciliation',
    {
      schema: {
        summary: 'Reconcile a batch: database, ledger transfers and bank files, payout by payout',
        tags: ['payouts'],
        params: z.object({ batchId: batchIdSchema }),
        response: { 200: reconciliationSchema },
      },
      config: { auth: { kinds: ['operator'] } },
    },
    async (request, reply) => {
      const report = await payouts.reconciliationReport(request.params.batchId);
      if (!report.ok) return sendProblem(reply, 'notFound', 'No such payout batch.');
      return reconciliationBody(report.value);
    },
  );
};

/** The bank account a merchant is paid to. */
const bankAccountRoutes: PayoutRoutes = async (api, { payouts }) => {
  api.put(
    '/v1/bank-account',
    {
      schema: {
        summary: 'Set the bank account my payouts go to',
        description:
          'A new or changed account is announced to the merchant (`bank_account.updated` ' +
          'webhook, with the last four digits of the IBAN) and receives no payout until the hold ' +
          'after a change has passed (48 hours unless the operator configured another). ' +
          'Sending the same details again changes nothing.',
        tags: ['payouts'],
        body: z.object({
          holderName: z.string().min(1).max(holderNameLengthMax),
          iban: z.string().min(15).max(50).describe('Spaces allowed; the check digits are checked'),
          bic: z.string().min(8).max(14),
        }),
        response: { 200: bankAccountSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['bank_account:write'] }, idempotent: true },
    },
    async (request, reply) => {
      const set = await payouts.setBankAccount(
        requirePrincipal(request, 'merchant').id,
        request.body,
      );
      if (!set.ok) return sendProblem(reply, set.code, set.detail);
      return bankAccountBody(set.value);
    },
  );

  api.get(
    '/v1/bank-account',
    {
      schema: {
        summary: 'The bank account my payouts go to',
        tags: ['payouts'],
        response: { 200: bankAccountSchema },
      },
      config: { auth: { kinds: ['merchant'], scopes: ['bank_account:read'] } },
    },
    async (request, reply) => {
      const account = await payouts.getBankAccount(requirePrincipal(request, 'merchant').id);
      if (account === undefined) return sendProblem(reply, 'notFound', 'No bank account is set.');
      return bankAccountBody(account);
    },
  );
};

const merchantPayoutSchema = z.object({
  payoutId: z.string().describe('Also the EndToEndId of its credit transfer in the bank file'),
  batchId: z.string().describe('The batch that paid it (the bank file\u2019s MsgId)'),
  batchState: z.enum(['building', 'paid', 'failed']),
  amount: z.string().describe('Whole cents'),
  currency: z.string(),
  state: z.enum(['pending', 'paid', 'failed']),
  failureCode: z.string().nullable().describe('Why the ledger refused the transfer'),
  createdAt: z.string().describe('ISO 8601: when its batch planned it'),
  completedAt: z.string().nullable(),
  bankTransfer: z
    .object({
      endToEndId: z.string(),
      remittanceInformation: z.string().describe('What the merchant\u2019s bank shows'),
      holderName: z.string(),
      ibanLast4: z.string(),
      bic: z.string(),
    })
    .nullable()
    .describe('The credit transfer the batch\u2019s bank files carry for it, once paid'),
  reconciliation: z
    .object({
      state: z.enum(['matches', 'pending', 'mismatch']),
      problems: z.array(z.string()),
    })
    .describe(
      'The payout against its ledger transfer: `pending` while its batch is being paid; the ' +
        'bank files are reconciled batch by batch by the operator',
    ),
});

function merchantPayoutBody(payout: MerchantPayout): z.infer<typeof merchantPayoutSchema> {
  const check = payout.ledgerCheck;
  return {
    payoutId: payout.payoutId,
    batchId: payout.batchId,
    batchState: payout.batchState,
    amount: formatLedgerAmount(payout.amountMicros),
    currency: payoutCurrency,
    state: payout.state,
    failureCode: payout.failureCode,
    createdAt: isoTime(payout.createdAtMs),
    completedAt: isoTimeOrNull(payout.completedAtMs),
    bankTransfer: payout.bankTransfer,
    reconciliation: {
      state: check.state,
      problems: check.state === 'mismatch' ? check.findings.map(findingText) : [],
    },
  };
}

/** A merchant's own payouts (an operator's view of any merchant's). */
const merchantPayoutRoutes: PayoutRoutes = async (api, { payouts }) => {
  api.get(
    '/v1/merchants/:merchantId/payouts',
    {
      schema: {
        summary: 'A merchant\u2019s payouts, newest first, each checked against the ledger',
        description:
          'A merchant reads its own (another merchant\u2019s id is answered 404, as an unknown ' +
          'one); operators read any merchant\u2019s. Paged by `cursor`; a page never shifts ' +
          'under new payouts.',
        tags: ['payouts'],
        params: z.object({ merchantId: z.string().min(1).max(100) }),
        querystring: pageQuery(z.object({ payoutId: z.string().min(1).max(64) })),
        response: { 200: pageSchema(merchantPayoutSchema) },
      },
      config: { auth: { kinds: ['merchant', 'operator'], scopes: ['reports:read'] } },
    },
    async (request, reply) => {
      const { merchantId } = request.params;
      if (!actsForMerchant(request, merchantId)) return sendProblem(reply, 'merchantNotFound');
      const { cursor, limit } = request.query;
      const listed = await payouts.listMerchantPayouts({
        merchantId,
        limit,
        beforeId: cursor?.payoutId,
      });
      if (!listed.ok) return sendProblem(reply, listed.code);
      const next = listed.value.nextBeforeId;
      return {
        items: listed.value.items.map(merchantPayoutBody),
        nextCursor: next === undefined ? null : encodeCursor({ payoutId: next }),
      };
    },
  );
};
