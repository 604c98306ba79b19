/**
 * Paying metered routes out of sessions: when a 402 offers a session (and the caller opted in, or
 * the route is a stream no one-off purchase can pay), the client holds a deposit against its
 * budget, opens the session at the platform with a voucher commitment, opens it at the merchant
 * (`open`, on HEAD), and then sends vouchers: one unit more per request, or, on a stream, what the
 * merchant's `payment-need-voucher` events ask (on HEAD to the same URL), never beyond the deposit;
 * past it, it tops the deposit up inside the budget. `closeAll` closes every session with its last
 * voucher and commits to the budget exactly what was paid.
 */
import {
  decodeSessionReceipt,
  formatAmount,
  needVoucherEvent,
  parseAmount,
  parseNeedVoucher,
  parseSessionReceiptHeader,
  type SessionChallenge,
  sessionReceiptEvent,
} from '@mite/protocol';
import type { Reservation } from '../budget.ts';
import { resourceKeyOf } from '../challenge-selection.ts';
import { MitePaymentError } from '../errors.ts';
import type { Payer } from '../payer.ts';
import { readProblem } from '../platform-client.ts';
import { sendArguments, type ReplayableRequest } from '../replayable-request.ts';
import { type WatchedEvent, watchEvents } from './event-watcher.ts';
import { MeteredSession, type SessionSummary } from './metered-session.ts';
import {
  closeAtPlatform,
  type Granted,
  openSessionAtPlatform,
  topUpAtPlatform,
  type UserPlatform,
} from './session-platform-client.ts';
import { createVoucherSigner, type VoucherSigner } from './voucher-signer.ts';

/** Without a deposit named, a session holds this many of the route's minimum steps. */
export const defaultDepositSteps = 10n;
/** Rounds of one request on a session (a voucher refused as too small, paid again...). */
const exchangeRoundsMax = 3;

export interface SessionOptions {
  /** What a session holds at open (default: the merchant's suggestion, else ten minimum steps). */
  readonly depositMicros?: bigint;
}

function isEventStream(response: Response): boolean {
  return /^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '');
}

function smallest(...values: bigint[]): bigint {
  return values.reduce((least, value) => (value < least ? value : least));
}

export class SessionSpending {
  readonly #payer: Payer;
  readonly #platform: UserPlatform;
  readonly #options: SessionOptions | undefined;
  readonly #fetch: typeof fetch;
  readonly #sessions = new Map<string, MeteredSession>();

  constructor(payer: Payer, platform: UserPlatform, options: SessionOptions | undefined) {
    this.#payer = payer;
    this.#platform = platform;
    this.#options = options;
    this.#fetch = platform.fetch;
  }

  /** Whether to answer this session challenge: opted in, or a stream a charge cannot pay. */
  wants(challenge: SessionChallenge): boolean {
    return this.#options !== undefined || challenge.request.unitType !== 'request';
  }

  /** The open session paying for this URL, if any. */
  sessionAt(target: URL): MeteredSession | undefined {
    const session = this.#sessions.get(resourceKeyOf(`${target.pathname}${target.search}`, target));
    return session?.open === true ? session : undefined;
  }

