import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets (session tokens, merchant API keys, operator admin keys) are random, shown to
 * their owner once, and stored only as a SHA-256 hash: they carry 256 bits of entropy, so a
 * fast hash is enough (a slow KDF is for guessable passwords).
 */
const secretBytes = 32;

export type SecretKind = 'session' | 'apiKey' | 'adminKey';

const prefixes: Record<SecretKind, string> = {
  session: 'mite_s_',
  apiKey: 'mite_k_',
  adminKey: 'mite_a_',
};

export interface IssuedSecret {
  /** What the owner is given, once. */
  readonly secret: string;
  /** The public id, safe to show and log (keys only; for sessions the hash is the id). */
  readonly id: string;
  /** What is stored. */
  readonly hash: string;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/**
 * A new secret of a kind. Keys look like `mite_k_<id>_<random>`, so a leaked key can be found by
 * its id in logs and revoked; sessions are `mite_s_<random>`.
 */
export function issueSecret(kind: SecretKind): IssuedSecret {
  const random = randomBytes(secretBytes).toString('base64url');
  if (kind === 'session') {
    const secret = `${prefixes.session}${random}`;
    const hash = hashSecret(secret);
    return { secret, id: hash, hash };
  }
  const id = keyId();
  const secret = `${prefixes[kind]}${id}_${random}`;
  return { secret, id, hash: hashSecret(secret) };
}

/**
 * A key's public id: 9 random bytes in base64url, drawn again when it would start with `-`, which
 * a command line (`mite admin keys revoke <keyId>`) would take for an option.
 */
function keyId(): string {
  for (;;) {
    const id = randomBytes(9).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The kind and key id a presented secret claims, or undefined when it is not one of ours. */
export function parseSecret(secret: string): { kind: SecretKind; id: string } | undefined {
  for (const [kind, prefix] of Object.entries(prefixes) as [SecretKind, string][]) {
    if (!secret.startsWith(prefix)) continue;
    const rest = secret.slice(prefix.length);
    if (kind === 'session') return /^[A-Za-z0-9_-]{43}$/.test(rest) ? { kind, id: '' } : undefined;
    const match = /^([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/.exec(rest);
    return match?.[1] === undefined ? undefined : { kind, id: match[1] };
  }
  return undefined;
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const actual = Buffer.from(hashSecret(secret));
  const expected = Buffer.from(storedHash);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
