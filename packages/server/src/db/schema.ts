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
}

export interface SessionsTable {
  /** A hash of the session token: a leaked table does not hand out sessions. */
  token_hash: string;
  user_id: string;
  created_at: EpochMs;
  expires_at: EpochMs;
  revoked_at: EpochMs | null;
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
  created_at: EpochMs;
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
}

export interface AdminKeysTable {
  id: string;
  secret_hash: string;
  label: string;
  created_at: EpochMs;
  revoked_at: EpochMs | null;
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
  offer_id: string;
  amount_micros: string;
  state: PaymentState;
  failure_code: string | null;
  /** JSON: the ledger transfers of the payment, so an interrupted one can be completed. */
  legs: string;
  access_until: EpochMs;
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
