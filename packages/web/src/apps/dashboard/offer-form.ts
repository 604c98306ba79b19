import { formatAmount, parseAmount } from '@mite/protocol';
import { basisPointsOf } from '../shared/money.ts';

/** `GET /v1/merchants/{id}/offers` items. */
export interface OfferItem {
  readonly offerId: string;
  readonly resource: string;
  readonly title: string;
  readonly price: string;
  readonly category: 'content' | 'goods';
  readonly accessPeriodSeconds: number;
  readonly splits: readonly Split[];
  readonly createdAt: string;
  readonly archivedAt: string | null;
}

export interface Split {
  readonly merchantId: string;
  readonly shareBasisPoints: number;
}

/** The platform's limits on an offer (merchant-routes.ts, merchant-service.ts). */
export const offerLimits = {
  titleLengthMax: 200,
  resourceLengthMax: 2048,
  accessHoursMax: 366 * 24,
  splitPartiesMax: 16,
  basisPointsWhole: 10_000,
} as const;

/** What a person typed into the offer form, as text. */
export interface OfferDraft {
  readonly title: string;
  readonly resource: string;
  readonly price: string;
  readonly category: string;
  readonly accessHours: string;
  readonly splits: readonly { readonly merchantId: string; readonly percent: string }[];
}

/** `POST /v1/offers`'s body. */
export interface NewOfferBody {
  readonly title: string;
  readonly resource: string;
  readonly price: string;
  readonly category: 'content' | 'goods';
  readonly accessPeriodSeconds: number;
  readonly splits?: Split[];
}

export type OfferField = 'title' | 'resource' | 'price' | 'category' | 'accessHours' | 'splits';

export { basisPointsOf };

/** "12.5" for 1250 basis points. */
export function percentOf(basisPoints: number): string {
  return (basisPoints / 100).toString();
}

function splitsProblem(draft: OfferDraft): string | Split[] | undefined {
  if (draft.splits.length === 0) return undefined;
  if (draft.splits.length > offerLimits.splitPartiesMax) {
    return `A split names at most ${offerLimits.splitPartiesMax} merchants.`;
  }
  const splits: Split[] = [];
  for (const [index, row] of draft.splits.entries()) {
    const merchantId = row.merchantId.trim();
    const shareBasisPoints = basisPointsOf(row.percent);
    if (merchantId === '') return `Party ${index + 1}: enter a merchant id (mer_…).`;
    if (shareBasisPoints === undefined || shareBasisPoints === 0) {
      return `Party ${index + 1}: enter a share above 0 and at most 100, with at most 2 decimals.`;
    }
    splits.push({ merchantId, shareBasisPoints });
  }
  if (new Set(splits.map((split) => split.merchantId)).size !== splits.length) {
    return 'Name each merchant once.';
  }
  const total = splits.reduce((sum, split) => sum + split.shareBasisPoints, 0);
  if (total !== offerLimits.basisPointsWhole) {
    return `The shares add up to ${percentOf(total)}%, not 100%.`;
  }
  return splits;
}

/** The body to send, or what is wrong with each field: nothing is sent until it is all right. */
export function checkOffer(
  draft: OfferDraft,
): { ok: true; body: NewOfferBody } | { ok: false; errors: Partial<Record<OfferField, string>> } {
  const errors: Partial<Record<OfferField, string>> = {};
  const title = draft.title.trim();
  const resource = draft.resource.trim();
  if (title === '' || title.length > offerLimits.titleLengthMax) {
    errors.title = `Enter a title of 1 to ${offerLimits.titleLengthMax} characters.`;
  }
  if (resource === '' || resource.length > offerLimits.resourceLengthMax) {
    errors.resource = `Enter the path or URL you sell, like /articles/42 (at most ${offerLimits.resourceLengthMax} characters).`;
  }
  const price = parseAmount(draft.price.trim());
  if (!price.ok || price.value === 0n) {
    errors.price = 'Enter a price above 0 with at most 6 decimals, like 0.02.';
  }
  if (draft.category !== 'content' && draft.category !== 'goods') errors.category = 'Choose one.';
  const hours = /^[0-9]{1,4}$/.test(draft.accessHours.trim())
    ? Number(draft.accessHours.trim())
    : undefined;
  if (hours === undefined || hours > offerLimits.accessHoursMax) {
    errors.accessHours = `Enter whole hours from 0 to ${offerLimits.accessHoursMax}.`;
  }
  const splits = splitsProblem(draft);
  if (typeof splits === 'string') errors.splits = splits;
  if (Object.keys(errors).length > 0 || !price.ok || hours === undefined) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    body: {
      title,
      resource,
      price: formatAmount(price.value),
      category: draft.category as 'content' | 'goods',
      accessPeriodSeconds: hours * 3600,
      ...(Array.isArray(splits) ? { splits } : {}),
    },
  };
}

/** A published offer as a draft of a new one: offers do not change once published. */
export function draftOf(offer: OfferItem, ownMerchantId: string): OfferDraft {
  const ownOnly = offer.splits.length === 1 && offer.splits[0]?.merchantId === ownMerchantId;
  return {
    title: offer.title,
    resource: offer.resource,
    price: offer.price,
    category: offer.category,
    accessHours: String(Math.floor(offer.accessPeriodSeconds / 3600)),
    splits: ownOnly
      ? []
      : offer.splits.map((split) => ({
          merchantId: split.merchantId,
          percent: percentOf(split.shareBasisPoints),
        })),
  };
}

export const emptyDraft: OfferDraft = {
  title: '',
  resource: '',
  price: '',
  category: 'content',
  accessHours: '24',
  splits: [],
};
