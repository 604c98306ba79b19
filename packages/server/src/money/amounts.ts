/**
 * Amounts are @mite/protocol's (parseAmount, formatAmount, formatLedgerAmount): the platform reads
 * and writes them exactly as the middleware and the client do. This module only forwards them for
 * two files another change is editing, payments/purchase-core.ts and bench/src/api-bench.ts, until
 * they import from the protocol too; nothing new should import from here.
 */
import { parseAmount as parseProtocolAmount } from '@mite/protocol';

export { formatAmount } from '@mite/protocol';

/** The protocol's `parseAmount` in the shape the benchmark reads (`micros`, `reason`). */
export function parseAmount(
  text: string,
): { ok: true; micros: bigint } | { ok: false; reason: string } {
  const parsed = parseProtocolAmount(text);
  return parsed.ok ? { ok: true, micros: parsed.value } : { ok: false, reason: parsed.detail };
}
