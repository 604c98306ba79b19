import { fairPriceCapMicrosMax } from '../limits/fair-price.ts';
import type { Ledger } from '@mite/ledger';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import { msOrNull, recordKeyUse } from '../auth/key-usage.ts';
import { type ApiKeyScope, holdsScopes } from '../auth/scopes.ts';
import { parseSecret, issueSecret, secretMatches } from '../auth/secrets.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { OfferCategory, OfferRow } from '../db/schema.ts';
import { merchantAccount, newAccountId } from '../ledger/chart-of-accounts.ts';
import { basisPointsWhole } from '../payments/revenue-split.ts';
import { fail, ok, type Result } from '../result.ts';

export { apiKeyScopes, type ApiKeyScope } from '../auth/scopes.ts';
/**
 * The longest access the platform grants for a merchant's HTTP 402 challenge unless the operator
 * sets another: the platform cannot verify a challenge's terms (the merchant's HMAC), so a
 * client could pay one it wrote itself; the merchant's middleware caps it at the route's own.
 */
export const challengeAccessPeriodSecondsMaxDefault = 30 * 86_400;
/** The longest any merchant may have: the protocol's own limit, ten years. */
export const challengeAccessPeriodSecondsMaxLimit = 315_360_000;
/** Most parties one offer's revenue may be split among. */
export const splitPartiesMax = 16;
/** Offers kept in memory: every purchase reads one, and an offer never changes once created. */
export const offersCachedMax = 10_000;

export interface MerchantServiceDeps {
  readonly platform: PlatformDb;
  readonly ledger: Ledger;
  readonly clock: () => number;
}

export interface Offer {
  readonly id: string;
  readonly merchantId: string;
  readonly resource: string;
  readonly title: string;
  readonly priceMicros: bigint;
  readonly category: OfferCategory;
  readonly accessPeriodSeconds: number;
  /** Who gets the revenue after the platform fee; shares add up to 10000 basis points. */
  readonly splits: readonly { readonly merchantId: string; readonly shareBasisPoints: number }[];
}

export interface NewOffer {
  readonly merchantId: string;
  readonly resource: string;
  readonly title: string;
  readonly priceMicros: bigint;
  readonly category: OfferCategory;
  readonly accessPeriodSeconds: number;
  readonly splits?: Offer['splits'];
}

/** A merchant API key as its owner and operators see it: never its secret. */
export interface ApiKeyInfo {
  readonly keyId: string;
  readonly merchantId: string;
  readonly scopes: readonly ApiKeyScope[];
  readonly createdAtMs: number;
  /** To within keyLastUsedResolutionMs; null when never used. */
  readonly lastUsedAtMs: number | null;
  readonly revokedAtMs: number | null;
}

function apiKeyInfo(row: ApiKeyRow): ApiKeyInfo {
  return {
    keyId: row.id,
    merchantId: row.merchant_id,
    scopes: JSON.parse(row.scopes) as ApiKeyScope[],
    createdAtMs: Number(row.created_at),
    lastUsedAtMs: msOrNull(row.last_used_at),
    revokedAtMs: msOrNull(row.revoked_at),
  };
}

/**
 * Who acts on a merchant's keys: an operator, or the merchant with a key holding `scopes`, which
 * may only act on keys whose scopes it holds too (else a weak key could rotate a stronger one and
 * obtain its powers, or revoke the merchant's main key).
 */
export type KeyActor =
  { readonly kind: 'operator' } | { readonly kind: 'merchant'; readonly scopes: readonly string[] };

export type KeyChangeError = 'notFound' | 'forbidden';

