/**
 * A purchase's receipt, signed for the merchant, who verifies it offline (DESIGN.md section 5),
 * and the pseudonym under which the merchant knows the payer.
 */
import { LRUCache } from 'lru-cache';
import { currency, formatAmount } from '@mite/protocol';
import type { PaymentRow } from '../db/schema.ts';
import type { PersonalDataCipher } from '../privacy/personal-data-cipher.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';
import { type ReceiptClaims, signReceipt } from '../receipts/receipts.ts';

/** (user, merchant) pseudonyms kept in memory: a receipt and a webhook event each name one. */
export const pseudonymsCachedMax = 20_000;

export interface PaidReceipt {
  readonly paymentId: string;
  readonly receipt: string;
  readonly claims: ReceiptClaims;
}

/**
 * The payer a receipt for tokens names: the same for every token payment, so that it tells the
 * merchant nothing about who paid (the point of paying with tokens).
 */
export const tokenPayer = 'tokens';

/** What a receipt says was bought. */
export interface ReceiptTerms {
  readonly merchantId: string;
  readonly resource: string;
  readonly priceMicros: bigint;
  readonly challengeId: string | null;
  /**
   * The full price when the merchant's fair-price cap applied to the payment (`priceMicros` is
   * then what was charged); null or absent otherwise.
   */
  readonly listPriceMicros?: bigint | null;
}

export function createPurchaseReceipts(deps: {
  readonly cipher: PersonalDataCipher;
  readonly receiptKey: ReceiptKey;
}) {
  const pseudonyms = new LRUCache<string, string>({ max: pseudonymsCachedMax });

  function receiptFor(
    paymentId: string,
    userId: string,
    purchase: ReceiptTerms,
    issuedAtMs: number,
    accessUntilMs: number,
  ): PaidReceipt {
    const payer = pseudonym(userId, purchase.merchantId);
    return signedReceipt(paymentId, payer, purchase, issuedAtMs, accessUntilMs);
  }

  /** The receipt of a deposit of tokens: like a purchase's, with no one named as the payer. */
  function tokenReceiptFor(
    depositId: string,
    purchase: ReceiptTerms,
    issuedAtMs: number,
    accessUntilMs: number,
  ): PaidReceipt {
    return signedReceipt(depositId, tokenPayer, purchase, issuedAtMs, accessUntilMs);
  }

  function signedReceipt(
    paymentId: string,
    payer: string,
    purchase: ReceiptTerms,
    issuedAtMs: number,
    accessUntilMs: number,
  ): PaidReceipt {
    const claims: ReceiptClaims = {
      paymentId,
      merchantId: purchase.merchantId,
      resource: purchase.resource,
      amount: formatAmount(purchase.priceMicros),
      currency,
      payer,
      issuedAt: Math.floor(issuedAtMs / 1000),
      accessUntil: Math.floor(accessUntilMs / 1000),
      ...(purchase.challengeId === null ? {} : { challengeId: purchase.challengeId }),
      ...fairPriceTerm(purchase),
    };
    return { paymentId, claims, receipt: signReceipt(claims, deps.receiptKey) };
  }

  /**
   * The signed term of a payment its merchant's fair-price cap made cheaper: the full price. A
   * payment charged in full under a cap has none, and its receipt is like any other.
   */
  function fairPriceTerm(purchase: ReceiptTerms): { fairPriceCap?: string } {
    const list = purchase.listPriceMicros;
    if (list === undefined || list === null || list <= purchase.priceMicros) return {};
    return { fairPriceCap: formatAmount(list) };
  }

  /** The receipt of a succeeded payment, signed again from its record: the same claims. */
  function receiptOf(row: PaymentRow): PaidReceipt {
    const purchase = {
      merchantId: row.merchant_id,
      resource: row.resource ?? '',
      priceMicros: BigInt(row.amount_micros),
      challengeId: row.challenge_id,
      listPriceMicros: row.list_price_micros === null ? null : BigInt(row.list_price_micros),
    };
    return receiptFor(
      row.id,
      row.user_id,
      purchase,
      Number(row.created_at),
      Number(row.access_until),
    );
  }

  /** What a merchant sees of a user: stable for that merchant, unlinkable across merchants. */
  function pseudonym(userId: string, merchantId: string): string {
    const pair = `${userId}\u0000${merchantId}`;
    let payer = pseudonyms.get(pair);
    if (payer === undefined) {
      payer = `psn_${deps.cipher.lookupTag(pair, 'merchant pseudonym').slice(0, 22)}`;
      pseudonyms.set(pair, payer);
    }
    return payer;
  }

  return { receiptFor, tokenReceiptFor, receiptOf, pseudonym };
}

export type PurchaseReceipts = ReturnType<typeof createPurchaseReceipts>;
