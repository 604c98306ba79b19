import { parseAmount } from '@mite/protocol';

/** What the form needs of a payment (`GET /v1/merchants/{id}/payments` items). */
export interface RefundablePayment {
  readonly paymentId: string;
  readonly offerTitle: string | null;
  readonly resource: string | null;
  readonly amount: string;
  readonly refunded: string;
}

/** `POST /v1/payments/{id}/refunds`'s answer. */
export interface RefundDone {
  readonly refundId: string;
  readonly amount: string;
  readonly refundedTotal: string;
}

/** What is left to refund of a payment, in micro-units. */
export function refundableMicros(payment: RefundablePayment): bigint {
  const paid = parseAmount(payment.amount);
  const refunded = parseAmount(payment.refunded);
  if (!paid.ok || !refunded.ok) return 0n;
  return paid.value > refunded.value ? paid.value - refunded.value : 0n;
}

/** A payment named for people: its offer's title, else its resource. */
export function paymentName(payment: RefundablePayment): string {
  return payment.offerTitle ?? payment.resource ?? payment.paymentId;
}
