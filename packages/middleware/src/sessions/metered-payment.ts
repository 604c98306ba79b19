/**
 * A metered request as its handler sees it: the session it is paid from, and `charge`, which
 * records units as served (in the store, before they are written) and, when the accepted vouchers
 * are used up, asks for the next one (`onNeedVoucher`: a stream sends the `payment-need-voucher`
 * event) and waits, bounded, for it to arrive on another request.
 */
import type { NeedVoucher, SessionReceipt, SessionUnitType } from '@mite/protocol';
import type { PaywallHeaders } from '../core.ts';
import { receiptHeaders, receiptOf } from './session-answers.ts';
import type { SessionConfig } from './session-config.ts';
import type { StoredSession } from './session-store.ts';
import { closeSession } from './session-upkeep.ts';
import { voucherPollIntervalMs } from './session-waiters.ts';

export interface SessionPayment {
  readonly kind: 'session';
  readonly channelId: string;
  /** The payer's merchant-scoped pseudonym. */
  readonly payer: string;
  readonly resource: string;
  readonly unitType: SessionUnitType;
  readonly unitPriceMicros: bigint;
  /** `Payment-Receipt` (the session as the response starts) and `Cache-Control: no-store`. */
  readonly responseHeaders: PaywallHeaders;
  /** Units charged for this response so far (one already for a `request` route). */
  readonly units: number;
  /**
   * Records `units` (default 1) as served before the handler writes them. When the accepted
   * vouchers do not cover them, asks for a voucher (`onNeedVoucher`) and waits for it, at most
   * the meter's `voucherWaitMs`; answers false, charging nothing, when none came in time, the
   * session closed, or the response ended: the handler then stops.
   */
  charge(units?: number): Promise<boolean>;
  /** Called each time `charge` needs a voucher (with the amount it needs). */
  onNeedVoucher(listener: (need: NeedVoucher) => void): void;
  /** The session's receipt now, with this response's units. */
  receipt(): Promise<SessionReceipt>;
  /**
   * Reports the response's status once it is known (the adapters call it); ends any wait. A 5xx
   * gives back the units this response was charged: nothing was delivered.
   */
  settle(status: number): void;
  /** Closes the session: the merchant is done with it; it is settled at its highest voucher. */
  close(): Promise<void>;
}

function unitsOf(units: number | undefined): number {
  const count = units ?? 1;
  if (!Number.isSafeInteger(count) || count < 1)
    throw new RangeError('units is a whole number from 1');
  return count;
}

/** What the next voucher must reach for `micros` more to be served. */
function needFor(session: StoredSession, micros: bigint): NeedVoucher {
  const covering = session.spentMicros + micros;
  const stepped = session.acceptedMicros + session.minVoucherDeltaMicros;
  return {
    channelId: session.channelId,
    requiredCumulativeMicros: covering > stepped ? covering : stepped,
    acceptedCumulativeMicros: session.acceptedMicros,
    depositMicros: session.depositMicros,
  };
}

export function createSessionPayment(
  config: SessionConfig,
  session: StoredSession,
  chargedUnits: number,
): SessionPayment {
  const { channelId, unitPriceMicros } = session;
  const listeners: ((need: NeedVoucher) => void)[] = [];
  const ended = new AbortController();
  let units = chargedUnits;
  const nowSeconds = () => Math.floor(config.clock() / 1000);

  /** Asks once per accepted amount; answers false when the session can serve no more. */
  async function awaitVoucher(micros: bigint, deadlineMs: number, asked: { at?: bigint }) {
    const now = await config.store.get(channelId);
    if (now?.state !== 'open' || nowSeconds() >= now.openUntilSeconds) return false;
    if (asked.at !== now.acceptedMicros) {
      asked.at = now.acceptedMicros;
      const need = needFor(now, micros);
      for (const listener of listeners) listener(need);
    }
    const leftMs = deadlineMs - Date.now();
    if (leftMs <= 0 || ended.signal.aborted) return false;
    await config.waiters.wait(channelId, Math.min(leftMs, voucherPollIntervalMs), ended.signal);
    return !ended.signal.aborted;
  }

  const payment: SessionPayment = {
    kind: 'session',
    channelId,
    payer: session.payer,
    resource: session.resource,
    unitType: session.unitType,
    unitPriceMicros,
    responseHeaders: receiptHeaders(receiptOf(session, chargedUnits, nowSeconds())),
    get units() {
      return units;
    },
    async charge(count) {
      const wanted = unitsOf(count);
      const micros = unitPriceMicros * BigInt(wanted);
      const deadlineMs = Date.now() + config.voucherWaitMs;
      const asked: { at?: bigint } = {};
      for (;;) {
        if (ended.signal.aborted) return false;
        if ((await config.store.spend(channelId, micros, config.clock())) !== undefined) {
          units += wanted;
          return true;
        }
        if (!(await awaitVoucher(micros, deadlineMs, asked))) return false;
      }
    },
    onNeedVoucher(listener) {
      listeners.push(listener);
    },
    async receipt() {
      const now = (await config.store.get(channelId)) ?? session;
      return receiptOf(now, units, nowSeconds());
    },
    settle(status) {
      if (ended.signal.aborted) return;
      ended.abort();
      if (status >= 500 && units > 0) {
        void config.store
          .unspend(channelId, unitPriceMicros * BigInt(units))
          .catch(config.onUpkeepError);
      }
    },
    close: () => closeSession(config, channelId, 'merchant'),
  };
  return payment;
}
