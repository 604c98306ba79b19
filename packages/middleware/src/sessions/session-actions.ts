/**
 * The four things a session credential asks for, each answering the session as it stands after
 * it or a refusal: `open` (the echoed challenge issued here and still current, the grant signed
 * by the platform and bound to it), `topUp` (a newer grant for the same session and commitment),
 * `voucher` (checked offline, then raised in the store by a conditional write), and the client's
 * `close` (its last voucher taken, then the session closed here and at the platform).
 */
import {
  checkSessionChallengeTimes,
  excerpt,
  type ExplainedFailure,
  ok,
  sameCurrency,
  type SessionChallenge,
  type SessionCredential,
  sessionChallengeIdMatches,
  type SessionVoucher,
  type Success,
} from '@mite/protocol';
import { checkGrantBinding, verifyGrant, type VerifiedGrant } from './grant-check.ts';
import type { MeteredOffer, SessionErrorCode } from './session-answers.ts';
import type { SessionConfig } from './session-config.ts';
import type { StoredSession } from './session-store.ts';
import { beginClose, settleAtPlatform } from './session-upkeep.ts';
import { checkVoucher } from './voucher-check.ts';

export type ActionResult = Success<StoredSession> | ExplainedFailure<SessionErrorCode>;

function refuse(code: SessionErrorCode, detail: string): ActionResult {
  return { ok: false, code, detail };
}

/** The echoed challenge was issued here, for this very offer, and may still be opened. */
function checkChallenge(
  config: SessionConfig,
  challenge: SessionChallenge,
  offer: MeteredOffer,
): ActionResult | undefined {
  if (!config.secrets.some((secret) => sessionChallengeIdMatches(challenge, secret))) {
    return refuse('invalidChallenge', 'the challenge was not issued here, or was altered');
  }
  const { request } = challenge;
  const offered = offer.request;
  if (challenge.realm !== config.realm || request.methodDetails.platform !== config.platformUrl) {
    return refuse('invalidChallenge', 'the challenge was issued for another realm or platform');
  }
  if (request.recipient !== config.merchantId) {
    return refuse('wrongMerchant', `the challenge is for merchant ${excerpt(request.recipient)}`);
  }
  if (request.methodDetails.resource !== offer.resource) {
    return refuse(
      'wrongResource',
      `the challenge is for ${excerpt(request.methodDetails.resource)}`,
    );
  }
  if (!sameCurrency(request.currency, offered.currency)) {
    return refuse('wrongCurrency', `the challenge is in ${request.currency}`);
  }
  if (request.amount !== offered.amount) {
    return refuse('wrongAmount', `the unit price is now ${offered.amount} micro-units`);
  }
  if (
    request.unitType !== offered.unitType ||
    request.methodDetails.minVoucherDelta !== offered.methodDetails.minVoucherDelta
  ) {
    return refuse('challengeMismatch', 'the route’s terms have changed since the challenge');
  }
  const times = checkSessionChallengeTimes(challenge, offer.nowSeconds);
  return times.ok ? undefined : refuse(times.code, times.detail);
}

function storedSessionOf(grant: VerifiedGrant, jws: string, nowMs: number): StoredSession {
  const { claims, commitment } = grant;
  return {
    channelId: claims.channelId,
    challengeId: claims.challengeId,
    resource: claims.resource,
    payer: claims.payer,
    unitPriceMicros: BigInt(claims.amount),
    unitType: claims.unitType,
    minVoucherDeltaMicros: BigInt(claims.minVoucherDelta),
    commitment,
    depositMicros: BigInt(claims.deposit),
    sequence: claims.sequence,
    grant: jws,
    openUntilSeconds: claims.openUntil,
    acceptedMicros: 0n,
    proof: commitment.kind === 'payword' ? commitment.anchor : new Uint8Array(0),
    spentMicros: 0n,
    checkpointedMicros: 0n,
    state: 'open',
    closeReason: undefined,
    lastActivityMs: nowMs,
  };
}

export async function openSession(
  config: SessionConfig,
  offer: MeteredOffer,
  credential: SessionCredential & { readonly payload: { readonly action: 'open' } },
): Promise<ActionResult> {
  const defect = checkChallenge(config, credential.challenge, offer);
  if (defect !== undefined) return defect;
  const grant = await verifyGrant(config.verifier, credential.payload.grant);
  if (!grant.ok) return grant;
  const unbound = checkGrantBinding(
    grant.value.claims,
    credential.challenge,
    config.merchantId,
    offer.nowSeconds,
  );
  if (unbound !== undefined) return unbound;
  const fresh = storedSessionOf(grant.value, credential.payload.grant, config.clock());
  const held = await config.store.open(fresh);
  if (held === undefined) return refuse('sessionStoreFull', 'no room for another session now');
  if (held.state !== 'open') return refuse('sessionClosed', 'the session is closed');
  return ok(held);
}

