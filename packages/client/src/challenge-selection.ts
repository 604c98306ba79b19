/**
 * The 402 negotiation: which challenge of a 402 this client answers (a Mite `Payment` challenge in
 * WWW-Authenticate first, else one in the x402 envelope), and which resource it sells, keyed on
 * the origin that asked so that one site cannot sell another's resources.
 */
import {
  type Challenge,
  isSecureOrLoopback,
  parseChallengeHeader,
  parseX402PaymentRequired,
  type Refusal,
  x402PaymentRequiredHeaderName,
} from '@mite/protocol';
import { MitePaymentError } from './errors.ts';
import { badChallenge, type PaymentSite } from './payer.ts';
import { receiptKeyOf } from './receipt-store.ts';

/**
 * The Mite challenge of a 402; undefined when it carries none (the 402 is then returned to the
 * caller). A challenge of another scheme or method is passed over; one of ours that does not
 * read throws `badChallenge`.
 */
export function readChallenge(response: Response, nowSeconds: number): Challenge | undefined {
  let refusal: Refusal | undefined;
  const header = response.headers.get('www-authenticate');
  if (header !== null) {
    const parsed = parseChallengeHeader(header, { nowSeconds });
    if (parsed.ok) return parsed.value;
    // A session challenge alone is not a charge's defect: the session spending reads it.
    const notOurs = ['unknownScheme', 'unsupportedMethod', 'unsupportedIntent'];
    if (!notOurs.includes(parsed.code)) refusal = parsed;
  }
  const x402 = response.headers.get(x402PaymentRequiredHeaderName);
  if (x402 !== null) {
    const parsed = parseX402PaymentRequired(x402, { nowSeconds });
    if (parsed.ok) return parsed.value;
    if (parsed.code !== 'unsupportedMethod') refusal ??= parsed;
  }
  if (refusal !== undefined) throw badChallenge(refusal);
  return undefined;
}

/** The key of the challenge's resource, on the origin that asked (see the README). */
export function challengeResourceKey(challenge: Challenge, target: URL): string {
  return resourceKeyOf(challenge.request.methodDetails.resource, target);
}

/** The key of a resource a challenge names (a charge's or a session's), on the origin that asked. */
export function resourceKeyOf(named: string, target: URL): string {
  let resource: URL;
  try {
    resource = new URL(named, target);
  } catch {
    throw new MitePaymentError('badChallenge', 'the challenge names an unreadable resource', {
      protocolCode: 'badUrl',
    });
  }
  if (resource.hostname !== target.hostname) {
    throw new MitePaymentError(
      'badChallenge',
      `${target.origin} asks to pay for a resource of ${resource.hostname}`,
      { protocolCode: 'wrongResource' },
    );
  }
  return receiptKeyOf(new URL(`${resource.pathname}${resource.search}`, target));
}

/** The site of a 402 answered by `target`: its origin's budget, its resource's receipt key. */
export function paymentSiteOf(challenge: Challenge, target: URL): PaymentSite {
  return {
    origin: target.origin,
    url: target.href,
    resourceKey: challengeResourceKey(challenge, target),
  };
}

/**
 * The draft: "Clients MUST NOT send Payment credentials over unencrypted HTTP." A site on plain
 * http is paid for only on the loopback, where nothing leaves the machine (a developer's site).
 * Checked before paying, so that nothing is paid for a credential that could not be sent.
 */
export function refuseInsecure(target: URL): void {
  if (isSecureOrLoopback(target)) return;
  throw new MitePaymentError(
    'insecureTransport',
    `${target.origin} asks for a payment over plain http; Mite pays only https sites ` +
      `(plain http only on the loopback: localhost, 127.0.0.0/8, [::1])`,
  );
}
