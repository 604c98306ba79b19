import Stripe from 'stripe';
import { ok } from '../result.ts';
import {
  type Charge,
  type ChargeEvent,
  type DeclineReason,
  type FundingProvider,
  invalidWebhook,
} from './funding-provider.ts';
import { processorFeeMicros, webhookToleranceSeconds } from './sandbox-provider.ts';

export interface StripeOptions {
  /** `sk_live_...` or `sk_test_...` (test mode: top-ups are recorded as sandbox ones). */
  readonly secretKey: string;
  /** The webhook endpoint's signing secret, `whsec_...`, from Stripe's dashboard. */
  readonly webhookSecret: string;
  /**
   * Where Stripe's API is, when not at api.stripe.com (a test's local server): the official
   * client's host, port and protocol options.
   */
  readonly apiBaseUrl?: string;
  /**
   * The fee booked for each charge. Stripe reports its real fee later, on the charge's balance
   * transaction; Mite books the operator's configured schedule when the charge succeeds.
   */
  readonly fee: { readonly feeBasisPoints: number; readonly feeFixedMicros: bigint };
}

/** The currency's minor unit, a cent, in micro-units: Stripe takes amounts in cents. */
export const microsPerCent = 10_000n;
/** How long one call to Stripe may take before it is abandoned (and retried, idempotently). */
export const stripeRequestTimeoutMs = 20_000;
/** Retries of a call that failed on the network: safe, every call carries an idempotency key. */
export const stripeNetworkRetriesMax = 2;
/** The metadata key that marks a PaymentIntent as a Mite top-up's, with the top-up's id. */
export const topUpMetadataKey = 'mite_top_up_id';

/** Stripe's decline codes (and error codes) as the platform's closed list of reasons. */
const declineReasonByCode: Readonly<Record<string, DeclineReason>> = {
  insufficient_funds: 'insufficientFunds',
  expired_card: 'expiredCard',
  incorrect_number: 'invalidCard',
  invalid_number: 'invalidCard',
  invalid_expiry_month: 'invalidCard',
  invalid_expiry_year: 'invalidCard',
  incorrect_cvc: 'invalidCard',
  invalid_cvc: 'invalidCard',
};

function declineReasonOf(error: { code?: string; decline_code?: string } | null | undefined) {
  const code = error?.decline_code ?? error?.code ?? '';
  return declineReasonByCode[code] ?? 'cardDeclined';
}

function centsOf(micros: bigint): number {
  if (micros % microsPerCent !== 0n) throw new Error(`bug: ${micros} micros is not whole cents`);
  return Number(micros / microsPerCent);
}

/** The configured fee, rounded half up to a whole cent as Stripe charges it. */
function feeMicrosOf(amountMicros: bigint, fee: StripeOptions['fee']): bigint {
  const micros = processorFeeMicros(amountMicros, fee);
  return ((micros + microsPerCent / 2n) / microsPerCent) * microsPerCent;
}

function clientConfig(options: StripeOptions): Stripe.StripeConfig {
  const config: Stripe.StripeConfig = {
    maxNetworkRetries: stripeNetworkRetriesMax,
    timeout: stripeRequestTimeoutMs,
    telemetry: false,
  };
  if (options.apiBaseUrl === undefined) return config;
  const url = new URL(options.apiBaseUrl);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  return {
    ...config,
    host: url.hostname,
    port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
    protocol,
  };
}

/** A PaymentIntent's state as a charge: succeeded, declined, or pending until the webhook. */
function chargeOf(
  intent: Stripe.PaymentIntent,
  paymentMethodId: string,
  amountFee: (amountCents: number) => bigint,
): Charge {
  const method = typeof intent.payment_method === 'object' ? intent.payment_method : null;
  const base = { chargeId: intent.id, cardToken: paymentMethodId };
  const last4 = method?.card?.last4 ?? null;
  switch (intent.status) {
    case 'succeeded':
      return {
        ...base,
        last4,
        outcome: { status: 'succeeded', feeMicros: amountFee(intent.amount_received) },
      };
    case 'requires_payment_method':
    case 'canceled':
      return {
        ...base,
        last4,
        outcome: { status: 'declined', reason: declineReasonOf(intent.last_payment_error) },
      };
    default:
      // processing, requires_action...: Stripe's webhook tells the outcome.
      return { ...base, last4, outcome: { status: 'pending' } };
  }
}

