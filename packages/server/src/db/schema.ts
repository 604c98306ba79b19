/**
 * Kysely's view of the platform tables (everything but the ledger), as created by the migrations
 * in ./migrations. Conventions that hold on both SQLite and PostgreSQL:
 * - timestamps are integer milliseconds since the epoch in `bigint` (int8) columns, read as JS
 *   `bigint` (a `*_at` column is always such a timestamp);
 * - `integer` columns hold 32-bit values and read as JS `number`;
 * - ids, decimals (micro-units) and JSON are `text`.
 * A later migration changes these types together with its migration file, never the reverse.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Milliseconds since the epoch, as stored in an int8 column. */
export type EpochMs = bigint;

export interface UsersTable {
  /** uuidv7-style, chosen by the caller. */
  id: string;
  /** HMAC of the normalised email (the plain email is never stored): finds a user by email. */
  email_lookup: string;
  /** The email encrypted with the user's data key, base64. */
  email_ciphertext: string;
  password_hash: string;
  /** The user's wallet in the ledger: a u128 account id in decimal. */
  wallet_account_id: string;
  created_at: EpochMs;
  disabled_at: EpochMs | null;
  /** When the person erased their account (migration 0026): their data key is destroyed. */
  erased_at: Generated<EpochMs | null>;
  /** The declared birth date (`YYYY-MM-DD`) sealed under the user's data key (migration 0030). */
  birth_date_ciphertext: Generated<string | null>;
  /** When the birth date was declared: it is declared once. */
  birth_date_declared_at: Generated<EpochMs | null>;
  /** The last log-in, top-up or re-enabling; a year without any makes the account dormant. */
  last_active_at: Generated<EpochMs | null>;
  /** When the user last re-enabled a dormant account (`POST /v1/users/me/reactivation`). */
  reactivated_at: Generated<EpochMs | null>;
}

export interface SessionsTable {
  /** A hash of the session token: a leaked table does not hand out sessions. */
  token_hash: string;
  user_id: string;
  created_at: EpochMs;
  expires_at: EpochMs;
  revoked_at: EpochMs | null;
  /**
   * What the session acts as (migration 0020): `wallet` (the person's own wallet), `operator`,
   * or `merchant:<merchantId>` (the dashboard of a merchant the person is a member of).
   */
  acting_as: Generated<string>;
}

export interface MerchantsTable {
  id: string;
  name: string;
  /** The merchant's earnings account in the ledger: a u128 account id in decimal. */
  account_id: string;
  owner_user_id: string | null;
  /** The platform's fee on each purchase, in hundredths of a percent. */
  fee_basis_points: Generated<number>;
  /** Payouts start once the balance passes this many micro-units (decimal: may exceed 2^53). */
  payout_threshold_micros: Generated<string>;
  /** The longest access the platform grants for this merchant's HTTP 402 challenges. */
  challenge_access_period_seconds_max: Generated<number>;
  created_at: EpochMs;
  /** What it sells, for the monthly caps per category (migration 0029): `content` or `goods`. */
  spending_category: Generated<string>;
  /** 1 when its goods resell easily (gift cards, game currency), under a lower monthly cap. */
  resellable: Generated<number>;
  /**
   * Its fair-price cap (migration 0035): the most a user pays it in a month, in micro-units
   * (decimal); further items that month are free. Null: no cap.
   */
  fair_price_cap_micros: Generated<string | null>;
}

export interface ApiKeysTable {
  /** The public part of the key, shown in dashboards and logs. */
  id: string;
  merchant_id: string;
  secret_hash: string;
  /** JSON array of scope strings. */
  scopes: string;
  created_at: EpochMs;
  revoked_at: EpochMs | null;
  /** When the key was last accepted, to within keyLastUsedResolutionMs (auth/key-usage.ts). */
  last_used_at: Generated<EpochMs | null>;
}

export interface AdminKeysTable {
  id: string;
  secret_hash: string;
  label: string;
  created_at: EpochMs;
  revoked_at: EpochMs | null;
  /** When the key was last accepted, to within keyLastUsedResolutionMs (auth/key-usage.ts). */
  last_used_at: Generated<EpochMs | null>;
}

