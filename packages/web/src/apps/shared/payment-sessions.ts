/**
 * Payment sessions (streaming and metered payments) as the wallet and the dashboard show them:
 * the platform's view of one session, and the words for its price, its state and its amounts.
 * Amounts in these views are integer strings of micro-units ("4200" is $0.0042), unlike the rest
 * of the API's decimal strings.
 */
import { showMicros } from './money.ts';

export type SessionState = 'opening' | 'open' | 'closing' | 'settling' | 'settled' | 'failed';
export type UnitType = 'second' | 'request' | 'token' | 'byte';

/** `GET /v1/users/me/payment-sessions` and `GET /v1/merchants/{id}/payment-sessions` items. */
export interface PaymentSessionView {
  readonly id: string;
  readonly merchantId: string;
  readonly merchantName: string | null;
  readonly resource: string;
  readonly currency: string;
  readonly unitPrice: string;
  readonly unitType: UnitType;
  readonly deposit: string;
  readonly acceptedCumulative: string;
  readonly settledAmount: string | null;
  readonly state: SessionState;
  readonly openedAt: string;
  readonly lastActivityAt: string;
  readonly closeAt: string | null;
  readonly closedAt: string | null;
  readonly closeReason: 'merchant' | 'client' | 'idle' | 'lifetime' | null;
  readonly paymentId: string | null;
  /** The merchant's view only: the payer's pseudonym. */
  readonly payer?: string;
}

export interface SessionPage {
  readonly items: PaymentSessionView[];
  readonly nextCursor: string | null;
}

/** Every state, in the order a session passes through them (the dashboard's filter). */
export const sessionStates: readonly SessionState[] = [
  'opening',
  'open',
  'closing',
  'settling',
  'settled',
  'failed',
];

/** Whether the session's amounts can still move, so that a page reads it again soon. */
export function sessionLive(session: PaymentSessionView): boolean {
  return session.state !== 'settled' && session.state !== 'failed';
}

const integerPattern = /^[0-9]+$/;

/** Micro-units as an integer string ("4200") shown to a person ("$0.0042"). */
export function showMicroUnits(text: string): string {
  return integerPattern.test(text) ? showMicros(BigInt(text)) : text;
}

/** "$0.0001 per second". */
export function showUnitPrice(session: PaymentSessionView): string {
  return `${showMicroUnits(session.unitPrice)} per ${session.unitType}`;
}

/** The whole units the accepted amount pays for: "42 seconds", "1 request". */
export function showUnits(session: PaymentSessionView): string {
  const { acceptedCumulative: accepted, unitPrice: price } = session;
  if (!integerPattern.test(accepted) || !integerPattern.test(price) || BigInt(price) === 0n) {
    return '';
  }
  const units = BigInt(accepted) / BigInt(price);
  return `${units} ${session.unitType}${units === 1n ? '' : 's'}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

/** A time of today, to the second ("12:01:05"). */
export function showTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

export function showDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

const closeReasons: Readonly<Record<NonNullable<PaymentSessionView['closeReason']>, string>> = {
  merchant: 'closed by the merchant',
  client: 'stopped by the payer',
  idle: 'unused too long',
  lifetime: 'reached its longest time',
};

/** The state in words: "Playing", "Stopping — settles at 12:01:05", "Settled". */
export function sessionStateText(session: PaymentSessionView): string {
  switch (session.state) {
    case 'opening':
      return 'Starting';
    case 'open':
      return session.unitType === 'second' ? 'Playing' : 'In use';
    case 'closing':
      return session.closeAt === null
        ? 'Stopping'
        : `Stopping \u2014 settles at ${showTime(session.closeAt)}`;
    case 'settling':
      return 'Settling';
    case 'settled':
      return 'Settled';
    case 'failed':
      return 'Failed';
  }
}

/** Why it ended, when it has: "closed by the merchant". */
export function closeReasonText(session: PaymentSessionView): string {
  return session.closeReason === null ? '' : closeReasons[session.closeReason];
}
