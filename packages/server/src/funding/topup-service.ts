import { createHash } from 'node:crypto';
import type { Ledger, TimeOrderedIds, Transfer, TransferRecord } from '@mite/ledger';
import { currency, formatAmount } from '@mite/protocol';
import { keysetPages, type ReadPage } from '../db/keyset-pages.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { TopUpRow, TopUpState } from '../db/schema.ts';
import { ledgers, platformAccountIds, transferCodes } from '../ledger/chart-of-accounts.ts';
import { type DataKeyring, openUserField, userSubject } from '../privacy/data-keys.ts';
import { fail, ok, type Result } from '../result.ts';
import { enqueueWebhookEvent } from '../webhooks/outbox.ts';
import type {
  Charge,
  ChargeEvent,
  DeclineReason,
  FundingProvider,
  FundingSource,
} from './funding-provider.ts';
import { processorFeeMicros, sandboxFeeDefaults } from './sandbox-provider.ts';
import { type PolicyGate, type PolicyRefusal, stops } from '../policy/policy-decisions.ts';
import type { RequestOrigin } from '../policy/policy.ts';

/** The smallest top-up, $1.00: below it the processor's fixed fee eats most of the charge. */
export const topUpMicrosMin = 1_000_000n;
/** The largest top-up, $500.00: a prepaid wallet for micropayments, not a bank account. */
export const topUpMicrosMax = 500_000_000n;
/** Cards are charged in whole cents: 1 cent is 10,000 micro-units. */
export const topUpStepMicros = 10_000n;
/**
 * A top-up whose charge succeeded but which is still pending after this long was interrupted (a
 * crash between charging and booking): the reconciler books it.
 */
export const topUpPendingGraceMs = 30_000;
/** Pending top-ups the reconciler finishes per run, oldest first; the next run takes the rest. */
export const topUpReconcileRunMax = 500;
/** Rows the fee report reads per query: it pages through a period, never loading it whole. */
export const feeReportPageRowsMax = 1_000;

export type TopUpFailure =
  DeclineReason | 'validationFailed' | 'fundingUnavailable' | PolicyRefusal;
export type TopUpWebhookFailure = 'invalidSignature' | 'unknownCharge' | 'fundingUnavailable';

/** What the client is told to send, per kind of funding source. */
const sourceFieldByKind: { readonly [K in FundingSource['kind']]: string } = {
  card: 'card',
  paymentMethod: 'paymentMethod',
};

/** A top-up as the platform shows it: no card number, no card token. */
export interface TopUp {
  readonly id: string;
  readonly userId: string;
  readonly amountMicros: bigint;
  /** What the processor charged the platform; known once the charge succeeded. */
  readonly feeMicros: bigint | null;
  readonly provider: string;
  /** True when no real money moved: the sandbox processor, or a processor's test mode. */
  readonly sandbox: boolean;
  readonly cardLast4: string | null;
  readonly state: TopUpState;
  readonly failureCode: DeclineReason | null;
  readonly createdAtMs: number;
  readonly completedAtMs: number | null;
}

/** Card fees paid through top-ups in a period, against paying each purchase by card. */
export interface FeeReport {
  readonly fromMs: number;
  readonly toMs: number;
  readonly topUpCount: number;
  readonly topUpFeeMicros: bigint;
  readonly paymentCount: number;
  /** What the same purchases would have cost in card fees, each charged on its own. */
  readonly perPaymentCardFeeMicros: bigint;
  /** perPaymentCardFeeMicros - topUpFeeMicros: negative when top-ups cost more. */
  readonly savingMicros: bigint;
}

export interface CardFeeSchedule {
  readonly feeBasisPoints: number;
  readonly feeFixedMicros: bigint;
}

/** A top-up the processor declined: whose, how much, and where it came from as far as known. */
export interface TopUpDecline {
  readonly userId: string;
  readonly amountMicros: bigint;
  readonly origin: RequestOrigin;
}

