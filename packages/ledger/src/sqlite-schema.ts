/** Bumped whenever the tables change; a store with another version is refused, never guessed at. */
export const sqliteSchemaVersion = 1;

/**
 * u128 values are 16-byte big-endian blobs (byte order is numeric order); zero userData and
 * pendingId are NULL. Transfers are keyed by their engine timestamp, which is strictly
 * increasing, so the table only ever appends; account history comes from the two side indexes,
 * which carry the timestamp (the rowid) and so are already in time order.
 */
export const sqliteSchema = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
  id BLOB PRIMARY KEY,
  ledger INTEGER NOT NULL,
  code INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  user_data BLOB,
  debits_pending BLOB NOT NULL,
  debits_posted BLOB NOT NULL,
  credits_pending BLOB NOT NULL,
  credits_posted BLOB NOT NULL,
  timestamp INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE transfers (
  timestamp INTEGER PRIMARY KEY,
  id BLOB NOT NULL UNIQUE,
  debit_account_id BLOB NOT NULL,
  credit_account_id BLOB NOT NULL,
  amount BLOB NOT NULL,
  pending_id BLOB,
  user_data BLOB,
  ledger INTEGER NOT NULL,
  code INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  timeout INTEGER NOT NULL
);
CREATE INDEX transfers_by_debit_account ON transfers (debit_account_id);
CREATE INDEX transfers_by_credit_account ON transfers (credit_account_id);
CREATE TABLE failed_transfers (id BLOB PRIMARY KEY, result INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE pending_transfers (
  id BLOB PRIMARY KEY,
  status INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
`;
