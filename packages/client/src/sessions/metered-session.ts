/**
 * One payment session as the client holds it: the platform's grant, the deposit, the voucher
 * signer (its secret stays here), the highest voucher made (`paid`, what the session will cost at
 * most), what the merchant says it has served, and the budget holds of the deposit and its
 * top-ups. Every voucher it writes stays within the deposit and the signer's reach; at close,
 * the holds are committed for exactly what was paid, and the rest goes back to the budget.
 */
import {
  formatAmount,
  formatSessionCredentialHeader,
  type SessionAction,
  type SessionChallenge,
  type SessionReceipt,
  type SessionUnitType,
  sessionVoucherWire,
  type SessionVoucherWire,
} from '@mite/protocol';
import type { Reservation } from '../budget.ts';
import type { Granted } from './session-platform-client.ts';
import type { VoucherSigner } from './voucher-signer.ts';

/** What a session cost, and where it stands. */
export interface SessionSummary {
  readonly sessionId: string;
  /** The metered URL. */
  readonly url: string;
  readonly merchant: string;
  /** The merchant's name, as its challenge gives it (the realm). */
  readonly merchantName: string;
  readonly unitType: SessionUnitType;
  /** The price of one unit, as a decimal string. */
  readonly unitPrice: string;
  readonly depositMicros: bigint;
  /** The highest voucher given: what the session costs (settled at this at most). */
  readonly paidMicros: bigint;
  /** What the merchant last said it has served. */
  readonly servedMicros: bigint;
  readonly state: 'open' | 'closed';
}

export class MeteredSession {
  readonly id: string;
  readonly challenge: SessionChallenge;
  /** The metered URL, and its receipt-store key. */
  readonly url: URL;
  readonly key: string;
  readonly unitPriceMicros: bigint;
  readonly minDeltaMicros: bigint;
  readonly unitType: SessionUnitType;
  readonly firstDepositMicros: bigint;
  readonly #signer: VoucherSigner;
  readonly #reservations: Reservation[] = [];
  #grant: string;
  #depositMicros: bigint;
  #paidMicros = 0n;
  /** `paid` before the last voucher raised it, for a voucher the merchant turned down. */
  #paidBeforeMicros = 0n;
  #servedMicros = 0n;
  #requests = 0;
  #state: 'open' | 'closed' = 'open';
  /** Voucher deliveries and top-ups, one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    challenge: SessionChallenge,
    url: URL,
    key: string,
    signer: VoucherSigner,
    granted: Granted,
    reservation: Reservation,
  ) {
    this.id = granted.sessionId;
    this.challenge = challenge;
    this.url = url;
    this.key = key;
    this.unitPriceMicros = BigInt(challenge.request.amount);
    this.minDeltaMicros = BigInt(challenge.request.methodDetails.minVoucherDelta);
    this.unitType = challenge.request.unitType;
    this.#signer = signer;
    this.#grant = granted.grant;
    this.#depositMicros = BigInt(granted.claims.deposit);
    this.firstDepositMicros = this.#depositMicros;
    this.#reservations.push(reservation);
  }

  get depositMicros(): bigint {
    return this.#depositMicros;
  }

  get paidMicros(): bigint {
    return this.#paidMicros;
  }

  get servedMicros(): bigint {
    return this.#servedMicros;
  }

  get requests(): number {
    return this.#requests;
  }

  get open(): boolean {
    return this.#state === 'open';
  }

  /** The most a voucher may ever name: the deposit, and (PayWord) the chain's reach. */
  get reachMicros(): bigint | undefined {
    return this.#signer.limitMicros;
  }

  /** Runs `work` after the session's earlier deliveries. */
  serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #credential(payload: SessionAction): string {
    return formatSessionCredentialHeader({ challenge: this.challenge, payload });
  }

  openCredential(): string {
    return this.#credential({ action: 'open', grant: this.#grant });
  }

  topUpCredential(): string {
    return this.#credential({ action: 'topUp', grant: this.#grant });
  }

  /** A voucher for `cumulativeMicros`, which becomes the session's cost if it is the highest. */
  voucherCredential(
    cumulativeMicros: bigint,
    request = false,
  ): { credential: string; cumulativeMicros: bigint } {
    if (cumulativeMicros > this.#depositMicros || this.#state !== 'open') {
      throw new RangeError('bug: a voucher beyond the deposit, or on a closed session');
    }
    if (request) this.#requests += 1;
    if (cumulativeMicros > this.#paidMicros) {
      this.#paidBeforeMicros = this.#paidMicros;
      this.#paidMicros = cumulativeMicros;
    }
    const credential = this.#credential({
      action: 'voucher',
      voucher: this.#signer.voucher(this.id, cumulativeMicros),
    });
    return { credential, cumulativeMicros };
  }

  /** The close, with the highest voucher: the session is closed here from now on. */
  closeCredential(): string {
    this.#state = 'closed';
    return this.#credential({
      action: 'close',
      voucher: this.#signer.voucher(this.id, this.#paidMicros),
    });
  }

  /** The highest voucher as the platform takes it, if any was given. */
  lastVoucher(): SessionVoucherWire | undefined {
    if (this.#paidMicros === 0n) return undefined;
    return sessionVoucherWire(this.#signer.voucher(this.id, this.#paidMicros));
  }

  /** `micros` rounded up to whole units, as PayWord needs (and as every unit is priced). */
  wholeUnits(micros: bigint): bigint {
    const units = (micros + this.unitPriceMicros - 1n) / this.unitPriceMicros;
    return units * this.unitPriceMicros;
  }

  /** A merchant's receipt for this session: what it has served. */
  observe(receipt: SessionReceipt): void {
    if (receipt.channelId !== this.id) return;
    if (receipt.spentMicros > this.#servedMicros) this.#servedMicros = receipt.spentMicros;
    if (receipt.final) this.#state = 'closed';
  }

  /** What the merchant says it has served, when it refuses a request for want of vouchers. */
  served(micros: bigint): void {
    if (micros > this.#servedMicros) this.#servedMicros = micros;
  }

  /** A top-up the platform granted: the new grant, the larger deposit, and its budget hold. */
  toppedUp(granted: Granted, reservation: Reservation): void {
    this.#grant = granted.grant;
    this.#depositMicros = BigInt(granted.claims.deposit);
    this.#reservations.push(reservation);
  }

  /**
   * The session is gone at the merchant (closed, settled): nothing more is paid on it. When it
   * turned down the voucher for `refusedMicros`, that voucher was never taken, and the session
   * costs what it did before.
   */
  gone(refusedMicros?: bigint): void {
    this.#state = 'closed';
    if (refusedMicros !== undefined && refusedMicros === this.#paidMicros) {
      this.#paidMicros = this.#paidBeforeMicros;
    }
  }

  /** Commits the budget holds for exactly what was paid; the rest goes back. Once. */
  settle(): void {
    let left = this.#paidMicros;
    for (const reservation of this.#reservations.splice(0)) {
      const spent = left < reservation.micros ? left : reservation.micros;
      reservation.commit(spent);
      left -= spent;
    }
  }

  summary(): SessionSummary {
    const { request } = this.challenge;
    return {
      sessionId: this.id,
      url: this.url.href,
      merchant: request.recipient,
      merchantName: this.challenge.realm,
      unitType: this.unitType,
      unitPrice: formatAmount(this.unitPriceMicros),
      depositMicros: this.#depositMicros,
      paidMicros: this.#paidMicros,
      servedMicros: this.#servedMicros,
      state: this.#state,
    };
  }
}
