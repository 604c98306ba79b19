/**
 * What Mite needs from a card processor (DESIGN.md section 4). A top-up charges a card once for
 * many micropayments; the provider answers at once, or later through a signed webhook.
 */
export interface CardDetails {
  readonly number: string;
  readonly expMonth: number;
  readonly expYear: number;
  readonly cvc: string;
}

export interface ChargeRequest {
  readonly amountMicros: bigint;
  readonly card: CardDetails;
  /** The provider must not charge twice for one key. */
  readonly idempotencyKey: string;
}

/** Card decline reasons as the platform shows them; a closed list. */
export type DeclineReason = 'cardDeclined' | 'insufficientFunds' | 'expiredCard' | 'invalidCard';

export type ChargeOutcome =
  | { readonly status: 'succeeded'; readonly feeMicros: bigint }
  | { readonly status: 'pending' }
  | { readonly status: 'declined'; readonly reason: DeclineReason };

/** What a charge leaves behind: never the card number, only a token and the last four digits. */
export interface Charge {
  readonly chargeId: string;
  readonly cardToken: string;
  readonly last4: string;
  readonly outcome: ChargeOutcome;
}

/** A provider's later word on a pending charge. */
export type ChargeEvent =
  | { readonly type: 'charge.succeeded'; readonly chargeId: string; readonly feeMicros: bigint }
  | { readonly type: 'charge.failed'; readonly chargeId: string; readonly reason: DeclineReason };

export type WebhookCheck =
  | { readonly ok: true; readonly event: ChargeEvent }
  | { readonly ok: false; readonly reason: string };

export interface FundingProvider {
  readonly name: string;
  charge(request: ChargeRequest): Promise<Charge>;
  refund(chargeId: string, amountMicros: bigint): Promise<{ readonly refundId: string }>;
  /** Checks a webhook's signature and freshness, and reads its event. */
  verifyWebhook(headers: Readonly<Record<string, string | undefined>>, body: string): WebhookCheck;
}
