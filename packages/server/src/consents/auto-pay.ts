/**
 * The server's half of auto-pay: a payment the client marks automatic (made without asking the
 * person) is taken only while the user's autoPay consent for the site is active. The payment
 * window asks before paying unless that consent is active, but a page is not where a rule about
 * someone's money can rest, so the payment route checks it again, at the time of the payment.
 */
import { decodeChallengeEcho } from '@mite/protocol';
import { fail, ok, type Result } from '../result.ts';
import { type ConsentService, siteOrigin } from './consent-service.ts';

/**
 * Whether an automatic payment of `challenge` at `site` may go ahead: the site must be an
 * origin, the challenge's resource (when it is a full URL) on that site, and the user's autoPay
 * consent for it active now. A challenge that does not decode is left to the payment, which
 * refuses it.
 */
export async function checkAutoPay(
  consents: ConsentService,
  input: { readonly userId: string; readonly challenge: unknown; readonly site: string },
): Promise<Result<void, 'consentRequired' | 'validationFailed'>> {
  const { site } = input;
  if (siteOrigin(site) !== site) {
    return fail(
      'validationFailed',
      'automatic.site must be an origin, such as https://news.example.',
    );
  }
  const decoded = decodeChallengeEcho(input.challenge, 'challenge');
  if (decoded.ok) {
    const { resource } = decoded.value.request.methodDetails;
    const resourceSite = URL.canParse(resource) ? new URL(resource).origin : undefined;
    if (resourceSite !== undefined && resourceSite !== site) {
      return fail('validationFailed', `The challenge's resource is not on ${site}.`);
    }
  }
  if (!(await consents.isActive(input.userId, 'autoPay', site))) {
    return fail(
      'consentRequired',
      `You have not allowed ${site} to be paid automatically: confirm this payment, or allow ` +
        'automatic payments to this site in your wallet.',
    );
  }
  return ok(undefined);
}