/** Merchants, their API keys and their offers. */
export function createMerchantService(deps: MerchantServiceDeps) {
  const { platform, ledger, clock } = deps;
  const db = platform.db;
  // Safe to keep without expiry because offers are immutable; a change to an offer (archiving,
  // repricing) must drop it here, and on other nodes too.
  const offers = new LRUCache<string, Offer>({ max: offersCachedMax });

  async function createMerchant(input: {
    name: string;
    ownerUserId?: string;
    feeBasisPoints: number;
    payoutThresholdMicros: bigint;
    challengeAccessPeriodSecondsMax?: number;
  }): Promise<{ merchantId: string; accountId: bigint }> {
    const accountId = newAccountId();
    const created = await ledger.createAccounts([merchantAccount(accountId)]);
    if (created[0] !== 'ok') throw new Error(`could not create a merchant account: ${created[0]}`);
    const merchantId = `mer_${uuidv7()}`;
    await db
      .insertInto('merchants')
      .values({
        id: merchantId,
        name: input.name,
        account_id: accountId.toString(),
        owner_user_id: input.ownerUserId ?? null,
        fee_basis_points: input.feeBasisPoints,
        payout_threshold_micros: input.payoutThresholdMicros.toString(),
        challenge_access_period_seconds_max:
          input.challengeAccessPeriodSecondsMax ?? challengeAccessPeriodSecondsMaxDefault,
        created_at: BigInt(clock()),
      })
      .execute();
    return { merchantId, accountId };
  }

  /** A merchant's public name, as people paying it see it; undefined for an unknown id. */
  async function merchantName(merchantId: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('merchants')
      .select('name')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    return row?.name;
  }

  /** A new API key; its secret is returned once and stored only hashed. */
  /**
   * Sets the longest access a receipt for one of the merchant's HTTP 402 challenges grants;
   * payments see it within merchantTermsCacheTtlMs. Returns the term now in force.
   */
  async function setChallengeAccessPeriodMax(
    merchantId: string,
    seconds: number,
  ): Promise<Result<{ challengeAccessPeriodSecondsMax: number }, 'merchantNotFound'>> {
    if (
      !Number.isSafeInteger(seconds) ||
      seconds < 0 ||
      seconds > challengeAccessPeriodSecondsMaxLimit
    ) {
      throw new RangeError(`bug: an access period of ${seconds} s passed the route's schema`);
    }
    const updated = await db
      .updateTable('merchants')
      .set({ challenge_access_period_seconds_max: seconds })
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return fail('merchantNotFound');
    return ok({ challengeAccessPeriodSecondsMax: seconds });
  }

  /**
   * Classes what a merchant sells for the monthly caps (issue 15): its category, for its HTTP 402
   * challenges (an offer has its own), and whether its goods resell easily (gift cards, game
   * currency, transit top-ups), which puts all its sales under the lower resellable cap. The
   * operator decides this, not the merchant, whom the lower cap would otherwise not hold.
   * Payments see the change within merchantTermsCacheTtlMs.
   */
  async function setSpendingClass(
    merchantId: string,
    spendingClass: { readonly category: OfferCategory; readonly resellable: boolean },
  ): Promise<Result<typeof spendingClass, 'merchantNotFound'>> {
    const updated = await db
      .updateTable('merchants')
      .set({
        spending_category: spendingClass.category,
        resellable: spendingClass.resellable ? 1 : 0,
      })
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return fail('merchantNotFound');
    return ok(spendingClass);
  }

  /**
   * Sets or (with null) removes the merchant's fair-price cap (limits/fair-price.ts): the most a
   * user pays it in a month. Payments see the change within merchantTermsCacheTtlMs; what users
   * spent with it this month counts towards a new cap from then on.
   */
  async function setFairPriceCap(
    merchantId: string,
    capMicros: bigint | null,
  ): Promise<Result<{ capMicros: bigint | null }, 'merchantNotFound'>> {
    if (capMicros !== null && (capMicros <= 0n || capMicros > fairPriceCapMicrosMax)) {
      throw new RangeError(`bug: a fair-price cap of ${capMicros} passed the route's schema`);
    }
    const updated = await db
      .updateTable('merchants')
      .set({ fair_price_cap_micros: capMicros === null ? null : capMicros.toString() })
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return fail('merchantNotFound');
    return ok({ capMicros });
  }

  /** The merchant's fair-price cap (null: none), or undefined when there is no such merchant. */
  async function fairPriceCapOf(merchantId: string): Promise<bigint | null | undefined> {
    const row = await db
      .selectFrom('merchants')
      .select('fair_price_cap_micros')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return row.fair_price_cap_micros === null ? null : BigInt(row.fair_price_cap_micros);
  }

  async function merchantExists(merchantId: string): Promise<boolean> {
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    return merchant !== undefined;
  }

  async function issueApiKey(
    merchantId: string,
    scopes: readonly ApiKeyScope[],
  ): Promise<Result<{ keyId: string; secret: string }, 'merchantNotFound'>> {
    if (!(await merchantExists(merchantId))) return fail('merchantNotFound');
    return ok(await insertApiKey(db, merchantId, scopes));
  }

  async function insertApiKey(
    into: Pick<typeof db, 'insertInto'>,
    merchantId: string,
    scopes: readonly ApiKeyScope[],
  ): Promise<{ keyId: string; secret: string }> {
    const issued = issueSecret('apiKey');
    await into
      .insertInto('api_keys')
      .values({
        id: issued.id,
        merchant_id: merchantId,
        secret_hash: issued.hash,
        scopes: JSON.stringify([...new Set(scopes)].sort()),
        created_at: BigInt(clock()),
        revoked_at: null,
      })
      .execute();
    return { keyId: issued.id, secret: issued.secret };
  }

  async function authenticateApiKey(
    secret: string,
  ): Promise<{ merchantId: string; keyId: string; scopes: ApiKeyScope[] } | undefined> {
    const parsed = parseSecret(secret);
    if (parsed?.kind !== 'apiKey') return undefined;
    const key = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', parsed.id)
      .executeTakeFirst();
    if (key === undefined || key.revoked_at !== null || !secretMatches(secret, key.secret_hash)) {
      return undefined;
    }
    await recordKeyUse(db, 'api_keys', key, clock());
    return {
      merchantId: key.merchant_id,
      keyId: key.id,
      scopes: JSON.parse(key.scopes) as ApiKeyScope[],
    };
  }

  /**
   * A merchant's keys, revoked ones too, oldest first; merchantNotFound for an unknown merchant
   * (an empty list would hide a wrong id).
   */
  async function listApiKeys(
    merchantId: string,
  ): Promise<Result<ApiKeyInfo[], 'merchantNotFound'>> {
    if (!(await merchantExists(merchantId))) return fail('merchantNotFound');
    const rows = await db
      .selectFrom('api_keys')
      .selectAll()
      .where('merchant_id', '=', merchantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return ok(rows.map(apiKeyInfo));
  }

  async function keyActedOn(
    reader: Pick<typeof db, 'selectFrom'>,
    merchantId: string,
    keyId: string,
    actor: KeyActor,
  ): Promise<Result<ApiKeyRow, KeyChangeError>> {
    const row = await reader
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', keyId)
      .where('merchant_id', '=', merchantId)
      .executeTakeFirst();
    if (row === undefined) return fail('notFound', 'No such API key.');
    const scopes = JSON.parse(row.scopes) as string[];
    if (actor.kind === 'merchant' && !holdsScopes(actor.scopes, scopes)) {
      return fail('forbidden', 'A key may only revoke or rotate keys whose scopes it holds.');
    }
    return ok(row);
  }

  /**
   * Revokes a key, at once: every request reads its key's row (no key is cached), so the next
   * request with it is refused on every node. Revoking a revoked key changes nothing.
   */
  async function revokeApiKey(
    merchantId: string,
    keyId: string,
    actor: KeyActor = { kind: 'operator' },
  ): Promise<Result<ApiKeyInfo, KeyChangeError>> {
    const found = await keyActedOn(db, merchantId, keyId, actor);
    if (!found.ok) return found;
    await db
      .updateTable('api_keys')
      .set({ revoked_at: BigInt(clock()) })
      .where('id', '=', keyId)
      .where('revoked_at', 'is', null)
      .execute();
    const revoked = await keyActedOn(db, merchantId, keyId, actor);
    return revoked.ok ? ok(apiKeyInfo(revoked.value)) : revoked;
  }

  /**
   * A new secret with the same scopes, and the old key revoked, in one transaction: the revoke is
   * conditional on the key being active, so of concurrent rotations of one key one succeeds.
   */
  async function rotateApiKey(
    merchantId: string,
    keyId: string,
    actor: KeyActor = { kind: 'operator' },
  ): Promise<Result<{ keyId: string; secret: string; scopes: ApiKeyScope[] }, KeyChangeError>> {
    return db.transaction().execute(async (tx) => {
      const found = await keyActedOn(tx, merchantId, keyId, actor);
      if (!found.ok) return found;
      const revoked = await tx
        .updateTable('api_keys')
        .set({ revoked_at: BigInt(clock()) })
        .where('id', '=', keyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (revoked.numUpdatedRows === 0n) return fail('notFound', 'The key is revoked already.');
      const scopes = JSON.parse(found.value.scopes) as ApiKeyScope[];
      return ok({ ...(await insertApiKey(tx, merchantId, scopes)), scopes });
    });
  }

  async function createOffer(
    input: NewOffer,
  ): Promise<Result<Offer, 'merchantNotFound' | 'validationFailed'>> {
    const splits = input.splits ?? [
      { merchantId: input.merchantId, shareBasisPoints: basisPointsWhole },
    ];
    const invalid = splitProblem(splits);
    if (invalid !== undefined) return fail('validationFailed', invalid);
    const wanted = [...new Set([input.merchantId, ...splits.map((split) => split.merchantId)])];
    const found = await db.selectFrom('merchants').select('id').where('id', 'in', wanted).execute();
    if (found.length !== wanted.length) return fail('merchantNotFound');
    const offer: Offer = { ...input, id: `off_${uuidv7()}`, splits };
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('offers')
        .values({
          id: offer.id,
          merchant_id: offer.merchantId,
          resource: offer.resource,
          title: offer.title,
          price_micros: offer.priceMicros.toString(),
          category: offer.category,
          access_period_seconds: offer.accessPeriodSeconds,
          created_at: BigInt(clock()),
          archived_at: null,
        })
        .execute();
      await tx
        .insertInto('offer_splits')
        .values(
          splits.map((split, position) => ({
            offer_id: offer.id,
            position,
            merchant_id: split.merchantId,
            share_basis_points: split.shareBasisPoints,
          })),
        )
        .execute();
    });
    return ok(offer);
  }

  async function getOffer(offerId: string): Promise<Offer | undefined> {
    const cached = offers.get(offerId);
    if (cached !== undefined) return cached;
    const offer = await readOffer(offerId);
    if (offer !== undefined) offers.set(offerId, offer);
    return offer;
  }

  async function readOffer(offerId: string): Promise<Offer | undefined> {
    const row = await db
      .selectFrom('offers')
      .selectAll()
      .where('id', '=', offerId)
      .executeTakeFirst();
    if (row === undefined || row.archived_at !== null) return undefined;
    const splits = await db
      .selectFrom('offer_splits')
      .select(['merchant_id', 'share_basis_points'])
      .where('offer_id', '=', offerId)
      .orderBy('position')
      .execute();
    return offerFromRow(row, splits);
  }

  return {
    createMerchant,
    merchantName,
    setChallengeAccessPeriodMax,
    setSpendingClass,
    setFairPriceCap,
    fairPriceCapOf,
    issueApiKey,
    authenticateApiKey,
    listApiKeys,
    revokeApiKey,
    rotateApiKey,
    createOffer,
    getOffer,
  };
}

