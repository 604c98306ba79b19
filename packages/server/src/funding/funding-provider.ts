/**
 * What Mite needs from a card processor (DESIGN.md section 4). A top-up charges a card once for
 * many micropayments; the provider answers at once, or later through a signed webhook.
 */
import type { ExplainedFailure, Success } from '../result.ts';
export interface CardDetails {
  readonly number: string;
  readonly expMonth: number;
  readonly expYear: number;
  readonly cvc: string;
}

/**
 * What a top-up is paid with: card details, which only the sandbox takes (its published test
 * cards), or a payment method id that the processor's own client-side library made from the card,
 * so that a real card number never reaches Mite.
 */
export type FundingSource =
  | { readonly kind: 'card'; readonly card: CardDetails }
  | { readonly kind: 'paymentMethod'; readonly paymentMethodId: string };

export interface ChargeRequest {
  /** A whole number of cents: card processors charge in the currency's minor unit. */
  readonly amountMicros: bigint;
  readonly source: FundingSource;
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
  readonly last4: string | null;
  readonly outcome: ChargeOutcome;
}

/** A provider's later word on a pending charge. */
export type ChargeEvent =
  | { readonly type: 'charge.succeeded'; readonly chargeId: string; readonly feeMicros: bigint }
  | { readonly type: 'charge.failed'; readonly chargeId: string; readonly reason: DeclineReason };

/**
 * A webhook's event once its signature holds, or why it was refused. The event is undefined for a
 * genuine event that says nothing about a charge's outcome.
 */
export type WebhookCheck = Success<ChargeEvent | undefined> | ExplainedFailure<'invalidSignature'>;

/** A webhook refused, with the reason the processor's library or the check gave. */
export function invalidWebhook(detail: string): ExplainedFailure<'invalidSignature'> {
  return { ok: false, code: 'invalidSignature', detail };
}

export interface RefundRequest {
  readonly chargeId: string;
  /** A whole number of cents, at most what the charge took. */
  readonly amountMicros: bigint;
  /** The provider must not refund twice for one key. */
  readonly idempotencyKey: string;
}

export interface FundingProvider {
  /** Recorded on every top-up it takes ("sandbox", "stripe"); its webhook path names it too. */
  readonly name: string;
  /** True when no real money moves (the sandbox, a processor's test mode). */
  readonly sandbox: boolean;
  /** What the client pays with through this provider. */
  readonly sourceKind: FundingSource['kind'];
  /**
   * The card's token as a charge of this source would record it (Charge.cardToken), known before
   * charging so that risk rules can count by card: never the card number.
   */
  cardTokenOf(source: FundingSource): string;
  charge(request: ChargeRequest): Promise<Charge>;
  refund(request: RefundRequest): Promise<{ readonly refundId: string }>;
  /**
   * Checks a webhook's signature and freshness over the bytes exactly as received (never a
   * re-serialisation of parsed JSON, whose bytes differ), and reads its event.
   */
  verifyWebhook(
    headers: Readonly<Record<string, string | undefined>>,
    rawBody: Buffer,
  ): WebhookCheck;
}
