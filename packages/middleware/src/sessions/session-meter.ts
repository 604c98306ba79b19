/**
 * The session meter: pay-as-you-go routes paid out of a deposit the platform holds, with
 * cumulative vouchers verified offline (DESIGN.md section 6; PROTOCOL.md, "Sessions"). For one
 * request it decides, as the paywall does for a charge: not metered (free, or the paywall's), 402
 * with a session challenge, a credential acted on (open, top-up, voucher, close), then either an
 * answer of its own (a refusal, the receipt of a voucher delivered on HEAD or of a close) or a
 * metered payment for the handler, with one unit already charged on a `request` route.
 *
 * The parts, one concept a file: metered-routes.ts (what costs what), session-credential-reader.ts
 * (the credential, vouchers read fast), session-actions.ts (the four actions), grant-check.ts and
 * voucher-check.ts (offline checks), session-store.ts (durable state, conditional writes),
 * metered-payment.ts (charging and waiting for vouchers), session-answers.ts (402s, problems,
 * receipts), session-upkeep.ts (checkpoints and closes at the platform), event-stream.ts (SSE).
 */
import { ok, type ExplainedFailure, type SessionVoucher, type Success } from '@mite/protocol';
import type { PaidOutcome, PaywallRequest } from '../core.ts';
import { resourceOf } from '../offer.ts';
import { meteredRequest } from './metered-routes.ts';
import { createSessionPayment, type SessionPayment } from './metered-payment.ts';
import {
  type ActionResult,
  acceptVoucher,
  closeAction,
  openSession,
  topUpSession,
  voucherAction,
} from './session-actions.ts';
import {
  deliveredAnswer,
  type MeteredOffer,
  paymentRequiredAnswer,
  receiptOf,
  refusalAnswer,
  type SessionAnswer,
  type SessionErrorCode,
} from './session-answers.ts';
import {
  createSessionConfig,
  type SessionConfig,
  type SessionMeterOptions,
} from './session-config.ts';
import { type ReadCredential, readSessionCredential } from './session-credential-reader.ts';
import type { SessionStore, StoredSession } from './session-store.ts';
import { type CheckpointTimes, closeSession, runUpkeep } from './session-upkeep.ts';

export type SessionOutcome =
  /** Not metered, and not the paywall's either: run the handler. */
  | { readonly kind: 'free' }
  /** Send it: a 402, a refusal, the paywall's answer, or a credential's receipt (204). */
  | SessionAnswer
  /** Metered: run the handler with it (see SessionPayment). */
  | SessionPayment
  /** A one-off purchase, verified by the paywall: run the handler (see the paywall's README). */
  | PaidOutcome;

export interface SessionMeter {
  handle(request: PaywallRequest): Promise<SessionOutcome>;
  /**
   * A voucher as the meter takes it from a credential, without HTTP: for merchants that carry
   * vouchers otherwise (a WebSocket), and the benchmark. Answers the session as it stands after.
   */
  acceptVoucher(
    voucher: SessionVoucher,
  ): Promise<Success<StoredSession> | ExplainedFailure<SessionErrorCode>>;
  /** Closes a session now (the merchant is done): settled at its highest voucher. */
  close(channelId: string): Promise<void>;
  /** One upkeep round now: checkpoints, idle closes, retries (the timer runs one every
   * `checkpointIntervalMs`). */
  upkeep(): Promise<void>;
  /** Stops the timer, after one last upkeep round (checkpoints and pending closes). */
  stop(): Promise<void>;
  readonly store: SessionStore;
}

/** Not a metered route: the paywall's request, or free. */
async function delegate(config: SessionConfig, request: PaywallRequest): Promise<SessionOutcome> {
  if (config.paywall === undefined) return { kind: 'free' };
  const outcome = await config.paywall.handle(request);
  if (outcome.kind === 'free' || outcome.kind === 'paid') return outcome;
  return { kind: 'answer', status: outcome.status, headers: outcome.headers, body: outcome.body };
}

/** A metered route's credential of another intent: the paywall's, if it sells the route. */
async function otherCredential(
  config: SessionConfig,
  offer: MeteredOffer,
  request: PaywallRequest,
): Promise<SessionOutcome> {
  if (config.paywall !== undefined) {
    const outcome = await config.paywall.handle(request);
    // "Free" at the paywall means it does not sell this route: the meter's 402 answers.
    if (outcome.kind === 'paid') return outcome;
    if (outcome.kind !== 'free') {
      return {
        kind: 'answer',
        status: outcome.status,
        headers: outcome.headers,
        body: outcome.body,
      };
    }
  }
  return refusalAnswer(config, offer, 'unsupportedIntent', 'this route is paid by a session');
}

