/**
 * What Mite keeps about a user, and for how long, in words a person can read: the wallet's "Your
 * data" page and `GET /v1/privacy/retention` show it. Each period is read from the constant or
 * setting that enforces it, so that the page cannot drift from what the jobs do. docs/DATA.md
 * has the full list of tables and fields.
 */
import { sessionTtlMs } from '../auth/user-service.ts';
import { idempotencyRetentionMs } from '../idempotency/idempotency-store.ts';
import { redemptionReportRetentionMs } from '../risk/redemption-reports.ts';
import { dayMs } from '../reports/report-periods.ts';
import { webhookEventRetentionMs } from '../webhooks/webhook-retention.ts';

export interface RetentionPeriod {
  /** A stable key for the kind of data. */
  readonly key: string;
  /** What is kept, in a sentence. */
  readonly what: string;
  /** How long, in days; null when it is kept as long as the account or the law requires. */
  readonly days: number | null;
  /** What happens then, or why it is kept. */
  readonly then: string;
}

/** The retention of every kind of data about a user, with this platform's configured periods. */
export function retentionPeriods(options: {
  readonly purchaseDetailRetentionMs: number;
}): RetentionPeriod[] {
  return [
    {
      key: 'purchaseDetails',
      what: 'What each purchase was for: the offer and the page or item (resource) you paid for',
      days: options.purchaseDetailRetentionMs / dayMs,
      then:
        'Erased from the purchase and added into each merchant\u2019s daily totals (how many ' +
        'sales of each offer, and their amount), which name no buyer',
    },
    {
      key: 'money',
      what:
        'The amounts, times and merchants of your purchases, refunds, top-ups and token ' +
        'withdrawals, and the ledger\u2019s record of every movement of your wallet',
      days: null,
      then: 'Kept as financial records: the ledger and record-keeping law need them',
    },
    {
      key: 'account',
      what: 'Your account: your email (encrypted), a hash of your password, your budget',
      days: null,
      then: 'Kept while your account exists',
    },
    {
      key: 'sessions',
      what: 'Your log-in sessions (a hash of each token, when it started, ends and was ended)',
      days: sessionTtlMs / dayMs,
      then: 'A session stops working after this; its record is kept with your account',
    },
    {
      key: 'cards',
      what: 'For each card top-up: the card\u2019s last four digits and the processor\u2019s token',
      days: null,
      then: 'Kept with the top-up, as a financial record; the card number is never stored',
    },
    {
      key: 'requestReplays',
      what: 'Answers to your requests kept (encrypted) so that a retried request is not done twice',
      days: idempotencyRetentionMs / dayMs,
      then: 'Deleted',
    },
    {
      key: 'merchantEvents',
      what:
        'Notifications sent to merchants about your purchases (your pseudonym for that ' +
        'merchant, the amount, what was bought)',
      days: webhookEventRetentionMs / dayMs,
      then: 'Deleted',
    },
    {
      key: 'policyDecisions',
      what: 'Purchases and top-ups the platform\u2019s policy stopped, with the reason',
      days: null,
      then: 'Kept for the operator\u2019s review and for your export',
    },
    {
      key: 'codeRedemptions',
      what:
        'Reports from merchants that a gift card or other code you bought was redeemed, and ' +
        'whether by you, by another account or outside Mite; and codes you redeemed that ' +
        'others bought',
      days: redemptionReportRetentionMs / dayMs,
      then: 'Deleted; kept until then if you erase your account, as a record against fraud',
    },
    {
      key: 'personalDataViews',
      what: 'Each time an operator looked at your personal data, who, when and why',
      days: null,
      then: 'Kept: the log cannot be changed or deleted',
    },
  ];
}