export interface TopUpServiceDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  /** The card processor; without one, top-ups are refused (`fundingUnavailable`). */
  readonly provider: FundingProvider | undefined;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /** Decides, before the card is charged, whether a top-up may go ahead. */
  readonly policy: PolicyGate;
  /** Seals the card's last four digits under the user's data key (privacy/data-keys.ts). */
  readonly keyring: DataKeyring;
  /**
   * Told of each top-up the processor declines, at once or by its webhook, once: the risk rules
   * count declines (risk/risk-policy.ts). Where it came from is known only for a decline answered
   * at once; a later one carries its card token alone.
   */
  readonly onDeclined?: (decline: TopUpDecline) => void;
  /** The card fee the fee report compares against; the sandbox's 2.9% + $0.30 by default. */
  readonly perPaymentCardFee?: CardFeeSchedule;
  /** Rows per page of the fee report, 1 to feeReportPageRowsMax (the default). */
  readonly feeReportPageRows?: number;
  /** Top-ups the reconciler finishes per run, 1 to topUpReconcileRunMax (the default). */
  readonly reconcileRowsPerRun?: number;
  /** Told of every succeeded top-up (limits/user-activity.ts). */
  readonly activity?: { record(userId: string): Promise<void> };
}

/** A top-up row with the wallet it credits: all that booking it needs. */
type Booking = Pick<
  TopUpRow,
  'id' | 'amount_micros' | 'fee_micros' | 'credit_transfer_id' | 'fee_transfer_id' | 'state'
> & { readonly wallet_account_id: string };

/**
 * The top-up id is derived from the user and their idempotency key: a retried request finds the
 * same row, and since the id is also the processor's idempotency key, the card is charged once.
 */
export function topUpIdFor(userId: string, idempotencyKey: string): string {
  const digest = createHash('sha256').update(`${userId}\u0000${idempotencyKey}`).digest();
  return `top_${digest.toString('base64url').slice(0, 32)}`;
}

/**
 * Prepaid wallet funding through a card processor (DESIGN.md section 1, flow 1). The row is
 * written pending with fixed ledger transfer ids before the card is charged; whichever of the
 * synchronous answer, the processor's webhook (however often it comes) or the reconciler books
 * it first, the ledger takes those ids once, so the wallet is credited exactly once.
 */