/**
 * Stripe as the card processor: a PaymentIntent per top-up, created and confirmed at once with a
 * PaymentMethod the client made with Stripe's own library (Mite never sees a card number);
 * refunds through the Refunds API; webhooks verified by the library on the raw body.
 */
export function createStripeProvider(options: StripeOptions): FundingProvider {
  const stripe = new Stripe(options.secretKey, clientConfig(options));
  const amountFee = (amountCents: number) =>
    feeMicrosOf(BigInt(amountCents) * microsPerCent, options.fee);

  return {
    name: 'stripe',
    sandbox: options.secretKey.startsWith('sk_test_'),
    sourceKind: 'paymentMethod',
    // The PaymentMethod id is what a charge records as the card's token (chargeOf). Stripe's card
    // fingerprint would follow the card across PaymentMethods, but reading it costs a call to
    // Stripe before every top-up; the id is what is known without one.
    cardTokenOf: (source) =>
      source.kind === 'paymentMethod' ? source.paymentMethodId : 'unsupported-source',
    async charge(request) {
      if (request.source.kind !== 'paymentMethod') throw new Error('bug: Stripe takes a pm_ id');
      const paymentMethodId = request.source.paymentMethodId;
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount: centsOf(request.amountMicros),
            currency: 'usd',
            payment_method: paymentMethodId,
            // Confirmed by the server, with no page to return to: no redirecting methods.
            automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
            confirm: true,
            metadata: { [topUpMetadataKey]: request.idempotencyKey },
            expand: ['payment_method'],
          },
          { idempotencyKey: request.idempotencyKey },
        );
        return chargeOf(intent, paymentMethodId, amountFee);
      } catch (error) {
        return declinedCharge(error, request.idempotencyKey, paymentMethodId);
      }
    },
    async refund(request) {
      const refund = await stripe.refunds.create(
        { payment_intent: request.chargeId, amount: centsOf(request.amountMicros) },
        { idempotencyKey: request.idempotencyKey },
      );
      return { refundId: refund.id };
    },
    verifyWebhook(headers, rawBody) {
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(
          rawBody,
          headers['stripe-signature'] ?? '',
          options.webhookSecret,
          webhookToleranceSeconds,
        );
      } catch (error) {
        return invalidWebhook(error instanceof Error ? error.message : 'bad signature');
      }
      return ok(chargeEventOf(event, amountFee));
    },
  };
}

/**
 * A card the issuer declined (Stripe answers 402, with the PaymentIntent it left) or a payment
 * method Stripe does not know (400 on `payment_method`): the top-up fails as declined. Anything
 * else (Stripe down, a bad key) is not the client's doing and is thrown.
 */
function declinedCharge(error: unknown, idempotencyKey: string, paymentMethodId: string): Charge {
  if (error instanceof Stripe.errors.StripeCardError) {
    return {
      chargeId: error.payment_intent?.id ?? idempotencyKey,
      cardToken: paymentMethodId,
      last4: null,
      outcome: { status: 'declined', reason: declineReasonOf(error) },
    };
  }
  if (
    error instanceof Stripe.errors.StripeInvalidRequestError &&
    error.param === 'payment_method'
  ) {
    return {
      chargeId: idempotencyKey,
      cardToken: paymentMethodId,
      last4: null,
      outcome: { status: 'declined', reason: 'invalidCard' },
    };
  }
  throw error;
}

/**
 * The outcome a verified event tells about a Mite top-up's PaymentIntent; undefined for any other
 * event (or a PaymentIntent that is not a Mite top-up), which is acknowledged and ignored.
 */
function chargeEventOf(
  event: Stripe.Event,
  amountFee: (amountCents: number) => bigint,
): ChargeEvent | undefined {
  if (
    event.type !== 'payment_intent.succeeded' &&
    event.type !== 'payment_intent.payment_failed' &&
    event.type !== 'payment_intent.canceled'
  ) {
    return undefined;
  }
  const intent = event.data.object;
  if (intent.metadata?.[topUpMetadataKey] === undefined) return undefined;
  if (event.type === 'payment_intent.succeeded') {
    return {
      type: 'charge.succeeded',
      chargeId: intent.id,
      feeMicros: amountFee(intent.amount_received),
    };
  }
  return {
    type: 'charge.failed',
    chargeId: intent.id,
    reason: declineReasonOf(intent.last_payment_error),
  };
}
