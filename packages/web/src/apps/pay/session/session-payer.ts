/**
 * The session window's paying side, apart from what it shows: the session it opened at the
 * platform, the voucher secret (a PayWord chain, else an Ed25519 key, from @mite/client's
 * signer; it never leaves this object), the highest voucher given, and the top-ups. Every
 * voucher stays within the deposit and the chain's reach; the pace is the window's to keep.
 */
import { createVoucherSigner, type VoucherSigner } from '@mite/client';
import {
  formatSessionCredentialHeader,
  type SessionAction,
  sessionChallengeEcho,
} from '@mite/protocol';
import { callApi, describeProblem } from '../../shared/api.ts';
import type { Checked } from '../pay-checks.ts';
import type { SessionOffer } from './session-terms.ts';

/** The platform's answer to an open or a top-up. */
interface Granted {
  readonly session: { readonly id: string; readonly deposit: string };
  readonly grant: string;
}

/** Vouchers to hand to the site: what to deliver in order, and the close for the same amount. */
export interface Payment {
  readonly authorizations: readonly string[];
  readonly close: string;
  readonly paidMicros: bigint;
}

/** The user's budget on a top-up of `micros` (the window reads it as it does for a payment). */
export type TopUpCheck = (micros: bigint) => Promise<Checked<unknown>>;

function refusal(reason: string): { readonly ok: false; readonly reason: string } {
  return { ok: false, reason };
}

export class SessionPayer {
  readonly offer: SessionOffer;
  readonly sessionId: string;
  readonly #signer: VoucherSigner;
  readonly #allowTopUp: TopUpCheck;
  #depositMicros: bigint;
  #paidMicros = 0n;
  /** Once closed, nothing more is paid: the close names what was paid then. */
  #closed = false;

  private constructor(
    offer: SessionOffer,
    signer: VoucherSigner,
    granted: Granted,
    allowTopUp: TopUpCheck,
  ) {
    this.offer = offer;
    this.#signer = signer;
    this.#allowTopUp = allowTopUp;
    this.sessionId = granted.session.id;
    this.#depositMicros = BigInt(granted.session.deposit);
  }

  /** Opens the session at the platform: the deposit is held, the grant comes back. */
  static async open(
    offer: SessionOffer,
    allowTopUp: TopUpCheck,
  ): Promise<Checked<{ payer: SessionPayer; authorization: string }>> {
    const { challenge, unitPriceMicros, depositMicros } = offer;
    const signer = createVoucherSigner(
      challenge.request.methodDetails.vouchers,
      unitPriceMicros,
      depositMicros,
    );
    if (signer === undefined) return refusal('the site takes no voucher this window can make.');
    const opened = await callApi<Granted>('POST', '/v1/payment-sessions', {
      body: {
        challenge: sessionChallengeEcho(challenge),
        deposit: depositMicros.toString(),
        voucher: signer.commitment,
      },
      idempotencyKey: crypto.randomUUID(),
    });
    if (!opened.ok) return refusal(describeProblem(opened.problem));
    const payer = new SessionPayer(offer, signer, opened.value, allowTopUp);
    const authorization = payer.#credential({ action: 'open', grant: opened.value.grant });
    return { ok: true, value: { payer, authorization } };
  }

  get depositMicros(): bigint {
    return this.#depositMicros;
  }

  get paidMicros(): bigint {
    return this.#paidMicros;
  }

  #credential(payload: SessionAction): string {
    return formatSessionCredentialHeader({ challenge: this.offer.challenge, payload });
  }

  /**
   * Pays up to `seconds` (never less than already paid): tops the deposit up first when it is
   * short. Refused when the chain's reach or the top-up stops it.
   */
  async pay(seconds: bigint): Promise<Checked<Payment>> {
    const wanted = seconds * this.offer.unitPriceMicros;
    const micros = wanted > this.#paidMicros ? wanted : this.#paidMicros;
    if (this.#closed) return refusal('the session was stopped.');
    const reach = this.#signer.limitMicros;
    if (reach !== undefined && micros > reach) {
      return refusal('this session has paid all it can: start the stream again to go on.');
    }
    const authorizations: string[] = [];
    if (micros > this.#depositMicros) {
      const toppedUp = await this.#topUp();
      if (!toppedUp.ok) return toppedUp;
      authorizations.push(toppedUp.value);
    }
    // Stopped while the top-up was under way: the close already named what was paid.
    if (this.#closed) return refusal('the session was stopped.');
    const voucher = this.#signer.voucher(this.sessionId, micros);
    this.#paidMicros = micros;
    authorizations.push(this.#credential({ action: 'voucher', voucher }));
    return {
      ok: true,
      value: {
        authorizations,
        close: this.#credential({ action: 'close', voucher }),
        paidMicros: micros,
      },
    };
  }

  /** Adds the first deposit again to the hold; answers the `topUp` credential. */
  async #topUp(): Promise<Checked<string>> {
    const allowed = await this.#allowTopUp(this.offer.depositMicros);
    if (!allowed.ok) return refusal(`the deposit ran out, and ${allowed.reason}`);
    const id = encodeURIComponent(this.sessionId);
    const toppedUp = await callApi<Granted>('POST', `/v1/payment-sessions/${id}/top-ups`, {
      body: { amount: this.offer.depositMicros.toString() },
      idempotencyKey: crypto.randomUUID(),
    });
    if (!toppedUp.ok) {
      return refusal(`the deposit could not be topped up: ${describeProblem(toppedUp.problem)}`);
    }
    this.#depositMicros = BigInt(toppedUp.value.session.deposit);
    return { ok: true, value: this.#credential({ action: 'topUp', grant: toppedUp.value.grant }) };
  }

  /** Closes the session here: the `close` credential at what was paid, undefined if nothing was. */
  closeCredential(): string | undefined {
    this.#closed = true;
    if (this.#paidMicros === 0n) return undefined;
    const voucher = this.#signer.voucher(this.sessionId, this.#paidMicros);
    return this.#credential({ action: 'close', voucher });
  }

  /**
   * The payer's close at the platform, as a backstop for a site that never closes: the session
   * stops and settles after the platform's grace at the highest voucher the site handed in. The
   * window names no voucher of its own, since one it gave the page may never have reached the
   * site, and the site is paid for what it took, no more.
   */
  async closeAtPlatform(keepalive = false): Promise<void> {
    await callApi('POST', `/v1/payment-sessions/${encodeURIComponent(this.sessionId)}/close`, {
      body: {},
      keepalive,
    });
  }
}
