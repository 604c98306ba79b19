/**
 * For tests: a local stand-in for Stripe's API on loopback, speaking the subset the Stripe
 * provider uses as Stripe documents it (form-encoded bodies, `Authorization: Bearer sk_test_...`,
 * idempotency keys, JSON objects and error objects with `type`/`code`/`decline_code`), with
 * Stripe's test payment methods, and sending webhooks signed as Stripe signs them
 * (`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/** Stripe's published test PaymentMethods that the fake knows, and what each does. */
export const stripeTestPaymentMethods = {
  succeeds: 'pm_card_visa',
  declines: 'pm_card_chargeDeclined',
  insufficientFunds: 'pm_card_visa_chargeDeclinedInsufficientFunds',
  /** Needs 3-D Secure: the PaymentIntent waits in `requires_action` for the webhook. */
  needsAction: 'pm_card_authenticationRequired',
} as const;

const declines: Readonly<Record<string, string>> = {
  [stripeTestPaymentMethods.declines]: 'generic_decline',
  [stripeTestPaymentMethods.insufficientFunds]: 'insufficient_funds',
};

interface Intent {
  id: string;
  object: 'payment_intent';
  amount: number;
  amount_received: number;
  currency: string;
  status: string;
  payment_method: string | Record<string, unknown>;
  metadata: Record<string, string>;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  livemode: false;
  created: number;
}

export interface StripeRequest {
  readonly method: string;
  readonly path: string;
  readonly form: URLSearchParams;
  readonly idempotencyKey: string | undefined;
}

export interface FakeStripe {
  /** `http://127.0.0.1:<port>`: the provider's `apiBaseUrl`. */
  readonly url: string;
  readonly secretKey: string;
  readonly webhookSecret: string;
  readonly requests: StripeRequest[];
  readonly intents: Map<string, Intent>;
  readonly refunds: { id: string; payment_intent: string; amount: number }[];
  /** An event as Stripe sends it, and its `Stripe-Signature` header (signed now, or at `atS`). */
  signedEvent(
    type: string,
    intentId: string,
    options?: { atS?: number; secret?: string },
  ): { body: string; signature: string };
  /** Finishes a PaymentIntent that waited (3-D Secure done, or failed) and returns its event. */
  settle(intentId: string, outcome: 'succeeded' | 'failed'): { body: string; signature: string };
}

function paymentMethodObject(id: string) {
  return { id, object: 'payment_method', type: 'card', card: { brand: 'visa', last4: '4242' } };
}

function stripeError(status: number, error: Record<string, unknown>) {
  return { status, body: { error } };
}

