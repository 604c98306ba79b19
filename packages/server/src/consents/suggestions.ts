/**
 * Personalised suggestions: the platform's offers like those the user bought (from the same
 * merchants, or of the same categories), that they have not bought yet. They are made only while
 * the user's `suggestions` consent is active; without it the answer is not personalised and is
 * empty, and the purchase history is not read at all.
 */
import type { PlatformDb } from '../db/platform-db.ts';
import type { OfferCategory } from '../db/schema.ts';
import type { ConsentService } from './consent-service.ts';
import { wholeWalletScope } from './consent-texts.ts';

/** How many of the newest purchases the suggestions look at. */
export const suggestionPurchasesMax = 200;
/** How many offers one answer suggests at most. */
export const suggestionsMax = 10;
/** How many candidate offers are read before ranking: a few times what is shown. */
const candidatesMax = suggestionsMax * 5;

export interface Suggestion {
  readonly offerId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly title: string;
  readonly priceMicros: bigint;
  readonly category: OfferCategory;
  /** Why it is suggested: a merchant the user bought from, or a category they bought in. */
  readonly reason: 'sameMerchant' | 'sameCategory';
}

export type Suggestions =
  | { readonly personalised: true; readonly suggestions: readonly Suggestion[] }
  | { readonly personalised: false; readonly suggestions: readonly [] };

export function createSuggestions(deps: { platform: PlatformDb; consents: ConsentService }) {
  const { db } = deps.platform;

  async function purchasesOf(userId: string) {
    return db
      .selectFrom('payments')
      .leftJoin('offers', 'offers.id', 'payments.offer_id')
      .select(['payments.merchant_id', 'payments.offer_id', 'offers.category'])
      .where('payments.user_id', '=', userId)
      .where('payments.state', '=', 'succeeded')
      .orderBy('payments.created_at', 'desc')
      .limit(suggestionPurchasesMax)
      .execute();
  }

  async function suggest(userId: string): Promise<Suggestions> {
    if (!(await deps.consents.isActive(userId, 'suggestions', wholeWalletScope))) {
      return { personalised: false, suggestions: [] };
    }
    const bought = await purchasesOf(userId);
    const merchants = [...new Set(bought.map((row) => row.merchant_id))];
    const categories = [
      ...new Set(bought.flatMap((row) => (row.category === null ? [] : [row.category]))),
    ];
    const owned = new Set(bought.flatMap((row) => (row.offer_id === null ? [] : [row.offer_id])));
    if (merchants.length === 0) return { personalised: true, suggestions: [] };
    const candidates = await db
      .selectFrom('offers')
      .innerJoin('merchants', 'merchants.id', 'offers.merchant_id')
      .select([
        'offers.id',
        'offers.merchant_id',
        'merchants.name',
        'offers.title',
        'offers.price_micros',
        'offers.category',
      ])
      .where('offers.archived_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('offers.merchant_id', 'in', merchants),
          ...(categories.length === 0 ? [] : [eb('offers.category', 'in', categories)]),
        ]),
      )
      .orderBy('offers.created_at', 'desc')
      .orderBy('offers.id', 'desc')
      .limit(candidatesMax + owned.size)
      .execute();
    const fromMerchants = new Set(merchants);
    const suggestions = candidates
      .filter((offer) => !owned.has(offer.id))
      .map((offer) => ({
        offerId: offer.id,
        merchantId: offer.merchant_id,
        merchantName: offer.name,
        title: offer.title,
        priceMicros: BigInt(offer.price_micros),
        category: offer.category,
        reason: fromMerchants.has(offer.merchant_id)
          ? ('sameMerchant' as const)
          : ('sameCategory' as const),
      }))
      // Merchants the user already buys from first; the query's newest-first order within each.
      .sort((a, b) => Number(a.reason === 'sameCategory') - Number(b.reason === 'sameCategory'))
      .slice(0, suggestionsMax);
    return { personalised: true, suggestions };
  }

  return { suggest };
}

export type SuggestionsService = ReturnType<typeof createSuggestions>;