  list(): SessionSummary[] {
    return [...this.#sessions.values()].map((session) => session.summary());
  }

  /**
   * A request on the session for its URL, opened first on `challenge` when there is none.
   * Without a challenge (a session already open here), answers undefined when the merchant no
   * longer has the session: the caller then asks afresh, and a new 402 opens a new one.
   */
  async fetch(
    request: ReplayableRequest,
    target: URL,
    challenge: SessionChallenge | undefined,
  ): Promise<Response | undefined> {
    const key =
      challenge === undefined
        ? resourceKeyOf(`${target.pathname}${target.search}`, target)
        : resourceKeyOf(challenge.request.methodDetails.resource, target);
    let session = this.#sessions.get(key);
    if (session?.open !== true) {
      if (challenge === undefined) throw new Error('bug: no session and no challenge');
      // A session the merchant closed meanwhile (idle, its final receipt) is settled first.
      session?.settle();
      session = await this.#open(challenge, target, key);
    }
    const response = await this.#exchange(session, request, target);
    if (response.status !== 410 || challenge !== undefined) return response;
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }

  /** Closes every open session (or those of one URL): the merchant told, else the platform. */
  async closeAll(url?: URL): Promise<SessionSummary[]> {
    const key = url === undefined ? undefined : resourceKeyOf(`${url.pathname}${url.search}`, url);
    const chosen = [...this.#sessions.values()].filter(
      (session) => key === undefined || session.key === key,
    );
    return Promise.all(chosen.map((session) => session.serially(() => this.#close(session))));
  }

  #depositFor(challenge: SessionChallenge, origin: string): bigint {
    const { request } = challenge;
    const unit = BigInt(request.amount);
    const step = BigInt(request.methodDetails.minVoucherDelta);
    const wanted =
      this.#options?.depositMicros ??
      (request.suggestedDeposit === undefined
        ? step * defaultDepositSteps
        : BigInt(request.suggestedDeposit));
    const headroom = this.#payer.headroom(origin);
    const micros = (text: string) => {
      const parsed = parseAmount(text);
      return parsed.ok ? parsed.value : 0n;
    };
    const allowed = smallest(
      wanted,
      micros(headroom.perPayment),
      micros(headroom.originToday),
      micros(headroom.total),
    );
    const deposit = (allowed / unit) * unit;
    if (deposit < (step > unit ? step : unit)) {
      throw new MitePaymentError(
        'overBudget',
        `the budget leaves ${formatAmount(allowed)} for a session whose smallest step is ${formatAmount(step)}`,
        { limit: 'perPayment' },
      );
    }
    return deposit;
  }

  async #holdFor(
    challenge: SessionChallenge,
    target: URL,
    micros: bigint,
    topUp: boolean,
  ): Promise<Reservation> {
    const { request } = challenge;
    const description = request.description ?? challenge.description;
    return this.#payer.holdDeposit({
      amount: formatAmount(micros),
      amountMicros: micros,
      currency: request.currency.toUpperCase(),
      origin: target.origin,
      url: target.href,
      resource: request.methodDetails.resource,
      merchant: request.recipient,
      platform: request.methodDetails.platform,
      realm: challenge.realm,
      challengeId: challenge.id,
      accessPeriodSeconds: 0,
      session: {
        unitPrice: formatAmount(BigInt(request.amount)),
        unitType: request.unitType,
        topUp,
      },
      ...(description === undefined ? {} : { description }),
    });
  }

