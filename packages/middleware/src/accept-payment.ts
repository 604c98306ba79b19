/**
 * The client's `Accept-Payment` preferences (draft-httpauth-payment-01): a list of
 * `method/intent` ranges, `*` a wildcard in either place, each with an optional weight `q`
 * (`q=0`: "do not use"). The paywall offers one challenge, `mite/charge`, so the only preference
 * it can honour is an exclusion of that challenge.
 *
 * The draft says a server SHOULD filter its challenges to those a range with `q>0` matches. Here
 * that can leave none, and then it allows two answers only: ignore the header (MAY), or not answer
 * 402 at all, since a 402 MUST carry a Payment challenge and a server SHOULD NOT answer 402 when
 * "no Payment challenge can be constructed for the request". Ignoring it would send a challenge
 * the client said it will not pay, so the paywall answers **406 Not Acceptable** with a problem
 * document instead: the client learns at once that this resource is sold only for a method it
 * refused, and no challenge it refuses is issued. A malformed header is ignored (the draft: MAY),
 * and a client that presents a credential has chosen the method already, so only an unpaid request
 * is asked.
 */
import { chargeIntent, currency, miteMethod, problemMediaType } from '@mite/protocol';
import type { PaywallOutcome } from './core.ts';
import type { Offer } from './offer.ts';

export const acceptPaymentHeaderName = 'Accept-Payment';

/** A header longer than this is not parsed, and so ignored as the draft allows for a malformed one. */
export const acceptPaymentLengthMax = 4096;

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

const lowerName = acceptPaymentHeaderName.toLowerCase();

/** `Accept-Payment` as one value (repeated fields joined with ", "), whatever its name's case. */
export function readAcceptPayment(headers: Headers): string | undefined {
  let value = headers[lowerName];
  if (value === undefined) {
    for (const key in headers) {
      if (key.length === lowerName.length && key.toLowerCase() === lowerName) {
        value = headers[key];
        break;
      }
    }
  }
  return typeof value === 'string' ? value : value?.join(', ');
}

// payment-range = payment-token [ weight ]; payment-token = (method / "*") "/" (intent / "*");
// weight = OWS ";" OWS "q=" qvalue (RFC 9110).
const token = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const paymentRange = new RegExp(
  `^(${token})/(${token})(?:[ \\t]*;[ \\t]*[qQ]=(0(?:\\.[0-9]{0,3})?|1(?:\\.0{0,3})?))?$`,
);

/**
 * The weight the client gives `method/intent`: that of the most specific range matching it (an
 * exact method outranks an exact intent, which outranks `* / *`; among equally specific ranges
 * the highest weight), 0 when none matches; undefined when the header is malformed.
 */
export function acceptedWeight(header: string, method: string, intent: string): number | undefined {
  if (header.length > acceptPaymentLengthMax) return undefined;
  let best = { specificity: -1, weight: 0 };
  for (const element of header.split(',')) {
    const text = element.trim();
    // RFC 9110: a recipient accepts empty list elements.
    if (text === '') continue;
    const range = paymentRange.exec(text);
    if (range === null) return undefined;
    const [, rangeMethod = '', rangeIntent = '', q] = range;
    const methodExact = rangeMethod.toLowerCase() === method;
    const intentExact = rangeIntent.toLowerCase() === intent;
    if ((!methodExact && rangeMethod !== '*') || (!intentExact && rangeIntent !== '*')) continue;
    const specificity = (methodExact ? 2 : 0) + (intentExact ? 1 : 0);
    const weight = q === undefined ? 1 : Number(q);
    if (
      specificity > best.specificity ||
      (specificity === best.specificity && weight > best.weight)
    ) {
      best = { specificity, weight };
    }
  }
  return best.weight;
}

/** Whether the request's `Accept-Payment`, well-formed, leaves Mite's challenge out. */
export function refusesMiteCharge(headers: Headers): boolean {
  const header = readAcceptPayment(headers);
  if (header === undefined) return false;
  return acceptedWeight(header, miteMethod, chargeIntent) === 0;
}

/** The 406 for a priced request whose client refuses the only challenge this paywall issues. */
export function notAcceptableOutcome(offer: Offer): PaywallOutcome {
  const { resource } = offer.request.methodDetails;
  const amount = offer.price;
  const problem = {
    // No registered problem type says this; about:blank means "what the status code says".
    type: 'about:blank',
    title: 'Not Acceptable',
    status: 406,
    detail:
      `${resource} costs ${amount} ${currency}, payable only with the ${miteMethod}/` +
      `${chargeIntent} payment method, which the request's Accept-Payment header excludes`,
  } as const;
  const headers = {
    'Content-Type': problemMediaType,
    'Cache-Control': 'no-store',
    Vary: acceptPaymentHeaderName,
  };
  const body = JSON.stringify(problem);
  return { kind: 'notAcceptable', status: 406, headers, body, problem };
}
