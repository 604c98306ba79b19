import { createHmac, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { ok } from '../result.ts';
import {
  type CardDetails,
  type Charge,
  type ChargeEvent,
  type DeclineReason,
  type FundingProvider,
  type FundingSource,
  invalidWebhook,
  type WebhookCheck,
} from './funding-provider.ts';

/** The sandbox's test cards, as a real processor's test mode publishes them. */
export const sandboxCards = {
  succeeds: '4242424242424242',
  declines: '4000000000000002',
  insufficientFunds: '4000000000009995',
  confirmsLater: '4000000000003220',
  failsLater: '4000000000000341',
} as const;

export interface SandboxOptions {
  /** Percentage part of the fee, in basis points (290 = 2.9%). */
  readonly feeBasisPoints: number;
  /** Fixed part of the fee per charge, in micro-units (300000 = $0.30). */
  readonly feeFixedMicros: bigint;
  /** Standard Webhooks secret (`whsec_` + base64) shared with the platform. */
  readonly webhookSecret: string;
  /** Key for card tokens: the same card gets the same token, and the number cannot be recovered. */
  readonly cardTokenKey: Uint8Array;
  /** Sends a signed webhook to the platform (an HTTP POST in a running server). */
  readonly deliverWebhook: (headers: Record<string, string>, body: string) => Promise<void>;
  /** How long a pending charge waits before its webhook is sent. */
  readonly confirmDelayMs: number;
  readonly clock?: () => number;
}

export const sandboxFeeDefaults = { feeBasisPoints: 290, feeFixedMicros: 300_000n } as const;
/** Webhooks older or newer than this are refused (Standard Webhooks' replay window). */
export const webhookToleranceSeconds = 5 * 60;

/**
 * The processor's fee: basis points of the amount, rounded half up to a whole micro-unit, plus
 * the fixed part. ($10.00 at 2.9% + $0.30 is $0.59.)
 */
export function processorFeeMicros(
  amountMicros: bigint,
  fee: { feeBasisPoints: number; feeFixedMicros: bigint },
): bigint {
  const scaled = amountMicros * BigInt(fee.feeBasisPoints);
  return (scaled + 5_000n) / 10_000n + fee.feeFixedMicros;
}

function luhnValid(number: string): boolean {
  let sum = 0;
  for (let index = 0; index < number.length; index++) {
    let digit = Number(number[number.length - 1 - index]);
    if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

function cardProblem(card: CardDetails, now: Date): DeclineReason | undefined {
  if (!/^[0-9]{12,19}$/.test(card.number) || !luhnValid(card.number)) return 'invalidCard';
  if (!/^[0-9]{3,4}$/.test(card.cvc)) return 'invalidCard';
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  if (card.expYear < year || (card.expYear === year && card.expMonth < month)) return 'expiredCard';
  return undefined;
}

/** What the sandbox does with a card: the test cards' published behaviour, else success. */
function decide(card: CardDetails, now: Date, feeMicros: bigint): Charge['outcome'] {
  const problem = cardProblem(card, now);
  if (problem !== undefined) return { status: 'declined', reason: problem };
  switch (card.number) {
    case sandboxCards.declines:
      return { status: 'declined', reason: 'cardDeclined' };
    case sandboxCards.insufficientFunds:
      return { status: 'declined', reason: 'insufficientFunds' };
    case sandboxCards.confirmsLater:
    case sandboxCards.failsLater:
      return { status: 'pending' };
    default:
      return { status: 'succeeded', feeMicros };
  }
}

/**
 * A card processor that behaves like a real one in test mode: fees, declines, idempotent
 * charges, and asynchronous confirmation by a signed webhook.
 */
export function createSandboxProvider(options: SandboxOptions): FundingProvider {
  const clock = options.clock ?? Date.now;
  const webhook = new Webhook(options.webhookSecret);
  const charges = new Map<string, Charge>();
  const refunds = new Map<string, string>();
  const sendLater = (event: ChargeEvent) => {
    const body = JSON.stringify({
      ...event,
      feeMicros: 'feeMicros' in event ? String(event.feeMicros) : undefined,
    });
    const id = `msg_${randomUUID()}`;
    const timestamp = new Date(clock());
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': webhook.sign(id, timestamp, body),
      'content-type': 'application/json',
    };
    setTimeout(
      () => void options.deliverWebhook(headers, body).catch(() => {}),
      options.confirmDelayMs,
    ).unref();
  };
  // A keyed hash of the number: the same card has the same token, and the number is not kept.
  const cardTokenOf = (source: FundingSource): string =>
    createHmac('sha256', options.cardTokenKey)
      .update(source.kind === 'card' ? source.card.number : source.paymentMethodId)
      .digest('base64url');
  return {
    name: 'sandbox',
    sandbox: true,
    sourceKind: 'card',
    cardTokenOf,
    async charge(request) {
      const earlier = charges.get(request.idempotencyKey);
      if (earlier !== undefined) return earlier;
      if (request.source.kind !== 'card') throw new Error('bug: the sandbox takes card details');
      const chargeId = `ch_${randomUUID()}`;
      const card = request.source.card;
      const cardToken = cardTokenOf(request.source);
      const feeMicros = processorFeeMicros(request.amountMicros, options);
      const outcome = decide(card, new Date(clock()), feeMicros);
      const charge: Charge = { chargeId, cardToken, last4: card.number.slice(-4), outcome };
      charges.set(request.idempotencyKey, charge);
      if (card.number === sandboxCards.confirmsLater)
        sendLater({ type: 'charge.succeeded', chargeId, feeMicros });
      if (card.number === sandboxCards.failsLater)
        sendLater({ type: 'charge.failed', chargeId, reason: 'cardDeclined' });
      return charge;
    },
    async refund(request) {
      const refundId = refunds.get(request.idempotencyKey) ?? `re_${randomUUID()}`;
      refunds.set(request.idempotencyKey, refundId);
      return { refundId };
    },
    verifyWebhook(headers, rawBody) {
      return verifySandboxWebhook(webhook, headers, rawBody);
    },
  };
}

/** Decodes UTF-8 strictly: a body that is not UTF-8 has no string that stands for its bytes. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function verifySandboxWebhook(
  webhook: Webhook,
  headers: Readonly<Record<string, string | undefined>>,
  rawBody: Buffer,
): WebhookCheck {
  // Standard Webhooks signs text: the exact bytes are verified as their exact UTF-8 decoding, and
  // bytes without one (which a lenient decoder would map to U+FFFD) are refused.
  let body: string;
  try {
    body = strictUtf8.decode(rawBody);
  } catch {
    return invalidWebhook('the body is not UTF-8');
  }
  const signed = {
    'webhook-id': headers['webhook-id'] ?? '',
    'webhook-timestamp': headers['webhook-timestamp'] ?? '',
    'webhook-signature': headers['webhook-signature'] ?? '',
  };
  let payload: unknown;
  try {
    payload = webhook.verify(body, signed);
  } catch (error) {
    return invalidWebhook(error instanceof Error ? error.message : 'bad signature');
  }
  const event = payload as {
    type?: unknown;
    chargeId?: unknown;
    feeMicros?: unknown;
    reason?: unknown;
  };
  if (typeof event.chargeId !== 'string') return invalidWebhook('no charge id');
  if (
    event.type === 'charge.succeeded' &&
    typeof event.feeMicros === 'string' &&
    /^[0-9]+$/.test(event.feeMicros)
  ) {
    return ok({
      type: 'charge.succeeded',
      chargeId: event.chargeId,
      feeMicros: BigInt(event.feeMicros),
    });
  }
  if (event.type === 'charge.failed') {
    return ok({ type: 'charge.failed', chargeId: event.chargeId, reason: 'cardDeclined' });
  }
  return invalidWebhook('unknown event');
}
