import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const masterKeyBytes = 32;
export const masterKeyFileName = 'master.key';

/**
 * The key that protects personal data at rest. It comes from `MITE_MASTER_KEY` (base64, 32
 * bytes) when set, as a deployment's secret manager would provide it; otherwise from a key file
 * in the data directory, created on first start with owner-only permissions. Losing it makes
 * the encrypted personal data unreadable, which is the point of keeping it apart from backups.
 */
export function loadMasterKey(options: {
  env: Readonly<Record<string, string | undefined>>;
  dataDir: string;
}): Buffer {
  const fromEnv = options.env.MITE_MASTER_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return decode(fromEnv, 'MITE_MASTER_KEY');
  const file = path.join(options.dataDir, masterKeyFileName);
  try {
    return decode(fs.readFileSync(file, 'utf8').trim(), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = randomBytes(masterKeyBytes);
  fs.mkdirSync(options.dataDir, { recursive: true });
  // 'wx': never overwrite a key another process wrote meanwhile; then read what won.
  try {
    fs.writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return decode(fs.readFileSync(file, 'utf8').trim(), file);
}

function decode(text: string, source: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== masterKeyBytes) {
    throw new Error(`${source} must hold a base64 master key of ${masterKeyBytes} bytes`);
  }
  return key;
}
