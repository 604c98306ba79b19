import path from 'node:path';

/** File name of the embedded SQLite ledger inside the data directory. */
export const SQLITE_FILE_NAME = 'ledger.sqlite';
/**
 * File name of the platform's own SQLite database (users, merchants...) beside the ledger, as
 * `storeUrls` in `@mite/server` places it (not imported: that would load the server stack).
 */
export const PLATFORM_SQLITE_FILE_NAME = 'platform.sqlite';

/** Query parameters that can carry a password in a PostgreSQL connection URL. */
const SECRET_PARAMS = ['password', 'sslpassword'];

const REDACTED = '***';

/** The embedded SQLite ledger's URL for a data directory. */
export function sqliteUrlFor(dataDir: string): string {
  return `sqlite:${path.join(dataDir, SQLITE_FILE_NAME)}`;
}

/** The embedded SQLite platform database's URL for a data directory. */
export function platformSqliteUrlFor(dataDir: string): string {
  return `sqlite:${path.join(dataDir, PLATFORM_SQLITE_FILE_NAME)}`;
}

/**
 * The database to use: an explicit URL (flag, then `MITE_DATABASE_URL`), else the embedded SQLite
 * file in the data directory. `isDefault` tells whether it was derived from the data directory.
 */
export function resolveDatabaseUrl(
  explicitUrl: string | undefined,
  dataDir: string,
): { readonly url: string; readonly isDefault: boolean } {
  if (explicitUrl !== undefined && explicitUrl.trim() !== '') {
    return { url: explicitUrl.trim(), isDefault: false };
  }
  return { url: sqliteUrlFor(dataDir), isDefault: true };
}

/**
 * The URL as it may be shown: the password (in the user info or in a query parameter) replaced by
 * `***`. A URL that cannot be parsed is not shown at all, since it might hold a secret anywhere.
 */
export function redactDatabaseUrl(url: string): string {
  if (url.startsWith('sqlite:')) return url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable database URL>';
  }
  if (parsed.password !== '') parsed.password = REDACTED;
  for (const name of SECRET_PARAMS) {
    if (parsed.searchParams.has(name)) parsed.searchParams.set(name, REDACTED);
  }
  return parsed.toString();
}

/** The secrets a URL holds, to be removed from any error message that might echo them. */
export function secretsOf(url: string): string[] {
  if (url.startsWith('sqlite:')) return [];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [url];
  }
  const secrets = [url, parsed.password, safeDecode(parsed.password)];
  for (const name of SECRET_PARAMS) {
    const value = parsed.searchParams.get(name);
    if (value !== null) secrets.push(value, encodeURIComponent(value));
  }
  return secrets.filter((secret) => secret !== '').sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