/** The session a later credential names, when it is this request's and its challenge's. */
async function sessionFor(
  config: SessionConfig,
  offer: MeteredOffer,
  channelId: string,
  challengeId: string,
): Promise<ActionResult> {
  const session = await config.store.get(channelId);
  if (session === undefined) return refuse('sessionUnknown', 'no such session here');
  if (session.resource !== offer.resource) {
    return refuse('wrongResource', `the session is for ${excerpt(session.resource)}`);
  }
  if (session.challengeId !== challengeId) {
    return refuse('challengeMismatch', 'the credential echoes another challenge');
  }
  return ok(session);
}

function sameCommitment(session: StoredSession, grant: VerifiedGrant): boolean {
  const held = session.commitment;
  const given = grant.commitment;
  if (held.kind === 'payword' && given.kind === 'payword') {
    return (
      held.chainLength === given.chainLength && Buffer.compare(held.anchor, given.anchor) === 0
    );
  }
  if (held.kind === 'ed25519' && given.kind === 'ed25519') {
    return Buffer.compare(held.voucherKey, given.voucherKey) === 0;
  }
  return false;
}

export async function topUpSession(
  config: SessionConfig,
  offer: MeteredOffer,
  credential: SessionCredential & { readonly payload: { readonly action: 'topUp' } },
): Promise<ActionResult> {
  const grant = await verifyGrant(config.verifier, credential.payload.grant);
  if (!grant.ok) return grant;
  const { claims } = grant.value;
  const found = await sessionFor(config, offer, claims.channelId, credential.challenge.id);
  if (!found.ok) return found;
  const session = found.value;
  if (
    claims.merchantId !== config.merchantId ||
    claims.challengeId !== session.challengeId ||
    BigInt(claims.amount) !== session.unitPriceMicros ||
    !sameCommitment(session, grant.value)
  ) {
    return refuse('grantInvalid', 'the top-up grant is not this session’s');
  }
  if (session.state !== 'open') return refuse('sessionClosed', 'the session is closed');
  if (claims.sequence > session.sequence) {
    const update = {
      sequence: claims.sequence,
      grant: credential.payload.grant,
      depositMicros: BigInt(claims.deposit),
      openUntilSeconds: claims.openUntil,
    };
    const raised = await config.store.topUp(session.channelId, update, config.clock());
    if (raised !== undefined) {
      config.waiters.notify(session.channelId);
      return ok(raised);
    }
  }
  const now = await config.store.get(session.channelId);
  return now === undefined ? refuse('sessionUnknown', 'no such session here') : ok(now);
}

/**
 * A voucher for a session found already: checked, then raised by the store's conditional write.
 * The accepted voucher again is a success that changes nothing. A voucher that loses a race to a
 * higher one is a success too (it was valid, and the session holds more).
 */
export async function acceptVoucher(
  config: SessionConfig,
  session: StoredSession,
  voucher: SessionVoucher,
): Promise<ActionResult> {
  const verdict = checkVoucher(session, voucher, config.keys, Math.floor(config.clock() / 1000));
  if ('ok' in verdict) return verdict;
  if (verdict.kind === 'current') return ok(session);
  const { channelId } = session;
  const { cumulativeMicros } = voucher;
  const raised = await config.store.accept(
    channelId,
    cumulativeMicros,
    verdict.proof,
    config.clock(),
  );
  if (raised !== undefined) {
    config.waiters.notify(channelId);
    return ok(raised);
  }
  const now = await config.store.get(channelId);
  if (now === undefined) return refuse('sessionUnknown', 'no such session here');
  if (now.state !== 'open') return refuse('sessionClosed', 'the session is closed');
  return now.acceptedMicros >= cumulativeMicros
    ? ok(now)
    : refuse('voucherInvalid', 'the voucher could not be recorded');
}

export async function voucherAction(
  config: SessionConfig,
  offer: MeteredOffer,
  challengeId: string,
  voucher: SessionVoucher,
): Promise<ActionResult> {
  const found = await sessionFor(config, offer, voucher.channelId, challengeId);
  return found.ok ? acceptVoucher(config, found.value, voucher) : found;
}

/**
 * The client's close: its voucher must prove at least the accepted amount (a close with a stale
 * or forged voucher is refused, so that nobody else can close the session); a higher one is taken
 * first. The session is then closed here at once and at the platform in the background.
 */
export async function closeAction(
  config: SessionConfig,
  offer: MeteredOffer,
  challengeId: string,
  voucher: SessionVoucher,
): Promise<ActionResult> {
  const found = await sessionFor(config, offer, voucher.channelId, challengeId);
  if (!found.ok) return found;
  const session = found.value;
  if (session.state !== 'open') {
    // Closed already: the same close again is answered with the final receipt.
    const proof = voucher.proof.kind === 'payword' ? voucher.proof.word : voucher.proof.signature;
    return voucher.cumulativeMicros === session.acceptedMicros &&
      Buffer.compare(proof, session.proof) === 0
      ? ok(session)
      : refuse('sessionClosed', 'the session is closed');
  }
  const accepted = await acceptVoucher(config, session, voucher);
  if (!accepted.ok) return accepted;
  await beginClose(config, session.channelId, 'client');
  // The platform is told off the request path; upkeep retries until it has been.
  void settleAtPlatform(config, session.channelId);
  const now = await config.store.get(session.channelId);
  return now === undefined ? refuse('sessionUnknown', 'no such session here') : ok(now);
}