export type IdempotencyState = 'in_progress' | 'completed';

export interface IdempotencyRecordsTable {
  /** Who sent the request ("user:<id>", "merchant:<id>"...): keys are scoped per principal. */
  principal: string;
  idempotency_key: string;
  method: string;
  path: string;
  request_hash: string;
  state: IdempotencyState;
  response_status: number | null;
  /** JSON object of header name to value. */
  response_headers: string | null;
  response_body: string | null;
  created_at: EpochMs;
  expires_at: EpochMs;
}

export type OfferCategory = 'content' | 'goods';

export interface OffersTable {
  id: string;
  merchant_id: string;
  /** What is sold: a URL path or an item id on the merchant's side. */
  resource: string;
  title: string;
  /** Price in micro-units, decimal. */
  price_micros: string;
  category: OfferCategory;
  /** How long one purchase opens the resource. */
  access_period_seconds: number;
  created_at: EpochMs;
  archived_at: EpochMs | null;
}

export interface OfferSplitsTable {
  offer_id: string;
  position: number;
  merchant_id: string;
  share_basis_points: number;
}

export type PaymentState = 'pending' | 'succeeded' | 'failed';

export interface PaymentsTable {
  id: string;
  user_id: string;
  merchant_id: string;
  /** The offer bought, or null for a payment of an HTTP 402 challenge. */
  offer_id: string | null;
  /** What was bought: the offer's resource, or the challenge's. */
  resource: string | null;
  /** The HTTP 402 challenge paid, if any (unique per user). */
  challenge_id: string | null;
  amount_micros: string;
  state: PaymentState;
  failure_code: string | null;
  /** JSON: the ledger transfers of the payment, so an interrupted one can be completed. */
  legs: string;
  access_until: EpochMs;
  created_at: EpochMs;
  completed_at: EpochMs | null;
  /** The Idempotency-Key the purchase was made under (unique per user), if any. */
  idempotency_key: string | null;
  /**
   * When the retention job erased `offer_id` and `resource` (migration 0027), which it adds into
   * `purchase_day_totals`; null while they are kept.
   */
  details_erased_at: Generated<EpochMs | null>;
  /**
   * JSON: the month and scopes whose monthly spending this payment added to (migration 0029),
   * given back if it fails; null for payments made before spending was counted.
   */
  spending: Generated<string | null>;
  /**
   * The full price (migration 0035) when the merchant's fair-price cap applied to the payment;
   * `amount_micros` is then what was charged, less when the cap was reached. Null: no cap.
   */
  list_price_micros: Generated<string | null>;
}

/** Who holds access to an offer until when (migration 0012): one row per (user, offer). */
export interface OfferAccessTable {
  user_id: string;
  offer_id: string;
  /** The payment that holds it: pending or succeeded. */
  payment_id: string;
  access_until: EpochMs;
}

export type TopUpState = 'pending' | 'succeeded' | 'failed';

export interface TopUpsTable {
  id: string;
  user_id: string;
  amount_micros: string;
  /** The processor's fee, decimal micro-units: known once the charge succeeds. */
  fee_micros: string | null;
  /** The funding provider's name ("sandbox", "stripe"). */
  provider: string;
  /** 1 when no real money moved (the sandbox, a processor's test mode), else 0. */
  sandbox: number;
  charge_id: string | null;
  /** The processor's token for the card; never the card number. */
  card_token: string | null;
  card_last4: string | null;
  state: TopUpState;
  failure_code: string | null;
  /** Ledger transfer ids (u128 in decimal), fixed before any money moves. */
  credit_transfer_id: string;
  fee_transfer_id: string;
  created_at: EpochMs;
  completed_at: EpochMs | null;
}

export interface RefundsTable {
  id: string;
  payment_id: string;
  amount_micros: string;
  state: 'pending' | 'succeeded' | 'failed';
  failure_code: string | null;
  /** `merchant:<id>` (the merchant consented) or `operator:<key id>` (an operator decided). */
  requested_by: string;
  reason: string | null;
  /** JSON: the correcting ledger transfers, with fixed ids. */
  legs: string;
  created_at: EpochMs;
  completed_at: EpochMs | null;
  /**
   * The payment's merchant (migration 0017), so that a merchant's refunds are listed by index:
   * set by every refund since, and filled in for those before.
   */
  merchant_id: string;
}