export function createTopUpService(deps: TopUpServiceDeps) {
  const { platform, ledger, provider, clock } = deps;
  const db = platform.db;
  const feeReportPageRows = checkedRows(
    'feeReportPageRows',
    deps.feeReportPageRows,
    feeReportPageRowsMax,
  );
  const reconcileRowsPerRun = checkedRows(
    'reconcileRowsPerRun',
    deps.reconcileRowsPerRun,
    topUpReconcileRunMax,
  );

  /** Why a top-up cannot be taken as asked, before anything is written. */
  function accept(input: {
    amountMicros: bigint;
    source: FundingSource | undefined;
  }): Result<{ processor: FundingProvider; source: FundingSource }, TopUpFailure> {
    if (provider === undefined) {
      return fail('fundingUnavailable', 'this platform has no card processor configured');
    }
    const { amountMicros } = input;
    if (amountMicros < topUpMicrosMin || amountMicros > topUpMicrosMax) {
      return fail('validationFailed', 'a top-up is between 1.00 and 500.00');
    }
    if (amountMicros % topUpStepMicros !== 0n) {
      return fail('validationFailed', 'a top-up is a whole number of cents (two decimals)');
    }
    const { source } = input;
    if (source?.kind !== provider.sourceKind) {
      const field = sourceFieldByKind[provider.sourceKind];
      return fail('validationFailed', `this platform\u2019s card processor takes \`${field}\``);
    }
    return ok({ processor: provider, source });
  }

  async function topUp(input: {
    userId: string;
    amountMicros: bigint;
    source: FundingSource | undefined;
    idempotencyKey: string;
    /** The challenged decision the user confirmed, named by a retry (policy-confirmations.ts). */
    confirmationId?: string | undefined;
    /** Where the request came from (the card's token is added here), for the risk rules. */
    origin?: RequestOrigin;
  }): Promise<Result<TopUp, TopUpFailure>> {
    const accepted = accept(input);
    if (!accepted.ok) return accepted;
    const { processor, source } = accepted.value;
    const { amountMicros } = input;
    const origin = { ...input.origin, cardToken: processor.cardTokenOf(source) };
    const id = topUpIdFor(input.userId, input.idempotencyKey);
    const existing = await readRow(id);
    if (existing === undefined) {
      // A new top-up is put to the policy before anything is written; a retry of one the
      // policy let through is not asked again.
      const subject = {
        kind: 'topUp' as const,
        userId: input.userId,
        amountMicros,
        atMs: clock(),
        origin,
      };
      const { confirmationId } = input;
      const presented =
        confirmationId === undefined ? undefined : { decisionId: confirmationId, requestId: id };
      const decision = await deps.policy.decide(subject, presented);
      if (stops(decision)) return deps.policy.refuse(subject, decision);
    }
    const row = existing ?? (await insertPending(id, input.userId, amountMicros, processor));
    if (row.amount_micros !== amountMicros.toString()) {
      return fail('validationFailed', 'this idempotency key was used for another top-up');
    }
    // A pending row is charged again on a retry: the processor answers a repeated key with the
    // first charge, so this resumes an interrupted top-up without charging twice.
    if (row.state === 'pending' && row.provider === processor.name) {
      const charge = await processor.charge({ amountMicros, source, idempotencyKey: id });
      await recordCharge(id, input.userId, charge);
      if (charge.outcome.status === 'succeeded') await complete(id, charge.outcome.feeMicros);
      if (charge.outcome.status === 'declined') {
        await markFailed(id, charge.outcome.reason, origin);
      }
    }
    const done = await readRow(id);
    if (done === undefined) throw new Error(`bug: top-up ${id} vanished`);
    if (done.state === 'failed') return fail(declineReasonOf(done));
    return ok(await openTopUp(deps.keyring, done));
  }

  async function readRow(id: string): Promise<TopUpRow | undefined> {
    return db.selectFrom('topups').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async function insertPending(
    id: string,
    userId: string,
    amountMicros: bigint,
    processor: FundingProvider,
  ) {
    const row: TopUpRow = {
      id,
      user_id: userId,
      amount_micros: amountMicros.toString(),
      fee_micros: null,
      provider: processor.name,
      sandbox: processor.sandbox ? 1 : 0,
      charge_id: null,
      card_token: null,
      card_last4: null,
      state: 'pending',
      failure_code: null,
      credit_transfer_id: deps.transferIds.next().toString(),
      fee_transfer_id: deps.transferIds.next().toString(),
      created_at: BigInt(clock()),
      completed_at: null,
    };
    try {
      await db.insertInto('topups').values(row).execute();
      return row;
    } catch (error) {
      // Two requests with one idempotency key at once: the primary key lets one row through.
      const winner = await readRow(id);
      if (winner === undefined) throw error;
      return winner;
    }
  }

  /** Keeps what the processor left: its charge id, the card token and last four digits. */
  async function recordCharge(id: string, userId: string, charge: Charge): Promise<void> {
    const dataKey = await deps.keyring.keyFor(userSubject(userId));
    const cardLast4 =
      charge.last4 === null
        ? null
        : dataKey.encrypt(charge.last4, `user:${userId}:${cardLast4Purpose(id)}`);
    await db
      .updateTable('topups')
      .set({ charge_id: charge.chargeId, card_token: charge.cardToken, card_last4: cardLast4 })
      .where('id', '=', id)
      .where('charge_id', 'is', null)
      .execute();
  }

  /**
   * Books a succeeded charge and marks the top-up succeeded. The fee is recorded first: a row
   * pending with a fee is one the processor confirmed, which the reconciler may finish, and which
   * a late `charge.failed` no longer touches. The first fee recorded is the one booked.
   */
  async function complete(id: string, feeMicros: bigint): Promise<TopUpState> {
    await db
      .updateTable('topups')
      .set({ fee_micros: feeMicros.toString() })
      .where('id', '=', id)
      .where('state', '=', 'pending')
      .where('fee_micros', 'is', null)
      .execute();
    const booking = await readBooking(id);
    if (booking.state !== 'pending') return booking.state;
    await book(booking);
    const nowMs = clock();
    // The state and its `topup.succeeded` event in one transaction: the event exists exactly
    // when the top-up is recorded as succeeded, once, whatever the processor retries.
    const toppedUp = await db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('topups')
        .set({ state: 'succeeded', completed_at: BigInt(nowMs) })
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .returning(['user_id', 'amount_micros', 'fee_micros', 'sandbox'])
        .executeTakeFirst();
      if (updated === undefined) return undefined;
      await enqueueWebhookEvent(tx, {
        merchantId: null,
        type: 'topup.succeeded',
        payload: {
          topUpId: id,
          userId: updated.user_id,
          amount: formatAmount(BigInt(updated.amount_micros)),
          fee: formatAmount(BigInt(updated.fee_micros ?? '0')),
          currency,
          sandbox: updated.sandbox === 1,
        },
        nowMs,
      });
      return updated.user_id;
    });
    // A top-up is a use of the account: it keeps an active one from going dormant.
    if (toppedUp !== undefined) await deps.activity?.record(toppedUp);
    return 'succeeded';
  }

  async function readBooking(id: string): Promise<Booking> {
    return db
      .selectFrom('topups')
      .innerJoin('users', 'users.id', 'topups.user_id')
      .select([
        'topups.id',
        'topups.amount_micros',
        'topups.fee_micros',
        'topups.credit_transfer_id',
        'topups.fee_transfer_id',
        'topups.state',
        'users.wallet_account_id',
      ])
      .where('topups.id', '=', id)
      .executeTakeFirstOrThrow();
  }

  /**
   * The wallet credit and the processor's fee as one linked chain. A repeat fails the chain
   * (['exists', 'linkedEventFailed']), so anything but all-ok is settled by looking the transfers
   * up: present as meant means booked before.
   */
  async function book(booking: Booking): Promise<void> {
    const transfers = transfersOf(booking);
    const results = await ledger.createTransfers(transfers);
    if (results.every((result) => result === 'ok' || result === 'exists')) return;
    const stored = await ledger.lookupTransfers(transfers.map((transfer) => transfer.id));
    if (transfers.every((transfer) => stored.some((record) => sameTransfer(record, transfer)))) {
      return;
    }
    // A closed wallet, or ids taken by something else: money was charged and not credited, which
    // an operator must look at; the row stays pending.
    throw new Error(`top-up ${booking.id} could not be booked: ${results.join(', ')}`);
  }

  /**
   * Marks a pending top-up failed and tells `onDeclined`, once: only the call that moved the row
   * from pending tells it, so a webhook repeated or racing the answer is not counted twice.
   */
  async function markFailed(id: string, reason: DeclineReason, origin?: RequestOrigin) {
    const nowMs = clock();
    const failed = await db.transaction().execute(async (tx) => {
      const updated = await tx
        .updateTable('topups')
        .set({ state: 'failed', failure_code: reason, completed_at: BigInt(nowMs) })
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .where('fee_micros', 'is', null)
        .returning(['user_id', 'amount_micros', 'sandbox', 'card_token'])
        .executeTakeFirst();
      if (updated === undefined) return undefined;
      await enqueueWebhookEvent(tx, {
        merchantId: null,
        type: 'topup.failed',
        payload: {
          topUpId: id,
          userId: updated.user_id,
          amount: formatAmount(BigInt(updated.amount_micros)),
          currency,
          reason,
          sandbox: updated.sandbox === 1,
        },
        nowMs,
      });
      return updated;
    });
    if (failed === undefined) return;
    const cardToken = failed.card_token ?? origin?.cardToken;
    deps.onDeclined?.({
      userId: failed.user_id,
      amountMicros: BigInt(failed.amount_micros),
      origin: { ...origin, cardToken },
    });
  }

  /**
   * A processor's webhook, as received: `rawBody` is the request's bytes, which its signature
   * covers. Answers undefined for a genuine event that says nothing about a top-up.
   */
  async function handleProviderWebhook(
    headers: Readonly<Record<string, string | undefined>>,
    rawBody: Buffer,
  ): Promise<Result<{ topUpId: string; state: TopUpState } | undefined, TopUpWebhookFailure>> {
    if (provider === undefined) return fail('fundingUnavailable');
    const check = provider.verifyWebhook(headers, rawBody);
    if (!check.ok) return check;
    const event = check.value;
    if (event === undefined) return ok(undefined);
    // A webhook that overtakes the charge's answer finds no charge id yet: refused, so that the
    // processor delivers it again later.
    const row = await db
      .selectFrom('topups')
      .select(['id', 'state'])
      .where('provider', '=', provider.name)
      .where('charge_id', '=', event.chargeId)
      .executeTakeFirst();
    if (row === undefined) return fail('unknownCharge');
    if (row.state !== 'pending') return ok({ topUpId: row.id, state: row.state });
    return ok({ topUpId: row.id, state: await apply(row.id, event) });
  }

  async function apply(id: string, event: ChargeEvent): Promise<TopUpState> {
    if (event.type === 'charge.succeeded') return complete(id, event.feeMicros);
    await markFailed(id, event.reason);
    return (await readBooking(id)).state;
  }

  async function getTopUp(userId: string, topUpId: string): Promise<TopUp | undefined> {
    const row = await db
      .selectFrom('topups')
      .selectAll()
      .where('id', '=', topUpId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row === undefined ? undefined : openTopUp(deps.keyring, row);
  }

  /**
   * Finishes top-ups left pending after their charge succeeded (a crash between charging and
   * booking): the fixed transfer ids make booking again harmless. Pending rows without a fee are
   * waiting for the processor's webhook and are left alone. At most reconcileRowsPerRun a run,
   * oldest first (the next run takes the rest). Returns how many were finished.
   */
  async function reconcilePending(): Promise<number> {
    const stale = await db
      .selectFrom('topups')
      .select(['id', 'fee_micros'])
      .where('state', '=', 'pending')
      .where('fee_micros', 'is not', null)
      .where('created_at', '<', BigInt(clock() - topUpPendingGraceMs))
      .orderBy('created_at')
      .orderBy('id')
      .limit(reconcileRowsPerRun)
      .execute();
    for (const row of stale) await complete(row.id, BigInt(row.fee_micros ?? '0'));
    return stale.length;
  }

  /**
   * Card fees of a period. Its top-ups and payments are read a page at a time (keyset on id), so
   * a busy period is never held in memory whole; amounts are decimal text, summed as bigints here
   * because that is exact on both dialects.
   */
  async function feeReport(period: { fromMs: number; toMs: number }): Promise<FeeReport> {
    const schedule = deps.perPaymentCardFee ?? sandboxFeeDefaults;
    const from = BigInt(period.fromMs);
    const to = BigInt(period.toMs);
    const topUps = await sumPages(
      (afterId, pageRows) =>
        db
          .selectFrom('topups')
          .select(['id', 'fee_micros'])
          .where('state', '=', 'succeeded')
          .where('completed_at', '>=', from)
          .where('completed_at', '<', to)
          .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
          .orderBy('id')
          .limit(pageRows)
          .execute(),
      (row) => BigInt(row.fee_micros ?? '0'),
    );
    const payments = await sumPages(
      (afterId, pageRows) =>
        db
          .selectFrom('payments')
          .select(['id', 'amount_micros'])
          .where('state', '=', 'succeeded')
          .where('completed_at', '>=', from)
          .where('completed_at', '<', to)
          .$if(afterId !== undefined, (query) => query.where('id', '>', afterId ?? ''))
          .orderBy('id')
          .limit(pageRows)
          .execute(),
      (row) => processorFeeMicros(BigInt(row.amount_micros), schedule),
    );
    return {
      ...period,
      topUpCount: topUps.count,
      topUpFeeMicros: topUps.totalMicros,
      paymentCount: payments.count,
      perPaymentCardFeeMicros: payments.totalMicros,
      savingMicros: payments.totalMicros - topUps.totalMicros,
    };
  }

  /** Counts and sums rows read page by page, each page after the last id of the one before. */
  async function sumPages<Row extends { readonly id: string }>(
    readPage: ReadPage<Row>,
    microsOf: (row: Row) => bigint,
  ): Promise<{ count: number; totalMicros: bigint }> {
    let count = 0;
    let totalMicros = 0n;
    for await (const rows of keysetPages(readPage, feeReportPageRows)) {
      for (const row of rows) totalMicros += microsOf(row);
      count += rows.length;
    }
    return { count, totalMicros };
  }

  return { topUp, handleProviderWebhook, getTopUp, reconcilePending, feeReport };
}

