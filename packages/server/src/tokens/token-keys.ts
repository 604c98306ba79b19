/**
 * The keys that sign unlinkable tokens (DESIGN section 7). A keyset holds one RSA key per
 * denomination (a power of two of micro-units), and keysets follow each other by period: the
 * keyset of period p issues tokens from p * issuePeriod to (p + 1) * issuePeriod and accepts
 * them until `tokenKeyRedeemPeriodMs` later, after which its spent tokens need not be kept. The
 * next keyset is made and published `tokenKeysetAnnounceLeadMs` before it starts, so clients and
 * merchants know a key before any token of it reaches them.
 *
 * Every client gets the same keys: they are chosen by period, not by user, and published at a
 * public URL, so that a key cannot tag one user's tokens. A keyset is written in one transaction
 * that keeps the keys already there (`on conflict do nothing`): of nodes making one at once, one
 * node's keys are the keyset, and every node reads them back rather than using its own.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { BlindRsaPublicKey } from '@mite/protocol';
import type { PlatformDb } from '../db/platform-db.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import { blindRsaPublicKey, type BlindSigner, createBlindSigner } from './blind-signer.ts';

const generateRsaKeyPair = promisify(generateKeyPair);

/** The largest denomination is 2^this micro-units (67.108864). */
export const tokenDenominationExponentMax = 26;
/** Every denomination: 1, 2, 4, ... 2^26 micro-units. */
export const tokenDenominationsMicros: readonly bigint[] = Array.from(
  { length: tokenDenominationExponentMax + 1 },
  (_, exponent) => 1n << BigInt(exponent),
);
export const tokenKeyModulusBits = 2048;
/** How long one keyset issues tokens. */
export const tokenKeysetIssuePeriodMs = 30 * 24 * 60 * 60 * 1000;
/** How long after its issuing ends a keyset's tokens are still taken. */
export const tokenKeyRedeemPeriodMs = 90 * 24 * 60 * 60 * 1000;
/** How long before it starts a keyset is made and published. */
export const tokenKeysetAnnounceLeadMs = 7 * 24 * 60 * 60 * 1000;

export interface TokenKey {
  readonly keyId: string;
  readonly keyset: string;
  readonly denominationMicros: bigint;
  readonly publicKey: BlindRsaPublicKey;
  /** The modulus's length in bytes: every blinded message and signature has it. */
  readonly modulusBytes: number;
  /** The public key, SPKI (DER), base64url: what the key id is the hash of. */
  readonly spki: string;
  /** The public key as node:crypto holds it, for verifying tokens at deposit. */
  readonly verificationKey: KeyObject;
  readonly issueFromMs: number;
  readonly issueUntilMs: number;
  readonly redeemUntilMs: number;
}

export interface TokenKeysDeps {
  readonly platform: PlatformDb;
  readonly cipher: PersonalDataCipher;
  readonly clock: () => number;
  /** Tests use a few small denominations: each key costs a fraction of a second to make. */
  readonly denominationsMicros?: readonly bigint[];
}

/** The key id: base64url of the SHA-256 of the public key's SPKI (DER), as Privacy Pass derives it. */
export function tokenKeyId(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('base64url');
}

/** Keys (and their signers) kept in memory per node at most: a few keysets' worth. */
export const tokenKeysCachedMax = 1_000;

const keyColumns = [
  'id',
  'keyset',
  'denomination_micros',
  'public_key_spki',
  'issue_from',
  'issue_until',
  'redeem_until',
] as const;

function tokenKeyOf(row: {
  id: string;
  keyset: string;
  denomination_micros: string;
  public_key_spki: string;
  issue_from: bigint;
  issue_until: bigint;
  redeem_until: bigint;
}): TokenKey {
  const spki = createPublicKey({
    key: Buffer.from(row.public_key_spki, 'base64url'),
    format: 'der',
    type: 'spki',
  });
  const publicKey = blindRsaPublicKey(spki);
  return {
    keyId: row.id,
    keyset: row.keyset,
    denominationMicros: BigInt(row.denomination_micros),
    publicKey,
    modulusBytes: Math.ceil(publicKey.n.toString(2).length / 8),
    spki: row.public_key_spki,
    verificationKey: spki,
    issueFromMs: Number(row.issue_from),
    issueUntilMs: Number(row.issue_until),
    redeemUntilMs: Number(row.redeem_until),
  };
}

function keysetName(period: number): string {
  return `ks-${period}`;
}

