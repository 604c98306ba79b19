import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * scrypt parameters: N = 2^15, r = 8, p = 1 (OWASP's minimum is N = 2^17 with r = 8 at p = 1 for
 * interactive logins, or an equivalent cost; 2^15 keeps a login near 50 ms on one core here).
 * They are stored with each hash, so raising them later needs no migration.
 */
export const scryptCost = { N: 2 ** 15, r: 8, p: 1 } as const;
const saltBytes = 16;
const keyBytes = 32;
/** scrypt needs 128 * N * r bytes; this leaves room above that for the largest N we accept. */
const scryptMemoryMaxBytes = 256 * 1024 * 1024;
/** Passwords longer than this are refused before hashing, so a huge one cannot tie up a core. */
export const passwordLengthMax = 1024;
export const passwordLengthMin = 10;

function derive(
  password: string,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize('NFKC'),
      salt,
      keyBytes,
      { ...cost, maxmem: scryptMemoryMaxBytes },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, base64url, self-describing. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, scryptCost);
  const { N, r, p } = scryptCost;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) {
    throw new Error('bug: a stored password hash has an unknown format');
  }
  const expected = Buffer.from(key, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A password rule a person can understand: long enough, not absurdly long. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < passwordLengthMin) {
    return `a password needs at least ${passwordLengthMin} characters`;
  }
  if (password.length > passwordLengthMax) {
    return `a password may have at most ${passwordLengthMax} characters`;
  }
  return undefined;
}