export type TopUpService = ReturnType<typeof createTopUpService>;

/** (1) the processor owes the platform the amount, credited to the wallet; (2) its fee. */
function transfersOf(booking: Booking): Transfer[] {
  const credit: Transfer = {
    id: BigInt(booking.credit_transfer_id),
    debitAccountId: platformAccountIds.processorReceivable,
    creditAccountId: BigInt(booking.wallet_account_id),
    amount: BigInt(booking.amount_micros),
    ledger: ledgers.usd,
    code: transferCodes.topUp,
  };
  const feeMicros = BigInt(booking.fee_micros ?? '0');
  // The ledger refuses a zero amount; a fee-free charge is the credit alone.
  if (feeMicros === 0n) return [credit];
  const fee: Transfer = {
    id: BigInt(booking.fee_transfer_id),
    debitAccountId: platformAccountIds.cardFees,
    creditAccountId: platformAccountIds.processorReceivable,
    amount: feeMicros,
    ledger: ledgers.usd,
    code: transferCodes.cardFee,
  };
  return [{ ...credit, flags: { linked: true } }, fee];
}

function sameTransfer(record: TransferRecord, transfer: Transfer): boolean {
  return (
    record.id === transfer.id &&
    record.debitAccountId === transfer.debitAccountId &&
    record.creditAccountId === transfer.creditAccountId &&
    record.amount === transfer.amount &&
    record.code === transfer.code
  );
}

