/**
 * Server-sent events for metered streams: the handler sends its events through a
 * `MeteredEventStream`, which charges each event's units before writing it, writes the
 * `payment-need-voucher` event (tempo session draft) when the session needs a voucher, and ends
 * the stream with a `payment-receipt` event carrying the session's receipt.
 */
import {
  formatNeedVoucher,
  needVoucherEvent,
  sessionReceiptEvent,
  sessionReceiptJson,
} from '@mite/protocol';
import type { SessionPayment } from './metered-payment.ts';

/** The headers of an event stream that proxies must not buffer. */
export const eventStreamHeaders: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'X-Accel-Buffering': 'no',
};

/** One event in the text/event-stream format; each line of `data` is its own `data:` field. */
export function formatServerSentEvent(data: string, event?: string): string {
  if (event !== undefined && /[\r\n]/.test(event))
    throw new RangeError('an event name is one line');
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `${event === undefined ? '' : `event: ${event}\n`}${lines.join('')}\n`;
}

export interface MeteredEventStream {
  /**
   * Charges `units` (default 1) and writes the event; answers false, writing nothing, when the
   * session could not pay (no voucher came in time, it closed): the handler then ends the stream.
   */
  send(
    data: string,
    options?: { readonly event?: string; readonly units?: number },
  ): Promise<boolean>;
  /** Writes the final `payment-receipt` event (the handler then ends the response). */
  end(): Promise<void>;
}

export function meteredEventStream(
  payment: SessionPayment,
  write: (text: string) => void,
): MeteredEventStream {
  payment.onNeedVoucher((need) =>
    write(formatServerSentEvent(formatNeedVoucher(need), needVoucherEvent)),
  );
  return {
    async send(data, options = {}) {
      if (!(await payment.charge(options.units ?? 1))) return false;
      write(formatServerSentEvent(data, options.event));
      return true;
    },
    async end() {
      const receipt = await payment.receipt();
      write(
        formatServerSentEvent(JSON.stringify(sessionReceiptJson(receipt)), sessionReceiptEvent),
      );
    },
  };
}
