/**
 * Every platform migration, by name. Kysely applies them in the order of their names, so a new
 * migration is `NNNN-name.ts` with the next number, listed here, and never edited once released.
 */
import type { Migration } from 'kysely';
import * as foundation from './0001-foundation.ts';
import * as offersAndPayments from './0002-offers-and-payments.ts';
import * as topUps from './0003-topups.ts';
import * as refunds from './0004-refunds.ts';
import * as payouts from './0005-payouts.ts';
import * as webhooks from './0006-webhooks.ts';
import * as pendingPaymentsIndex from './0007-pending-payments-index.ts';
import * as challengePayments from './0008-challenge-payments.ts';
import * as operatorWebhooks from './0009-operator-webhooks.ts';
import * as webhookRetention from './0010-webhook-retention.ts';
import * as dataUpgrades from './0011-data-upgrades.ts';
import * as purchasesOnce from './0012-purchases-once.ts';
import * as topUpSandbox from './0013-topup-sandbox.ts';
import * as keyManagement from './0014-key-management.ts';
import * as policyDecisions from './0015-policy-decisions.ts';
import * as unusedPaymentIndex from './0016-unused-payment-index.ts';
import * as merchantReports from './0017-merchant-reports.ts';
import * as pendingRefundsIndex from './0018-pending-refunds-index.ts';
import * as walletBudgets from './0019-wallet-budgets.ts';
import * as staff from './0020-staff.ts';
import * as tokenKeys from './0021-token-keys.ts';
import * as operatorConsole from './0022-operator-console.ts';
import * as tokenWithdrawals from './0023-token-withdrawals.ts';
import * as tokenDeposits from './0024-token-deposits.ts';
import * as consents from './0025-consents.ts';
import * as dataKeys from './0026-data-keys.ts';
import * as retention from './0027-retention.ts';
import * as spendingLimits from './0029-spending-limits.ts';
import * as tokenDepositsByMerchant from './0028-token-deposits-by-merchant.ts';
import * as userLimits from './0030-user-limits.ts';
import * as challengeConfirmations from './0032-challenge-confirmations.ts';
import * as policyReview from './0033-policy-review.ts';
import * as riskRuleSets from './0034-risk-rule-sets.ts';
import * as fairPriceCaps from './0035-fair-price-caps.ts';
import * as codeRedemptions from './0036-code-redemptions.ts';
import * as paymentSessions from './0037-payment-sessions.ts';

export const platformMigrations: Readonly<Record<string, Migration>> = {
  '0001-foundation': foundation,
  '0002-offers-and-payments': offersAndPayments,
  '0003-topups': topUps,
  '0004-refunds': refunds,
  '0005-payouts': payouts,
  '0006-webhooks': webhooks,
  '0007-pending-payments-index': pendingPaymentsIndex,
  '0008-challenge-payments': challengePayments,
  '0009-operator-webhooks': operatorWebhooks,
  '0010-webhook-retention': webhookRetention,
  '0011-data-upgrades': dataUpgrades,
  '0012-purchases-once': purchasesOnce,
  '0013-topup-sandbox': topUpSandbox,
  '0014-key-management': keyManagement,
  '0015-policy-decisions': policyDecisions,
  '0016-unused-payment-index': unusedPaymentIndex,
  '0017-merchant-reports': merchantReports,
  '0018-pending-refunds-index': pendingRefundsIndex,
  '0019-wallet-budgets': walletBudgets,
  '0020-staff': staff,
  '0021-token-keys': tokenKeys,
  '0022-operator-console': operatorConsole,
  '0023-token-withdrawals': tokenWithdrawals,
  '0024-token-deposits': tokenDeposits,
  '0025-consents': consents,
  '0026-data-keys': dataKeys,
  '0027-retention': retention,
  '0028-token-deposits-by-merchant': tokenDepositsByMerchant,
  '0029-spending-limits': spendingLimits,
  '0030-user-limits': userLimits,
  '0032-challenge-confirmations': challengeConfirmations,
  '0033-policy-review': policyReview,
  '0034-risk-rule-sets': riskRuleSets,
  '0035-fair-price-caps': fairPriceCaps,
  '0036-code-redemptions': codeRedemptions,
  '0037-payment-sessions': paymentSessions,
};
