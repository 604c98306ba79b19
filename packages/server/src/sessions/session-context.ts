/**
 * What every part of the payment sessions needs: the stores, the policy gate and the caps a
 * purchase goes through, the merchants' terms, the merchant-scoped pseudonyms, the key grants are
 * signed with. Built once by the sessions' factory (payment-sessions.ts) from the platform's
 * services, so that sessions price, police and count money exactly as purchases do.
 */
import type { Ledger, TimeOrderedIds } from '@mite/ledger';
import type { PlatformDb } from '../db/platform-db.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import type { SpendingLimits } from '../limits/spending-limits.ts';
import type { PurchasePricing } from '../payments/purchase-pricing.ts';
import type { PolicyGate } from '../policy/policy-decisions.ts';
import type { ReceiptKey } from '../receipts/receipt-keys.ts';

export interface SessionContext {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  readonly ledger: Ledger;
  readonly policy: PolicyGate;
  readonly limits: SpendingLimits;
  readonly pricing: PurchasePricing;
  readonly receiptKey: ReceiptKey;
  readonly transferIds: TimeOrderedIds;
  readonly clock: () => number;
  /** The payer as a merchant knows them (payments/purchase-receipts.ts). */
  pseudonym(userId: string, merchantId: string): string;
  walletIdOf(userId: string): Promise<bigint>;
}