export type WebhookDeliveryState = 'pending' | 'succeeded' | 'failed';

export interface WebhookEndpointsTable {
  id: string;
  /** The merchant, or null for the operator's own endpoints (platform events). */
  merchant_id: string | null;
  url: string;
  /** The Standard Webhooks signing secret, `whsec_` + base64: kept as is, since signing needs it. */
  secret: string;
  /** JSON array of the event types the endpoint receives. */
  event_types: string;
  created_at: EpochMs;
  disabled_at: EpochMs | null;
}

export interface WebhookEventsTable {
  /** The Standard Webhooks `webhook-id`: the same for every attempt and endpoint. */
  id: string;
  /** The merchant, or null for a platform event (top-ups), sent to the operator's endpoints. */
  merchant_id: string | null;
  type: string;
  /** JSON: the event's `data`. */
  payload: string;
  created_at: EpochMs;
}

export interface WebhookDeliveriesTable {
  event_id: string;
  endpoint_id: string;
  state: WebhookDeliveryState;
  attempts: Generated<number>;
  /** When a worker may send the next attempt; a worker's claim moves it ahead by a lease. */
  next_attempt_at: EpochMs;
  last_status: number | null;
  last_error: string | null;
  updated_at: EpochMs;
}

export interface WebhookAttemptsTable {
  id: string;
  event_id: string;
  endpoint_id: string;
  attempted_at: EpochMs;
  /** The HTTP status answered, null when none was (a network error, a timeout). */
  status: number | null;
  error: string | null;
  duration_ms: number;
}

/** Holder, IBAN and BIC are encrypted, each bound to its row (payouts/sealed-bank-details.ts). */
export interface MerchantBankAccountsTable {
  merchant_id: string;
  holder_name: string;
  /** Electronic form, checked (mod 97) when set. */
  iban: string;
  bic: string;
  updated_at: EpochMs;
}

export type PayoutBatchState = 'building' | 'paid' | 'failed';

export interface PayoutBatchesTable {
  /** `pb_` + 32 hex digits: the bank file's MsgId, at most 35 characters. */
  id: string;
  /** At most one batch is `building` (a partial unique index). */
  state: PayoutBatchState;
  created_at: EpochMs;
  completed_at: EpochMs | null;
  /** Decimal micro-units: the payouts planned while building; once done, those paid (the file's). */
  total_micros: string;
  count: number;
  /** The pain.001.001.09 and CSV bank files, written when the batch completes (encrypted). */
  file_xml: string | null;
  file_csv: string | null;
}

export type PayoutState = 'pending' | 'paid' | 'failed';

export interface PayoutsTable {
  /** `po_` + 32 hex digits: the bank file's EndToEndId, at most 35 characters. */
  id: string;
  batch_id: string;
  merchant_id: string;
  /** A whole number of cents, in decimal micro-units: the ledger transfer's amount. */
  amount_micros: string;
  /** The ledger transfer (u128 in decimal), fixed before any money moves. */
  transfer_id: string;
  state: PayoutState;
  /** Why the ledger refused the transfer (its result, e.g. `exceedsCredits`). */
  failure_code: string | null;
  /** The bank details the payout goes to, as they were when the batch was made (encrypted). */
  holder_name: string;
  iban: string;
  bic: string;
  created_at: EpochMs;
  completed_at: EpochMs | null;
}