/** A Stripe stand-in on 127.0.0.1, closed when the test ends. */
export async function startFakeStripe(t: TestContext): Promise<FakeStripe> {
  const secretKey = `sk_test_${randomBytes(12).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(24).toString('hex')}`;
  const requests: StripeRequest[] = [];
  const intents = new Map<string, Intent>();
  const refunds: FakeStripe['refunds'] = [];
  const answered = new Map<string, { status: number; body: unknown }>();
  let counter = 0;
  const nextId = (prefix: string) => `${prefix}_fake${++counter}${randomBytes(4).toString('hex')}`;

  function createIntent(form: URLSearchParams) {
    const paymentMethod = form.get('payment_method') ?? '';
    const amount = Number(form.get('amount'));
    if (!Number.isInteger(amount) || amount < 50) {
      return stripeError(400, {
        type: 'invalid_request_error',
        code: 'amount_too_small',
        param: 'amount',
        message: 'Amount must be at least $0.50 usd',
      });
    }
    if (!(Object.values(stripeTestPaymentMethods) as string[]).includes(paymentMethod)) {
      return stripeError(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_method',
        message: `No such PaymentMethod: '${paymentMethod}'`,
      });
    }
    const metadata: Record<string, string> = {};
    for (const [key, value] of form) {
      const match = /^metadata\[(.+)\]$/.exec(key);
      if (match?.[1] !== undefined) metadata[match[1]] = value;
    }
    const expanded = [...form].some(
      ([key, value]) => key.startsWith('expand[') && value === 'payment_method',
    );
    const intent: Intent = {
      id: nextId('pi'),
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency: form.get('currency') ?? 'usd',
      status: 'requires_confirmation',
      payment_method: expanded ? paymentMethodObject(paymentMethod) : paymentMethod,
      metadata,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      created: Math.floor(Date.now() / 1000),
    };
    intents.set(intent.id, intent);
    const declineCode = declines[paymentMethod];
    if (declineCode !== undefined) {
      const error = {
        type: 'card_error',
        code: 'card_declined',
        decline_code: declineCode,
        message: 'Your card was declined.',
      };
      Object.assign(intent, { status: 'requires_payment_method', last_payment_error: error });
      return stripeError(402, { ...error, payment_intent: intent });
    }
    if (paymentMethod === stripeTestPaymentMethods.needsAction) {
      intent.status = 'requires_action';
    } else {
      Object.assign(intent, {
        status: 'succeeded',
        amount_received: amount,
        latest_charge: nextId('ch'),
      });
    }
    return { status: 200, body: intent };
  }

  function createRefund(form: URLSearchParams) {
    const intent = intents.get(form.get('payment_intent') ?? '');
    if (intent === undefined || intent.status !== 'succeeded') {
      return stripeError(400, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        param: 'payment_intent',
        message: 'No such succeeded payment_intent',
      });
    }
    const refunded = refunds
      .filter((refund) => refund.payment_intent === intent.id)
      .reduce((sum, refund) => sum + refund.amount, 0);
    const amount = Number(form.get('amount') ?? intent.amount_received - refunded);
    if (amount + refunded > intent.amount_received) {
      return stripeError(400, {
        type: 'invalid_request_error',
        code: 'amount_too_large',
        param: 'amount',
        message: 'Refund amount is greater than unrefunded amount on charge',
      });
    }
    const refund = { id: nextId('re'), payment_intent: intent.id, amount };
    refunds.push(refund);
    return {
      status: 200,
      body: { ...refund, object: 'refund', currency: 'usd', status: 'succeeded' },
    };
  }

  function route(request: StripeRequest): { status: number; body: unknown } {
    if (request.method === 'POST' && request.path === '/v1/payment_intents') {
      return createIntent(request.form);
    }
    if (request.method === 'POST' && request.path === '/v1/refunds')
      return createRefund(request.form);
    return stripeError(404, { type: 'invalid_request_error', message: 'Unrecognized request URL' });
  }

  function handle(incoming: IncomingMessage, response: ServerResponse, body: string) {
    const send = (answer: { status: number; body: unknown }) =>
      response
        .writeHead(answer.status, {
          'content-type': 'application/json',
          'request-id': nextId('req'),
        })
        .end(JSON.stringify(answer.body));
    if (incoming.headers.authorization !== `Bearer ${secretKey}`) {
      return send(
        stripeError(401, { type: 'invalid_request_error', message: 'Invalid API Key provided' }),
      );
    }
    const idempotencyKey = incoming.headers['idempotency-key'] as string | undefined;
    const request = {
      method: incoming.method ?? '',
      path: new URL(incoming.url ?? '/', 'http://x').pathname,
      form: new URLSearchParams(body),
      idempotencyKey,
    };
    requests.push(request);
    // Stripe answers a repeated idempotency key with the first answer, without acting again.
    const key = idempotencyKey === undefined ? undefined : `${request.path} ${idempotencyKey}`;
    const earlier = key === undefined ? undefined : answered.get(key);
    const answer = earlier ?? route(request);
    if (key !== undefined) answered.set(key, answer);
    send(answer);
  }

  const server = createServer((incoming, response) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => handle(incoming, response, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  function signedEvent(
    type: string,
    intentId: string,
    options: { atS?: number; secret?: string } = {},
  ) {
    const intent = intents.get(intentId);
    if (intent === undefined) throw new Error(`no PaymentIntent ${intentId}`);
    const created = options.atS ?? Math.floor(Date.now() / 1000);
    const event = {
      id: nextId('evt'),
      object: 'event',
      api_version: '2026-11-18.endive',
      created,
      data: { object: { ...intent, payment_method: paymentMethodIdOf(intent) } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    const body = JSON.stringify(event, null, 2);
    const mac = createHmac('sha256', options.secret ?? webhookSecret)
      .update(`${created}.${body}`)
      .digest('hex');
    return { body, signature: `t=${created},v1=${mac}` };
  }

  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secretKey,
    webhookSecret,
    requests,
    intents,
    refunds,
    signedEvent,
    settle(intentId, outcome) {
      const intent = intents.get(intentId);
      if (intent === undefined) throw new Error(`no PaymentIntent ${intentId}`);
      if (outcome === 'succeeded') {
        Object.assign(intent, { status: 'succeeded', amount_received: intent.amount });
        return signedEvent('payment_intent.succeeded', intentId);
      }
      const error = {
        type: 'card_error',
        code: 'card_declined',
        decline_code: 'authentication_required',
      };
      Object.assign(intent, { status: 'requires_payment_method', last_payment_error: error });
      return signedEvent('payment_intent.payment_failed', intentId);
    },
  };
}

function paymentMethodIdOf(intent: Intent): string {
  return typeof intent.payment_method === 'string'
    ? intent.payment_method
    : String(intent.payment_method.id);
}
