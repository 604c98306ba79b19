/**
 * The meter's work off the request path: checkpoints (the highest voucher of every session used
 * since the last one goes to the platform, so that the platform's idle timer never settles a
 * session below what the merchant holds), closes (sessions unused for the idle timeout, sessions
 * near the end of their grant, and those the merchant's code or the client closed), and retries of
 * closes the platform did not hear. One round at a time; a round's failures are retried next time.
 */
import { encodeBase64url, type SessionVoucherWire } from '@mite/protocol';
import type { PlatformAnswer } from './session-platform.ts';
import { type SessionConfig, upkeepBatchMax } from './session-config.ts';
import type { SessionCloseReason, StoredSession } from './session-store.ts';

/** The voucher the platform is handed for a session: its highest, if any was accepted. */
export function platformVoucher(session: StoredSession): SessionVoucherWire | undefined {
  if (session.acceptedMicros === 0n) return undefined;
  const proof = encodeBase64url(session.proof);
  const base = {
    channelId: session.channelId,
    cumulativeAmount: session.acceptedMicros.toString(),
  };
  return session.commitment.kind === 'payword'
    ? { ...base, payword: proof }
    : { ...base, signature: proof };
}

/** Closes the session here: nothing more is served or accepted on it; waiting streams end. */
export async function beginClose(
  config: SessionConfig,
  channelId: string,
  reason: SessionCloseReason,
): Promise<void> {
  await config.store.transition(channelId, 'open', 'closing', reason);
  config.waiters.notify(channelId);
}

function report(config: SessionConfig, what: string, answer: PlatformAnswer): void {
  if (answer.ok) return;
  config.onUpkeepError(new Error(`${what}: ${answer.code}: ${answer.detail}`));
}

/**
 * Tells the platform to settle a closing session at its highest voucher; once it has (or says the
 * session is settled already), the session is closed here too. A failure leaves it closing, for
 * the next upkeep round.
 */
export async function settleAtPlatform(config: SessionConfig, channelId: string): Promise<void> {
  try {
    const session = await config.store.get(channelId);
    if (session?.state !== 'closing') return;
    const answer = await config.platform.close(channelId, platformVoucher(session));
    if (answer.ok || answer.code === 'closed') {
      await config.store.checkpointed(channelId, session.acceptedMicros);
      await config.store.transition(channelId, 'closing', 'closed', undefined);
    }
    report(config, `closing session ${channelId}`, answer);
  } catch (error) {
    config.onUpkeepError(error);
  }
}

/** The merchant closes a session: here at once, then at the platform. */
export async function closeSession(
  config: SessionConfig,
  channelId: string,
  reason: SessionCloseReason,
): Promise<void> {
  await beginClose(config, channelId, reason);
  await settleAtPlatform(config, channelId);
}

/** When each session was last checkpointed, in this process (milliseconds). */
export type CheckpointTimes = Map<string, number>;

async function checkpoint(
  config: SessionConfig,
  session: StoredSession,
  times: CheckpointTimes,
  nowMs: number,
): Promise<void> {
  const voucher = platformVoucher(session);
  if (voucher === undefined) return;
  const answer = await config.platform.checkpoint(voucher);
  if (answer.ok) {
    times.set(session.channelId, nowMs);
    await config.store.checkpointed(session.channelId, session.acceptedMicros);
    return;
  }
  if (answer.code === 'closed') {
    // Settled at the platform (its idle timer, the client's close): nothing more is served.
    await config.store.transition(session.channelId, 'open', 'closing', 'idle');
    await config.store.transition(session.channelId, 'closing', 'closed', undefined);
    config.waiters.notify(session.channelId);
  }
  report(config, `checkpointing session ${session.channelId}`, answer);
}

/** What upkeep does with an open session now. */
function dueFor(
  config: SessionConfig,
  session: StoredSession,
  times: CheckpointTimes,
  nowMs: number,
): SessionCloseReason | 'checkpoint' | undefined {
  if (nowMs - session.lastActivityMs >= config.idleTimeoutSeconds * 1000) return 'idle';
  // Closed one round before the grant runs out, so that the last voucher is not lost with it.
  if (nowMs + 2 * config.checkpointIntervalMs >= session.openUntilSeconds * 1000) return 'lifetime';
  if (session.acceptedMicros > session.checkpointedMicros) return 'checkpoint';
  const last = times.get(session.channelId);
  const usedSince = last === undefined || session.lastActivityMs > last;
  return usedSince && session.acceptedMicros > 0n ? 'checkpoint' : undefined;
}

/** One upkeep round over the store's open and closing sessions. */
export async function runUpkeep(config: SessionConfig, times: CheckpointTimes): Promise<void> {
  const nowMs = config.clock();
  for (const session of await config.store.list('open', upkeepBatchMax)) {
    try {
      const due = dueFor(config, session, times, nowMs);
      if (due === 'checkpoint') await checkpoint(config, session, times, nowMs);
      else if (due !== undefined) await closeSession(config, session.channelId, due);
    } catch (error) {
      config.onUpkeepError(error);
    }
  }
  for (const session of await config.store.list('closing', upkeepBatchMax)) {
    await settleAtPlatform(config, session.channelId);
  }
  for (const channelId of times.keys()) {
    const session = await config.store.get(channelId);
    if (session === undefined || session.state === 'closed') times.delete(channelId);
  }
}