export interface PlatformSchema {
  users: UsersTable;
  sessions: SessionsTable;
  merchants: MerchantsTable;
  api_keys: ApiKeysTable;
  admin_keys: AdminKeysTable;
  idempotency_records: IdempotencyRecordsTable;
  offers: OffersTable;
  offer_splits: OfferSplitsTable;
  payments: PaymentsTable;
  policy_decisions: PolicyDecisionsTable;
  account_freezes: AccountFreezesTable;
  offer_access: OfferAccessTable;
  refunds: RefundsTable;
  topups: TopUpsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  merchant_bank_accounts: MerchantBankAccountsTable;
  payout_batches: PayoutBatchesTable;
  payouts: PayoutsTable;
  data_upgrades: DataUpgradesTable;
  report_day_totals: ReportDayTotalsTable;
  report_offer_day_totals: ReportOfferDayTotalsTable;
  report_rollup_state: ReportRollupStateTable;
  report_rollup_waiting: ReportRollupWaitingTable;
  report_rollup_counted: ReportRollupCountedTable;
  report_payment_shares: ReportPaymentSharesTable;
  wallet_budgets: WalletBudgetsTable;
  user_limits: UserLimitsTable;
  limit_changes: LimitChangesTable;
  guardian_consents: GuardianConsentsTable;
  ledger_verifications: LedgerVerificationsTable;
  personal_data_views: PersonalDataViewsTable;
  merchant_members: MerchantMembersTable;
  merchant_invitations: MerchantInvitationsTable;
  operators: OperatorsTable;
  token_keys: TokenKeysTable;
  token_withdrawals: TokenWithdrawalsTable;
  payment_sessions: PaymentSessionsTable;
  payment_session_holds: PaymentSessionHoldsTable;
  token_deposits: TokenDepositsTable;
  token_swaps: TokenSwapsTable;
  spent_tokens: SpentTokensTable;
  consents: ConsentsTable;
  data_keys: DataKeysTable;
  purchase_day_totals: PurchaseDayTotalsTable;
  purchase_compaction_state: PurchaseCompactionStateTable;
  monthly_spending: MonthlySpendingTable;
  risk_rule_sets: RiskRuleSetsTable;
  payer_pseudonyms: PayerPseudonymsTable;
  code_redemptions: CodeRedemptionsTable;
}

/**
 * A user's spending in one month (in the operator's time zone) and scope (migration 0029): a
 * category, `resellable`, `merchant:<id>` (the user's own limit on a merchant), or
 * `fairPrice:<id>` (towards a merchant's fair-price cap, migration 0035). A payment adds to it
 * with a conditional write (or, for a fair-price cap, a compare-and-set) that keeps it at or
 * under the cap in force, so a cap holds under any concurrency.
 */
export interface MonthlySpendingTable {
  user_id: string;
  /** `YYYY-MM`. */
  month: string;
  scope: string;
  spent_micros: Generated<bigint>;
}

export type LedgerVerificationState = 'running' | 'done' | 'failed' | 'abandoned';

/** One run of the ledger's verify() that an operator asked for (migration 0022). */
export interface LedgerVerificationsTable {
  id: string;
  state: LedgerVerificationState;
  /** 1 while running, else null; unique, so that one run at a time exists on every node. */
  running_slot: number | null;
  /** `operator:<id>`: who asked. */
  requested_by: string;
  started_at: EpochMs;
  finished_at: EpochMs | null;
  /** 1 when verify() found no problem, 0 when it found some; null until done. */
  ok: number | null;
  problem_count: number | null;
  /** JSON array of the problems verify() listed (at most its own listing limit). */
  problems: string | null;
  /** JSON: the balances per kind of account read by the same run (operator/kind-balances.ts). */
  balances: string | null;
  /** Why the run could not finish (the ledger's error message), when state is `failed`. */
  error: string | null;
}

/**
 * One operator's view of one personal field (migration 0022), written before the field is
 * shown: append-only, so that the log tells who saw whose data, when and why.
 */
export interface PersonalDataViewsTable {
  id: string;
  /** `operator:<id>`: a person's user id (a console session) or an admin key's id. */
  operator: string;
  /** What kind of record the field belongs to (`topUp`). */
  record_kind: string;
  record_id: string;
  /** Which field was shown (`email`). */
  field: string;
  /** What the operator typed as the reason. */
  reason: string;
  viewed_at: EpochMs;
}

/** A payment a merchant got a share of without being its seller (migration 0017). */
export interface ReportPaymentSharesTable {
  merchant_id: string;
  /** The payment's `created_at`: the merchant's list is ordered by it. */
  created_at: EpochMs;
  payment_id: string;
}

/**
 * One merchant's takings on one UTC day (migration 0017), kept by reports/report-rollup.ts. Sums
 * are int8 micro-units (read as bigint), not decimal text, so that SQL adds them up.
 */