/** A number of rows from the deps, `max` when not given; throws unless it is 1 to `max`. */
function checkedRows(name: string, rows: number | undefined, max: number): number {
  const checked = rows ?? max;
  if (!Number.isInteger(checked) || checked < 1 || checked > max) {
    throw new Error(`${name} must be an integer in 1..${max}`);
  }
  return checked;
}

const declineReasons: ReadonlySet<string> = new Set<DeclineReason>([
  'cardDeclined',
  'insufficientFunds',
  'expiredCard',
  'invalidCard',
]);

function declineReasonOf(row: TopUpRow): DeclineReason {
  const code = row.failure_code ?? '';
  if (!declineReasons.has(code)) throw new Error(`bug: top-up ${row.id} failed with ${code}`);
  return code as DeclineReason;
}

/**
 * The purpose a top-up's sealed card digits are bound to, under the user's data key: the
 * context is `user:<user id>:topup:<top-up id>:card_last4` (see openUserField).
 */
export function cardLast4Purpose(topUpId: string): string {
  return `topup:${topUpId}:card_last4`;
}

/** A top-up's sealed card digits, opened; null when none were kept or the user was erased. */
export async function openCardLast4(
  keyring: Pick<DataKeyring, 'existingKeyFor'>,
  row: Pick<TopUpRow, 'id' | 'user_id' | 'card_last4'>,
): Promise<string | null> {
  if (row.card_last4 === null) return null;
  const opened = await openUserField(
    keyring,
    row.user_id,
    row.card_last4,
    cardLast4Purpose(row.id),
  );
  return opened ?? null;
}

async function openTopUp(keyring: DataKeyring, row: TopUpRow): Promise<TopUp> {
  return toTopUp(row, await openCardLast4(keyring, row));
}

function toTopUp(row: TopUpRow, cardLast4: string | null): TopUp {
  return {
    id: row.id,
    userId: row.user_id,
    amountMicros: BigInt(row.amount_micros),
    feeMicros: row.fee_micros === null ? null : BigInt(row.fee_micros),
    provider: row.provider,
    sandbox: row.sandbox === 1,
    cardLast4,
    state: row.state,
    failureCode: row.failure_code === null ? null : declineReasonOf(row),
    createdAtMs: Number(row.created_at),
    completedAtMs: row.completed_at === null ? null : Number(row.completed_at),
  };
}
