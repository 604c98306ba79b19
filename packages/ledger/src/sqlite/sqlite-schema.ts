/** Bumped whenever the tables change; a store with another version is refused, never guessed at. */
export const sqliteSchemaVersion = 1;

/**
 * u128 values (ids, amounts, balances, userData) are stored as an INTEGER when below 2^63 and as
 * a 16-byte big-endian BLOB otherwise. The form is canonical, and SQLite sorts every INTEGER
 * before every BLOB and BLOBs bytewise, so uniqueness and numeric order both hold.
 *
 * Transfers live in `transfer_blocks`, packed as fixed-size binary records (transfer-records.ts),
 * keyed by the timestamp of their first transfer; `transfer_ids` finds a transfer by id. The
 * history of each account is derived from the blocks off the hot path, in `account_history`,
 * and `meta.history_through` says up to which block it is complete.
 */
export const sqliteSchema = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
  id PRIMARY KEY,
  ledger INTEGER NOT NULL,
  code INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  user_data NOT NULL,
  debits_pending NOT NULL,
  debits_posted NOT NULL,
  credits_pending NOT NULL,
  credits_posted NOT NULL,
  timestamp INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE transfer_blocks (first_timestamp INTEGER PRIMARY KEY, records BLOB NOT NULL);
CREATE TABLE transfer_ids (
  id PRIMARY KEY,
  block INTEGER NOT NULL,
  slot INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE failed_transfers (id PRIMARY KEY, result INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE pending_transfers (
  id PRIMARY KEY,
  status INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE account_history (
  account_id NOT NULL,
  timestamp INTEGER NOT NULL,
  side INTEGER NOT NULL,
  block INTEGER NOT NULL,
  slot INTEGER NOT NULL,
  PRIMARY KEY (account_id, timestamp)
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('history_through', '0');
`;

/** `account_history.side`: the account was debited, or credited. */
export const historySide = { debit: 1, credit: 2 } as const;