export interface ReportDayTotalsTable {
  merchant_id: string;
  /** The day's start, midnight UTC. */
  day_at: EpochMs;
  payment_count: bigint;
  /** The merchant's part of the prices paid: its legs and its part of the platform fee. */
  gross_micros: bigint;
  fee_micros: bigint;
  /** What the merchant's ledger account was credited. */
  net_micros: bigint;
  refund_count: bigint;
  /** What refunds took back from the merchant's ledger account. */
  refunded_micros: bigint;
}

/** One merchant's takings from one offer on one UTC day (migration 0017). */
export interface ReportOfferDayTotalsTable {
  merchant_id: string;
  day_at: EpochMs;
  offer_id: string;
  payment_count: bigint;
  gross_micros: bigint;
  net_micros: bigint;
  refunded_micros: bigint;
}

/** How far the rollup job has read payments and refunds, by id (migration 0017). */
export interface ReportRollupStateTable {
  name: string;
  /** The head: the last ids read as they came. */
  payments_after_id: string;
  refunds_after_id: string;
  /** The sweep: the last ids read again a lookback after their time, for rows committed late. */
  payments_swept_id: string;
  refunds_swept_id: string;
  /** Advanced by each run, conditionally: one node's run commits, the others change nothing. */
  version: bigint;
}

/** Payments and refunds the rollup job passed while pending (migration 0017). */
export interface ReportRollupWaitingTable {
  kind: 'payment' | 'refund';
  id: string;
}

/**
 * A payment or refund the rollup job has added to the totals (migration 0017): inserted in the
 * transaction that adds it, so its primary key lets each be added once.
 */
export interface ReportRollupCountedTable {
  kind: 'payment' | 'refund';
  id: string;
}

/** Data upgrades done at start (migration 0011): each name once. */
export interface DataUpgradesTable {
  name: string;
  done_at: EpochMs;
}

export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type NewSession = Insertable<SessionsTable>;
export type MerchantRow = Selectable<MerchantsTable>;
export type NewMerchant = Insertable<MerchantsTable>;
export type MerchantUpdate = Updateable<MerchantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Insertable<ApiKeysTable>;
export type AdminKeyRow = Selectable<AdminKeysTable>;
export type NewAdminKey = Insertable<AdminKeysTable>;
export type IdempotencyRecordRow = Selectable<IdempotencyRecordsTable>;
export type OfferRow = Selectable<OffersTable>;
export type PaymentRow = Selectable<PaymentsTable>;
export type TopUpRow = Selectable<TopUpsTable>;
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookEventRow = Selectable<WebhookEventsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>;
export type MerchantBankAccountRow = Selectable<MerchantBankAccountsTable>;
export type PayoutBatchRow = Selectable<PayoutBatchesTable>;
export type PayoutRow = Selectable<PayoutsTable>;

/** A decision of the policy hook that stopped a request (migration 0015). */
export interface PolicyDecisionsTable {
  id: string;
  subject: 'purchase' | 'topUp' | 'tokenWithdrawal';
  user_id: string;
  /** The merchant a stopped purchase would have paid; null for a top-up. */
  merchant_id: string | null;
  amount_micros: string;
  verdict: 'challenge' | 'block';
  /** The rule that decided, and its reason in words a person can read. */
  rule: string;
  reason: string;
  created_at: EpochMs;
  /** When the user confirmed a challenge (migration 0032); null until then, always for a block. */
  confirmed_at: EpochMs | null;
  /** When a retry presenting the confirmation went ahead on it: a confirmation is used once. */
  consumed_at: EpochMs | null;
  /** The payment, top-up or token withdrawal that retry was to make. */
  consumed_by: string | null;
  /** The operator's review (migration 0033): open until released or confirmed as fraud. */
  review_state: Generated<ReviewState>;
  /** `<kind>:<id>` of the operator who reviewed it (a console person or an admin key). */
  reviewed_by: Generated<string | null>;
  reviewed_at: Generated<EpochMs | null>;
  review_note: Generated<string | null>;
}

/** Where a stopped request's review stands. */
export type ReviewState = 'open' | 'released' | 'fraud';

/**
 * A user or merchant frozen by a confirmed fraud (migration 0033): while `lifted_at` is null, the
 * user can neither pay, top up nor withdraw tokens, and the merchant is neither paid by
 * purchases nor token deposits, nor paid out.
 */