function offerFor(
  config: SessionConfig,
  request: PaywallRequest,
): MeteredOffer | undefined | ExplainedFailure<SessionErrorCode> {
  const method = request.method.toUpperCase();
  const path = request.url.split('?', 1)[0] ?? request.url;
  const terms = config.routes.match(method, path);
  if (terms === undefined) return undefined;
  const resource = resourceOf(config, request.url);
  if (!resource.ok) return resource;
  return {
    terms,
    resource: resource.value,
    request: meteredRequest(terms, config, resource.value),
    nowSeconds: Math.floor(config.clock() / 1000),
    head: method === 'HEAD',
    original: request,
  };
}

async function act(
  config: SessionConfig,
  offer: MeteredOffer,
  read: Exclude<ReadCredential, { kind: 'none' | 'other' | 'malformed' }>,
): Promise<ActionResult> {
  switch (read.kind) {
    case 'open':
      return openSession(config, offer, read.credential as Parameters<typeof openSession>[2]);
    case 'topUp':
      return topUpSession(config, offer, read.credential as Parameters<typeof topUpSession>[2]);
    case 'voucher':
      return voucherAction(config, offer, read.challengeId, read.voucher);
    case 'close':
      return closeAction(config, offer, read.challengeId, read.voucher);
  }
}

/** After the credential: serve (one unit charged first on a `request` route), or answer. */
async function serve(
  config: SessionConfig,
  offer: MeteredOffer,
  session: StoredSession,
  closing: boolean,
): Promise<SessionOutcome> {
  if (offer.head || closing) return deliveredAnswer(receiptOf(session, 0, offer.nowSeconds));
  if (session.unitType !== 'request') return createSessionPayment(config, session, 0);
  const charged = await config.store.spend(
    session.channelId,
    session.unitPriceMicros,
    config.clock(),
  );
  if (charged !== undefined) return createSessionPayment(config, charged, 1);
  const now = (await config.store.get(session.channelId)) ?? session;
  if (now.state !== 'open')
    return refusalAnswer(config, offer, 'sessionClosed', 'the session is closed');
  const required = now.spentMicros + now.unitPriceMicros;
  return refusalAnswer(config, offer, 'insufficientBalance', 'the vouchers accepted are used up', {
    channelId: now.channelId,
    requiredCumulative: required.toString(),
    acceptedCumulative: now.acceptedMicros.toString(),
    deposit: now.depositMicros.toString(),
  });
}

async function handle(config: SessionConfig, request: PaywallRequest): Promise<SessionOutcome> {
  const offer = offerFor(config, request);
  if (offer === undefined) return delegate(config, request);
  if ('ok' in offer) return refusalAnswer(config, undefined, offer.code, offer.detail);
  const authorization = request.headers['authorization'] ?? request.headers['Authorization'];
  const read = readSessionCredential(
    typeof authorization === 'string' ? authorization : authorization?.join(', '),
  );
  switch (read.kind) {
    case 'none':
      return request.headers['payment-signature'] === undefined
        ? paymentRequiredAnswer(config, offer)
        : otherCredential(config, offer, request);
    case 'other':
      return otherCredential(config, offer, request);
    case 'malformed':
      return refusalAnswer(config, offer, read.code, read.detail);
  }
  const result = await act(config, offer, read);
  if (!result.ok) return refusalAnswer(config, offer, result.code, result.detail);
  return serve(config, offer, result.value, read.kind === 'close');
}

/**
 * Creates a session meter. Options the wire cannot carry (a short secret, a bad route, an idle
 * timeout out of range) throw here. Unless `checkpointIntervalMs` is 0, a timer (which does not
 * keep the process alive) runs upkeep; `stop()` ends it.
 */
export function createSessionMeter(options: SessionMeterOptions): SessionMeter {
  const config = createSessionConfig(options);
  const times: CheckpointTimes = new Map();
  let running: Promise<void> | undefined;
  const upkeep = (): Promise<void> => {
    running ??= runUpkeep(config, times).finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer =
    config.checkpointIntervalMs > 0
      ? setInterval(() => void upkeep().catch(config.onUpkeepError), config.checkpointIntervalMs)
      : undefined;
  timer?.unref();
  return {
    handle: (request) => handle(config, request),
    async acceptVoucher(voucher) {
      const session = await config.store.get(voucher.channelId);
      if (session === undefined)
        return { ok: false, code: 'sessionUnknown', detail: 'no such session' };
      const accepted = await acceptVoucher(config, session, voucher);
      return accepted.ok ? ok(accepted.value) : accepted;
    },
    close: (channelId) => closeSession(config, channelId, 'merchant'),
    upkeep,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await upkeep();
    },
    store: config.store,
  };
}
