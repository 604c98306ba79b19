import type { Ledger } from '@mite/ledger';
import { LRUCache } from 'lru-cache';
import { uuidv7 } from 'uuidv7';
import { parseSecret, issueSecret, secretMatches } from '../auth/secrets.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { OfferCategory, OfferRow } from '../db/schema.ts';
import { merchantAccount, newAccountId } from '../ledger/chart-of-accounts.ts';
import { basisPointsWhole } from '../payments/revenue-split.ts';
import { fail, ok, type Result } from '../result.ts';

/** What an API key may do; a closed list. */
export const apiKeyScopes = ['offers:write', 'payments:read', 'refunds:write'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];
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

  /** A new API key; its secret is returned once and stored only hashed. */
  async function issueApiKey(
    merchantId: string,
    scopes: readonly ApiKeyScope[],
  ): Promise<Result<{ keyId: string; secret: string }, 'merchantNotFound'>> {
    const merchant = await db
      .selectFrom('merchants')
      .select('id')
      .where('id', '=', merchantId)
      .executeTakeFirst();
    if (merchant === undefined) return fail('merchantNotFound');
    const issued = issueSecret('apiKey');
    await db
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
    return ok({ keyId: issued.id, secret: issued.secret });
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
    return {
      merchantId: key.merchant_id,
      keyId: key.id,
      scopes: JSON.parse(key.scopes) as ApiKeyScope[],
    };
  }

  async function revokeApiKey(merchantId: string, keyId: string): Promise<boolean> {
    const result = await db
      .updateTable('api_keys')
      .set({ revoked_at: BigInt(clock()) })
      .where('id', '=', keyId)
      .where('merchant_id', '=', merchantId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
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

  return { createMerchant, issueApiKey, authenticateApiKey, revokeApiKey, createOffer, getOffer };
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
