/**
 * Every way the client refuses or fails to pay, as one closed union of codes. A caller handles
 * them with a `switch` the compiler checks; `paid` says whether money left the wallet.
 */
import type { ProtocolErrorCode } from '@mite/protocol';

/** Why a payment was refused or failed. Codes may be added, never renamed. */
export type MitePaymentErrorCode =
  /** The 402 carries a Mite challenge that is malformed, expired, or sells another site's resource. */
  | 'badChallenge'
  /** The challenge asks for a currency other than the wallet's. */
  | 'wrongCurrency'
  /** The challenge names a platform this client was not configured to pay. */
  | 'untrustedPlatform'
  /** The site asking for payment is on plain http, not on the loopback: credentials would leak. */
  | 'insecureTransport'
  /** Paying would exceed a budget limit (`limit` says which). */
  | 'overBudget'
  /** The approval callback said no (or there is none and the amount is above `approveAbove`). */
  | 'approvalDenied'
  /** The request's body cannot be sent twice (a stream), so it could not be retried after paying. */
  | 'bodyNotReplayable'
  /** The platform refused: the wallet's balance is too low. */
  | 'insufficientFunds'
  /** The platform refused: this challenge was paid already (by another client of this wallet). */
  | 'duplicatePayment'
  /** The platform refused the session token (401/403). */
  | 'walletUnauthorized'
  /** The platform's policy blocked the payment (`problem.rule` names the rule). */
  | 'policyBlocked'
  /**
   * The platform's policy asks the user to confirm the payment, and no `approve` callback said
   * yes (`problem.decisionId` names the decision to confirm in the wallet).
   */
  | 'policyChallenged'
  /** The platform refused for another reason, or could not be reached. */
  | 'paymentFailed'
  /** The platform answered 201 with a receipt that does not pay for this challenge. */
  | 'badReceipt'
  /** The merchant answered 402 again to the paid credential. */
  | 'merchantRefused';

/** Every code, for exhaustive tests and documentation. */
export const mitePaymentErrorCodes: readonly MitePaymentErrorCode[] = [
  'badChallenge',
  'wrongCurrency',
  'untrustedPlatform',
  'insecureTransport',
  'overBudget',
  'approvalDenied',
  'bodyNotReplayable',
  'insufficientFunds',
  'duplicatePayment',
  'walletUnauthorized',
  'policyBlocked',
  'policyChallenged',
  'paymentFailed',
  'badReceipt',
  'merchantRefused',
];

/** Which budget limit a payment would have exceeded. */
export type BudgetLimit = 'perPayment' | 'perOriginPerDay' | 'total';

/** An RFC 9457 problem as received (fields are whatever the peer sent). */
export interface ReceivedProblem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly [member: string]: unknown;
}

export interface MitePaymentErrorDetails {
  /** The protocol's code, when a decoder refused the challenge or the merchant named one. */
  readonly protocolCode?: ProtocolErrorCode;
  readonly limit?: BudgetLimit;
  /** The HTTP status of the platform's or merchant's refusal. */
  readonly status?: number;
  readonly problem?: ReceivedProblem;
  /** Whether money left the wallet: the platform took the payment (then `paymentId` is set). */
  readonly paid?: boolean;
  /** The platform may or may not have taken the payment (the network failed); budget stays held. */
  readonly outcomeUnknown?: boolean;
  readonly paymentId?: string;
  /** The platform's receipt (compact JWS), for a refund claim when the merchant refuses it. */
  readonly receipt?: string;
  readonly cause?: unknown;
}

/** A payment the client refused to make, or could not complete. */
export class MitePaymentError extends Error {
  override readonly name = 'MitePaymentError';
  readonly code: MitePaymentErrorCode;
  readonly protocolCode?: ProtocolErrorCode;
  readonly limit?: BudgetLimit;
  readonly status?: number;
  readonly problem?: ReceivedProblem;
  readonly paid: boolean;
  readonly outcomeUnknown: boolean;
  readonly paymentId?: string;
  readonly receipt?: string;

  constructor(code: MitePaymentErrorCode, message: string, details: MitePaymentErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.paid = details.paid ?? false;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
    if (details.protocolCode !== undefined) this.protocolCode = details.protocolCode;
    if (details.limit !== undefined) this.limit = details.limit;
    if (details.status !== undefined) this.status = details.status;
    if (details.problem !== undefined) this.problem = details.problem;
    if (details.paymentId !== undefined) this.paymentId = details.paymentId;
    if (details.receipt !== undefined) this.receipt = details.receipt;
  }
}

/** Whether a value is a `MitePaymentError`, optionally with this code. */
export function isMitePaymentError(
  value: unknown,
  code?: MitePaymentErrorCode,
): value is MitePaymentError {
  return value instanceof MitePaymentError && (code === undefined || value.code === code);
}