export type MerchantService = ReturnType<typeof createMerchantService>;

function offerFromRow(
  row: OfferRow,
  splits: readonly { merchant_id: string; share_basis_points: number }[],
): Offer {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    resource: row.resource,
    title: row.title,
    priceMicros: BigInt(row.price_micros),
    category: row.category,
    accessPeriodSeconds: row.access_period_seconds,
    splits: splits.map((split) => ({
      merchantId: split.merchant_id,
      shareBasisPoints: split.share_basis_points,
    })),
  };
}

/** Why a revenue split is unusable, in words for the merchant; undefined when it is fine. */
export function splitProblem(splits: Offer['splits']): string | undefined {
  if (splits.length === 0 || splits.length > splitPartiesMax) {
    return `a revenue split names 1 to ${splitPartiesMax} parties`;
  }
  if (
    !splits.every((split) => Number.isInteger(split.shareBasisPoints) && split.shareBasisPoints > 0)
  ) {
    return 'every share is a positive whole number of basis points';
  }
  const total = splits.reduce((sum, split) => sum + split.shareBasisPoints, 0);
  if (total !== basisPointsWhole)
    return `shares add up to ${total} basis points, not ${basisPointsWhole}`;
  if (new Set(splits.map((split) => split.merchantId)).size !== splits.length) {
    return 'a party appears in a split once';
  }
  return undefined;
}