export interface AccountFreezesTable {
  id: string;
  /** Exactly one of user_id and merchant_id is set. */
  user_id: string | null;
  merchant_id: string | null;
  /** The decision confirmed as fraud that froze it. */
  decision_id: string;
  frozen_by: string;
  frozen_at: EpochMs;
  lifted_by: string | null;
  lifted_at: EpochMs | null;
}

/** A user's saved budget for the clients that pay for them (migration 0019). */
export interface WalletBudgetsTable {
  user_id: string;
  /** Micro-units, decimal, as every amount. */
  max_per_payment_micros: string;
  max_per_origin_per_day_micros: string;
  max_total_micros: string;
  /** Payments above this are asked about before they are made. */
  approve_above_micros: string;
  updated_at: EpochMs;
}

/** A person's membership of a merchant, with the role that decides their scopes (migration 0020). */
export interface MerchantMembersTable {
  merchant_id: string;
  user_id: string;
  role: 'owner' | 'viewer';
  created_at: EpochMs;
}

/** An invitation into a merchant; the token only hashed, the email only encrypted (migration 0020). */
export interface MerchantInvitationsTable {
  id: string;
  merchant_id: string;
  token_hash: string;
  email_lookup: string;
  email_ciphertext: string;
  role: 'owner' | 'viewer';
  /** `<kind>:<id>` of who invited (an operator or a merchant principal). */
  invited_by: string;
  created_at: EpochMs;
  expires_at: EpochMs;
  accepted_at: EpochMs | null;
  accepted_by: string | null;
}

/** The people with the operator role (migration 0020); revoked ones keep their row. */
export interface OperatorsTable {
  user_id: string;
  created_at: EpochMs;
  revoked_at: EpochMs | null;
}

/** A key that signs tokens of one denomination, in one keyset (migration 0021). */
export interface TokenKeysTable {
  /** base64url of the SHA-256 of the public key's SPKI (DER) encoding. */
  id: string;
  keyset: string;
  denomination_micros: string;
  /** The public key, SPKI (DER), base64url. */
  public_key_spki: string;
  /** The private key, PKCS #8 (DER), sealed under the master key bound to the key id. */
  private_key_sealed: string;
  /** Tokens are issued under it in [issue_from, issue_until) and deposited until redeem_until. */
  issue_from: EpochMs;
  issue_until: EpochMs;
  redeem_until: EpochMs;
  created_at: EpochMs;
}

/**
 * A user's withdrawal of tokens (migration 0023): what it cost and the ledger transfer that paid
 * for it. The blinded messages are not kept, only a hash that tells a retry with the same
 * Idempotency-Key from another request under it; signing them again gives the same signatures.
 */
export interface TokenWithdrawalsTable {
  id: string;
  user_id: string;
  idempotency_key: string;
  outputs_hash: string;
  amount_micros: string;
  /** The wallet-to-tokens transfer, a u128 in decimal, fixed before it is submitted. */
  transfer_id: string;
  state: 'pending' | 'succeeded' | 'failed';
  created_at: EpochMs;
  completed_at: EpochMs | null;
  /** JSON: the monthly spending it added to (migration 0029), given back if it fails. */
  spending: Generated<string | null>;
}

/** Where a payment session is in its life (sessions/, migration 0037). */
export type PaymentSessionState =
  'opening' | 'open' | 'closing' | 'settling' | 'settled' | 'failed';

/** Why a session ended: closed by its merchant or its client, or expired. */
export type SessionCloseReason = 'merchant' | 'client' | 'idle' | 'lifetime';

/**
 * A streaming or metered payment session (migration 0037): a deposit held from the user's wallet
 * for one merchant, paid from by cumulative vouchers, settled once at the last of them.
 */
