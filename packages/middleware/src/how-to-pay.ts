/**
 * The 402 for a person at a terminal: besides the challenge a client reads, the problem document
 * says what is sold by whom, where it is paid (the platform), and the exact `mite pay` line that
 * buys it, so that `curl` on a paid URL tells a person what to do next. The extension members
 * (RFC 9457 allows them) say the same for programs: `merchant`, `merchantId`, `platform` and
 * `payCommand`.
 */
import { currency, type ProblemDetails } from '@mite/protocol';
import { absoluteUrl } from './absolute-url.ts';
import type { PaywallOutcome, PaywallRequest } from './core.ts';
import type { Offer } from './offer.ts';
import { refusalOutcome } from './outcome.ts';
import type { Config } from './paywall-config.ts';

/** What a 402's problem adds for people: who sells, where to pay, and how. */
export interface HowToPay {
  /** The site's name (the challenge's realm). */
  readonly merchant: string;
  readonly merchantId: string;
  /** Where the payment is made. */
  readonly platform: string;
  /** The command that buys the resource, when its absolute URL is known. */
  readonly payCommand?: string;
}

export function howToPay(config: Config, offer: Offer, request: PaywallRequest): HowToPay {
  const url = absoluteUrl(offer.request.methodDetails.resource, request.headers['host']);
  return {
    merchant: config.realm,
    merchantId: config.merchantId,
    platform: config.platformUrl,
    ...(url === undefined ? {} : { payCommand: `mite pay ${url}` }),
  };
}

/** The 402 of a priced request that presented no credential, worded for people too. */
export function paymentRequiredOutcome(
  config: Config,
  offer: Offer,
  request: PaywallRequest,
): PaywallOutcome {
  const how = howToPay(config, offer, request);
  const { resource } = offer.request.methodDetails;
  const amount = offer.price;
  const command = how.payCommand === undefined ? '`mite pay` and its URL' : `\`${how.payCommand}\``;
  const detail =
    `${resource} costs ${amount} ${currency} from ${how.merchant}. Pay through the Mite ` +
    `platform at ${how.platform}, for example with ${command}.`;
  const outcome = refusalOutcome(config, offer, 'paymentRequired', detail);
  if (outcome.kind !== 'paymentRequired') return outcome;
  const problem: ProblemDetails & HowToPay = { ...outcome.problem, ...how };
  return { ...outcome, problem, body: JSON.stringify(problem) };
}
