import fs from 'node:fs';

/** Files SQLite keeps beside a database: its WAL and shared-memory index, and a rollback journal. */
const sqliteCompanionSuffixes = ['-wal', '-shm', '-journal'] as const;

/** Read and write for the owner only: a database holds balances and personal data. */
const ownerOnlyMode = 0o600;

/**
 * Makes a SQLite database file readable by its owner only before SQLite opens it: a missing file
 * is created so, an existing one (and its companions, left by an earlier version) is narrowed.
 * SQLite creates a database's WAL, shared-memory and journal files with the database file's own
 * permissions, so they follow.
 */
export function restrictSqliteFilesToOwner(databasePath: string): void {
  if (databasePath === ':memory:' || databasePath === '') return;
  fs.closeSync(fs.openSync(databasePath, 'a', ownerOnlyMode));
  for (const file of [databasePath, ...sqliteCompanionSuffixes.map((s) => databasePath + s)]) {
    try {
      fs.chmodSync(file, ownerOnlyMode);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