export interface PaymentSessionsTable {
  id: string;
  user_id: string;
  merchant_id: string;
  idempotency_key: string;
  challenge_id: string;
  resource: string;
  unit_price_micros: string;
  unit_type: 'second' | 'request' | 'token' | 'byte';
  min_voucher_delta_micros: string;
  idle_timeout_seconds: number;
  voucher_kind: 'payword' | 'ed25519';
  /** The PayWord anchor or the client's Ed25519 voucher key, base64url. */
  commitment: string;
  chain_length: number | null;
  /** What the held holds add up to: no voucher may pass it. */
  deposit_micros: string;
  /** The grant's sequence: 0 at open, one more for each top-up recorded. */
  sequence: Generated<number>;
  /** The highest voucher the platform was given, and its proof (word or signature, base64url). */
  accepted_micros: Generated<string>;
  accepted_proof: string | null;
  state: PaymentSessionState;
  failure_code: string | null;
  close_reason: SessionCloseReason | null;
  /** Fixed when the session starts settling: what it pays, and the chain's transfer ids (JSON). */
  settled_micros: string | null;
  settlement: string | null;
  /** The payment recording the settlement (none when it settled at zero). */
  payment_id: string | null;
  opened_at: EpochMs;
  last_activity_at: EpochMs;
  open_until: EpochMs;
  /** The end of a client's close grace, while `closing`. */
  close_at: EpochMs | null;
  closed_at: EpochMs | null;
  /** When the sweeper next looks at it; null once it is over. */
  due_at: EpochMs | null;
}

/** A deposit held for a session (migration 0037): a pending transfer from the wallet. */
export interface PaymentSessionHoldsTable {
  session_id: string;
  sequence: number;
  /** The top-up's Idempotency-Key; null for the hold made at open. */
  idempotency_key: string | null;
  transfer_id: string;
  amount_micros: string;
  state: 'pending' | 'held' | 'failed';
  /** JSON: the monthly spending the hold added to, given back for what is not settled. */
  spending: string | null;
  created_at: EpochMs;
}

/** A merchant's deposit of tokens (migration 0024): one per set of tokens, for ever. */
export interface TokenDepositsTable {
  id: string;
  merchant_id: string;
  /** SHA-256 over the deposit's token hashes, sorted: the same tokens, the same deposit. */
  tokens_hash: string;
  token_count: number;
  amount_micros: string;
  /** The ledger legs (JSON), transfer ids fixed before the money moves. */
  legs: string;
  resource: string;
  challenge_id: string | null;
  access_until: EpochMs;
  state: 'pending' | 'succeeded' | 'failed';
  created_at: EpochMs;
  completed_at: EpochMs | null;
}

/** Tokens swapped for new ones of other denominations (migration 0024); no money moves. */
export interface TokenSwapsTable {
  id: string;
  /** SHA-256 over the input tokens' hashes, sorted: a retry finds its swap. */
  inputs_hash: string;
  /** SHA-256 over the blinded outputs: a retry must ask for the same outputs. */
  outputs_hash: string;
  amount_micros: string;
  created_at: EpochMs;
}

/** The spent set (migration 0024): a token's hash, what spent it, and when its key stops. */
export interface SpentTokensTable {
  /** SHA-256 of the key id and the token's message, base64url. */
  token_hash: string;
  /** The deposit or swap that spent it (its state says whether that is still pending). */
  spent_by: string;
  redeem_until: EpochMs;
}

/** What a user consents to (consents/consent-texts.ts). */
export type ConsentPurpose = 'autoPay' | 'shareEmail' | 'suggestions';

/**
 * One grant of a consent (migration 0025): when, to which text version, and when it was revoked
 * and under which text version; rows are never deleted, so they are the user's history.
 */
export interface ConsentsTable {
  id: string;
  user_id: string;
  purpose: ConsentPurpose;
  /** A site's origin (autoPay), a merchant id (shareEmail) or `all` (suggestions). */
  scope: string;
  text_version: string;
  granted_at: EpochMs;
  revoked_at: EpochMs | null;
  revoked_text_version: string | null;
  /** For shareEmail: the user's pseudonym at that merchant, which the merchant looks up by. */
  merchant_pseudonym: string | null;
}

/**
 * A data key (migration 0026): the AES-256-GCM key of one subject's personal fields (`user:<id>`,
 * `invitation:<id>`) or the platform's own root secret (`platform`), wrapped under a master key.
 * Erasure sets `wrapped` to null: what the key sealed can no longer be opened (privacy/data-keys.ts).
 */