  /** Whether the grant holds what was asked: this session, deposit, commitment, challenge. */
  #grantMatches(
    granted: Granted,
    challenge: SessionChallenge,
    deposit: bigint,
    signer: VoucherSigner,
  ): boolean {
    const { claims } = granted;
    const { commitment } = signer;
    return (
      claims.challengeId === challenge.id &&
      claims.merchantId === challenge.request.recipient &&
      claims.resource === challenge.request.methodDetails.resource &&
      BigInt(claims.deposit) === deposit &&
      claims.voucherKind === commitment.kind &&
      (commitment.kind === 'payword'
        ? claims.anchor === commitment.anchor && claims.chainLength === commitment.chainLength
        : claims.voucherKey === commitment.key)
    );
  }

  async #open(challenge: SessionChallenge, target: URL, key: string): Promise<MeteredSession> {
    const { request } = challenge;
    this.#payer.checkTerms(request.currency, request.methodDetails.platform);
    const deposit = this.#depositFor(challenge, target.origin);
    const signer = createVoucherSigner(
      request.methodDetails.vouchers,
      BigInt(request.amount),
      deposit,
    );
    if (signer === undefined) {
      throw new MitePaymentError(
        'badChallenge',
        'the merchant takes no voucher kind this client makes',
      );
    }
    const reservation = await this.#holdFor(challenge, target, deposit, false);
    const opened = await openSessionAtPlatform(
      this.#platform,
      challenge,
      deposit,
      signer.commitment,
    );
    if (!opened.ok) {
      if (opened.charged === 'no') reservation.release();
      throw opened.error;
    }
    if (!this.#grantMatches(opened.granted, challenge, deposit, signer)) {
      // The platform holds a deposit for a grant this client did not ask for: the hold stays.
      throw new MitePaymentError(
        'badReceipt',
        'the platform’s grant is not the session asked for',
        {
          paid: true,
        },
      );
    }
    const url = new URL(request.methodDetails.resource, target);
    const session = new MeteredSession(challenge, url, key, signer, opened.granted, reservation);
    this.#sessions.set(key, session);
    const answer = await this.#deliver(session, session.openCredential());
    if (answer !== 204) {
      session.gone();
      await closeAtPlatform(this.#platform, session.id, undefined);
      session.settle();
      throw new MitePaymentError('merchantRefused', `the merchant refused the session (${answer})`);
    }
    return session;
  }

  /** Sends a credential on HEAD to the session's URL; answers the status (0: no answer). */
  async #deliver(session: MeteredSession, credential: string): Promise<number> {
    try {
      const response = await this.#fetch(session.url.href, {
        method: 'HEAD',
        headers: { authorization: credential },
      });
      this.#observeHeader(session, response);
      await response.body?.cancel().catch(() => undefined);
      return response.status;
    } catch {
      return 0;
    }
  }

  #observeHeader(session: MeteredSession, response: Response): void {
    const header = response.headers.get('payment-receipt');
    const receipt = header === null ? undefined : parseSessionReceiptHeader(header);
    if (receipt?.ok === true) session.observe(receipt.value);
  }

  /** The credential of one request: the current voucher while it still pays a unit, else more. */
  async #requestCredential(
    session: MeteredSession,
  ): Promise<{ credential: string; cumulativeMicros: bigint }> {
    const unit = session.unitPriceMicros;
    const step = session.wholeUnits(session.minDeltaMicros > unit ? session.minDeltaMicros : unit);
    if (session.paidMicros - session.servedMicros >= unit) {
      return session.voucherCredential(session.paidMicros, true);
    }
    let wanted = session.paidMicros + step;
    // Per request, never more than one unit a request made and one step ahead, whatever the
    // merchant says it served.
    if (session.unitType === 'request') {
      const reach = BigInt(session.requests + 1) * unit + step;
      if (wanted > reach) wanted = session.paidMicros >= reach ? session.paidMicros : reach;
    }
    if (wanted > session.depositMicros && !(await this.#topUp(session, wanted))) {
      // What is left of the deposit still pays, down to its last unit.
      if (session.paidMicros >= session.depositMicros) {
        throw new MitePaymentError(
          'overBudget',
          'the session’s deposit is used up and cannot grow',
        );
      }
      wanted = session.depositMicros;
    }
    return session.voucherCredential(wanted, true);
  }

  async #exchange(
    session: MeteredSession,
    request: ReplayableRequest,
    target: URL,
  ): Promise<Response> {
    for (let round = 1; round <= exchangeRoundsMax; round += 1) {
      const paying = await session.serially(() => this.#requestCredential(session));
      const [href, init] = sendArguments(request, target, paying.credential);
      const response = await this.#fetch(href, init);
      this.#observeHeader(session, response);
      if (response.status === 410) {
        await this.#lost(session, paying.cumulativeMicros);
        return response;
      }
      if (response.status !== 402) {
        return isEventStream(response) && session.unitType !== 'request'
          ? watchEvents(response, (event) => this.#onEvent(session, event))
          : response;
      }
      const problem = await readProblem(response);
      if (problem?.['miteCode'] !== 'insufficientBalance') {
        throw new MitePaymentError(
          'merchantRefused',
          `the merchant refused the voucher: ${String(problem?.detail ?? 402)}`,
          {
            status: 402,
            ...(problem === undefined ? {} : { problem }),
          },
        );
      }
      // The merchant served all the vouchers paid for (another request of this client's, or a
      // stream, used them): what it needs next says how much.
      const required = problem['requiredCumulative'];
      if (typeof required === 'string' && /^[0-9]{1,20}$/.test(required)) {
        session.served(BigInt(required) - session.unitPriceMicros);
      }
    }
    throw new MitePaymentError('merchantRefused', 'the merchant keeps asking for more vouchers');
  }

  #onEvent(session: MeteredSession, event: WatchedEvent): void {
    if (event.event === sessionReceiptEvent) {
      try {
        const receipt = decodeSessionReceipt(JSON.parse(event.data) as unknown);
        if (receipt.ok) session.observe(receipt.value);
      } catch {
        // Not a receipt this client reads: the caller still gets the event.
      }
      return;
    }
    if (event.event !== needVoucherEvent) return;
    const need = parseNeedVoucher(event.data);
    if (!need.ok || need.value.channelId !== session.id) return;
    const required = need.value.requiredCumulativeMicros;
    void session.serially(() => this.#payNeed(session, required)).catch(() => undefined);
  }

  /** Answers a stream's request for a voucher; a voucher beyond the budget is not given. */
  async #payNeed(session: MeteredSession, required: bigint): Promise<void> {
    if (!session.open) return;
    const stepped = session.paidMicros + session.minDeltaMicros;
    let wanted = session.wholeUnits(required > stepped ? required : stepped);
    if (wanted > session.depositMicros && !(await this.#topUp(session, wanted))) {
      // No more deposit: what is left of it still pays, then the stream ends.
      if (session.paidMicros >= session.depositMicros) return;
      wanted = session.depositMicros;
    }
    const paying = session.voucherCredential(wanted);
    if ((await this.#deliver(session, paying.credential)) === 410) {
      await this.#lost(session, paying.cumulativeMicros);
    }
  }

  /**
   * The merchant no longer knows the session (it closed it, or lost it): the payer closes it at
   * the platform with the last voucher, so that the rest of the deposit comes back, and the
   * budget keeps what was paid.
   */
  async #lost(session: MeteredSession, refusedMicros: bigint): Promise<void> {
    session.gone(refusedMicros);
    await closeAtPlatform(this.#platform, session.id, session.lastVoucher());
    session.settle();
  }

  /** Tops the deposit up to reach `wanted`, inside the budget; false when it cannot. */
  async #topUp(session: MeteredSession, wanted: bigint): Promise<boolean> {
    const reach = session.reachMicros;
    if (reach !== undefined && wanted > reach) return false;
    const needed = wanted - session.depositMicros;
    let amount = needed > session.firstDepositMicros ? needed : session.firstDepositMicros;
    if (reach !== undefined && session.depositMicros + amount > reach)
      amount = reach - session.depositMicros;
    let reservation: Reservation;
    try {
      reservation = await this.#holdFor(session.challenge, session.url, amount, true);
    } catch {
      if (amount === needed) return false;
      amount = needed;
      try {
        reservation = await this.#holdFor(session.challenge, session.url, amount, true);
      } catch {
        return false;
      }
    }
    const topped = await topUpAtPlatform(this.#platform, session.id, amount);
    if (!topped.ok || BigInt(topped.granted.claims.deposit) !== session.depositMicros + amount) {
      if (!topped.ok && topped.charged === 'no') reservation.release();
      return false;
    }
    session.toppedUp(topped.granted, reservation);
    return (await this.#deliver(session, session.topUpCredential())) === 204;
  }

  /** Closes a session (one the merchant closed already is only settled here). */
  async #close(session: MeteredSession): Promise<SessionSummary> {
    if (session.open) {
      const voucher = session.lastVoucher();
      const told = (await this.#deliver(session, session.closeCredential())) === 204;
      if (!told) await closeAtPlatform(this.#platform, session.id, voucher);
    }
    session.settle();
    if (this.#sessions.get(session.key) === session) this.#sessions.delete(session.key);
    return session.summary();
  }
}
