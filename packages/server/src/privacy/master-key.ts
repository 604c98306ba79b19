import { createHash, hkdfSync, randomBytes } from 'node:crypto';
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

export const previousMasterKeysFileName = 'master.key.previous';

/** A master key with its id: stored beside every data key it wraps, to know which one opens it. */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The master key new wraps use, and the older ones still accepted while a rotation runs. */
export interface MasterKeys {
  readonly current: MasterKey;
  readonly previous: readonly MasterKey[];
}

/**
 * The current master key (as `loadMasterKey` finds it) and the previous ones, during a rotation:
 * `MITE_MASTER_KEY_PREVIOUS` (base64 keys separated by commas) or, without it, the file
 * `master.key.previous` in the data directory (one base64 key a line). Rotating is: make the new
 * key current, name the old one as previous, restart node by node; the rewrap job moves every
 * data key to the new key, after which the previous key can be removed.
 */
export function loadMasterKeys(options: {
  env: Readonly<Record<string, string | undefined>>;
  dataDir: string;
}): MasterKeys {
  const current = withId(loadMasterKey(options));
  const fromEnv = options.env.MITE_MASTER_KEY_PREVIOUS;
  let texts: string[] = [];
  let source = 'MITE_MASTER_KEY_PREVIOUS';
  if (fromEnv !== undefined && fromEnv !== '') {
    texts = fromEnv.split(',');
  } else {
    source = path.join(options.dataDir, previousMasterKeysFileName);
    try {
      texts = fs.readFileSync(source, 'utf8').split('\n');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  const previous = texts
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .map((text) => withId(decode(text, source)))
    .filter((key) => key.id !== current.id);
  return { current, previous };
}

/** A key's id: derived from the key (one-way), so that no configuration has to name it. */
export function masterKeyId(key: Uint8Array): string {
  const derived = hkdfSync('sha256', key, '', 'mite master key id v1', 32);
  return `mk_${createHash('sha256').update(Buffer.from(derived)).digest('base64url').slice(0, 16)}`;
}

function withId(key: Buffer): MasterKey {
  return { id: masterKeyId(key), key };
}