export interface DataKeysTable {
  subject: string;
  /** `k1.<iv>.<ciphertext>.<tag>` (base64url), AES-256-GCM bound to the subject; null once destroyed. */
  wrapped: string | null;
  /** Which master key wrapped it (privacy/master-key.ts masterKeyId); rewrapping changes it. */
  master_key_id: string;
  created_at: EpochMs;
  destroyed_at: EpochMs | null;
}

/**
 * What one merchant sold on one UTC day, from payments whose offer and resource the retention
 * job erased (migration 0027). Sums are int8 micro-units, so that SQL adds them up.
 */
export interface PurchaseDayTotalsTable {
  merchant_id: string;
  /** The day's start, midnight UTC. */
  day_at: EpochMs;
  /** The offer sold, or `challenge` for payments of HTTP 402 challenges. */
  offer_id: string;
  payment_count: bigint;
  /** The payments' amounts (the prices paid), before refunds. */
  amount_micros: bigint;
}

/** How far the retention job has walked payments by id (migration 0027): one row, `payments`. */
export interface PurchaseCompactionStateTable {
  name: string;
  /** Every payment with an id up to this one has been compacted. */
  after_id: string;
  /** Advanced by each run, conditionally: one node's run commits, the others change nothing. */
  version: bigint;
}

/** A limit a user set on their own spending (limits/user-limit-settings.ts), one per scope. */
export interface UserLimitsTable {
  user_id: string;
  /** A LimitScope (limits/limit-profile.ts): `content`, `perPayment`, `merchant:<id>`... */
  scope: string;
  /** Micro-units, decimal, as every amount; zero blocks what the scope limits. */
  limit_micros: string;
  updated_at: EpochMs;
}

/** Every change of a user's limits, appended in the transaction that made it; never updated. */
export interface LimitChangesTable {
  /** uuidv7: time-ordered. */
  id: string;
  user_id: string;
  scope: string;
  /** Null where there was no limit before (or is none after: the limit was removed). */
  old_limit_micros: string | null;
  new_limit_micros: string | null;
  direction: 'raised' | 'lowered';
  /** How the user confirmed it: `password` for a raise, `none` for a lowering. */
  confirmed_by: 'password' | 'none';
  changed_at: EpochMs;
}

/** A minor's request for a guardian's consent, and the guardian's answer. */
export interface GuardianConsentsTable {
  id: string;
  minor_user_id: string;
  guardian_user_id: string;
  state: 'requested' | 'granted' | 'withdrawn';
  requested_at: EpochMs;
  granted_at: EpochMs | null;
  /** Set once, when the guardian declined, withdrew, or the account of either was erased. */
  withdrawn_at: EpochMs | null;
}

/** A version of the risk rules, as the operator wrote it (migration 0034). */
export interface RiskRuleSetsTable {
  version: string;
  /** The rule set's JSON, as written. */
  rule_set: string;
  /** `operator:<id>`: who wrote it. */
  created_by: string;
  created_at: EpochMs;
  /** 1 for the set in force, else null (unique). */
  in_force: number | null;
}

export type RiskRuleSetRow = Selectable<RiskRuleSetsTable>;

/**
 * The pseudonym each user who paid a merchant has there (migration 0036): an HMAC, kept so that
 * a pseudonym a merchant reports is found by key (payments/payer-pseudonyms.ts).
 */
export interface PayerPseudonymsTable {
  merchant_id: string;
  pseudonym: string;
  user_id: string;
  created_at: EpochMs;
}

/** Who redeemed a code: its buyer, another Mite user, or an account outside Mite. */
export type RedeemedBy = 'buyer' | 'otherUser' | 'outside';

/** A merchant's report that the code a payment bought was redeemed (migration 0036). */
export interface CodeRedemptionsTable {
  /** One report per payment. */
  payment_id: string;
  merchant_id: string;
  /** The payment's payer. */
  buyer_user_id: string;
  /** The Mite user who redeemed it; null for an account outside Mite. */
  redeemer_user_id: string | null;
  redeemed_by: RedeemedBy;
  redeemed_at: EpochMs;
  reported_at: EpochMs;
}

export type CodeRedemptionRow = Selectable<CodeRedemptionsTable>;