export function createTokenKeys(deps: TokenKeysDeps) {
  const { platform, cipher, clock } = deps;
  const db = platform.db;
  const denominations = deps.denominationsMicros ?? tokenDenominationsMicros;
  const signers = new LRUCache<string, BlindSigner>({ max: tokenKeysCachedMax });
  const keys = new LRUCache<string, TokenKey>({ max: tokenKeysCachedMax });
  // One making of a keyset at a time on this node: many requests at start wait for one.
  let making: Promise<void> | undefined;

  async function makeKeyset(period: number): Promise<void> {
    const keyset = keysetName(period);
    const issueFromMs = period * tokenKeysetIssuePeriodMs;
    const issueUntilMs = issueFromMs + tokenKeysetIssuePeriodMs;
    // Made side by side: node:crypto makes each on its thread pool, off the event loop.
    const rows = await Promise.all(
      denominations.map(async (denomination) => {
        const pair = await generateRsaKeyPair('rsa', { modulusLength: tokenKeyModulusBits });
        const spkiDer = pair.publicKey.export({ type: 'spki', format: 'der' });
        const keyId = tokenKeyId(spkiDer);
        const pkcs8 = pair.privateKey
          .export({ type: 'pkcs8', format: 'der' })
          .toString('base64url');
        return {
          id: keyId,
          keyset,
          denomination_micros: denomination.toString(),
          public_key_spki: spkiDer.toString('base64url'),
          private_key_sealed: cipher.encrypt(pkcs8, `token-key:${keyId}`),
          issue_from: BigInt(issueFromMs),
          issue_until: BigInt(issueUntilMs),
          redeem_until: BigInt(issueUntilMs + tokenKeyRedeemPeriodMs),
          created_at: BigInt(clock()),
        };
      }),
    );
    // One statement, so all of this node's keys or none; a keyset another node wrote stays.
    await db
      .insertInto('token_keys')
      .values(rows)
      .onConflict((conflict) => conflict.columns(['keyset', 'denomination_micros']).doNothing())
      .execute();
  }

  /** The periods whose keysets must exist now: the current one, and the next once it is near. */
  function periodsNeeded(nowMs: number): number[] {
    const current = Math.floor(nowMs / tokenKeysetIssuePeriodMs);
    const nextStartsMs = (current + 1) * tokenKeysetIssuePeriodMs;
    return nowMs >= nextStartsMs - tokenKeysetAnnounceLeadMs ? [current, current + 1] : [current];
  }

  async function missingPeriods(): Promise<number[]> {
    const needed = periodsNeeded(clock());
    const rows = await db
      .selectFrom('token_keys')
      .select(['keyset', 'denomination_micros'])
      .where('keyset', 'in', needed.map(keysetName))
      .execute();
    return needed.filter((period) => {
      const have = new Set(
        rows.filter((row) => row.keyset === keysetName(period)).map((r) => r.denomination_micros),
      );
      return denominations.some((denomination) => !have.has(denomination.toString()));
    });
  }

  /** Makes the keysets that should exist and do not (the platform's job runs this). */
  async function ensureKeysets(): Promise<void> {
    making ??= (async () => {
      try {
        for (const period of await missingPeriods()) await makeKeyset(period);
      } finally {
        making = undefined;
      }
    })();
    await making;
  }

  /** Every key whose tokens are still taken, oldest keyset first: what the public URL lists. */
  async function publishedKeys(): Promise<TokenKey[]> {
    await ensureKeysets();
    const rows = await db
      .selectFrom('token_keys')
      .select(keyColumns)
      .where('redeem_until', '>', BigInt(clock()))
      .execute();
    return rows
      .map(tokenKeyOf)
      .sort(
        (a, b) =>
          a.issueFromMs - b.issueFromMs || Number(a.denominationMicros - b.denominationMicros),
      );
  }

  /** A key by id, whatever its period. Keys never change, so each is read once per node. */
  async function keyById(keyId: string): Promise<TokenKey | undefined> {
    const cached = keys.get(keyId);
    if (cached !== undefined) return cached;
    const row = await db
      .selectFrom('token_keys')
      .select(keyColumns)
      .where('id', '=', keyId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const key = tokenKeyOf(row);
    keys.set(keyId, key);
    return key;
  }

  /** The key, if it issues tokens now. */
  async function issuingKey(keyId: string): Promise<TokenKey | undefined> {
    const key = await keyById(keyId);
    const nowMs = clock();
    return key !== undefined && key.issueFromMs <= nowMs && nowMs < key.issueUntilMs
      ? key
      : undefined;
  }

  /** The key, if tokens signed with it are taken now (from its issuing until its redeem end). */
  async function redeemingKey(keyId: string): Promise<TokenKey | undefined> {
    const key = await keyById(keyId);
    const nowMs = clock();
    return key !== undefined && key.issueFromMs <= nowMs && nowMs < key.redeemUntilMs
      ? key
      : undefined;
  }

  /** The signer of a key, opened from its sealed private key once per node. */
  async function signerFor(keyId: string): Promise<BlindSigner | undefined> {
    const cached = signers.get(keyId);
    if (cached !== undefined) return cached;
    const row = await db
      .selectFrom('token_keys')
      .select('private_key_sealed')
      .where('id', '=', keyId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const pkcs8 = cipher.decrypt(row.private_key_sealed, `token-key:${keyId}`);
    const privateKey: KeyObject = createPrivateKey({
      key: Buffer.from(pkcs8, 'base64url'),
      format: 'der',
      type: 'pkcs8',
    });
    const signer = createBlindSigner(privateKey);
    signers.set(keyId, signer);
    return signer;
  }

  return { ensureKeysets, publishedKeys, issuingKey, redeemingKey, signerFor };
}

export type TokenKeys = ReturnType<typeof createTokenKeys>;
