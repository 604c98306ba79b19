/**
 * What a user consents to, in the words they are shown. Each purpose's text is a versioned
 * constant: a grant and a revoke record the version in force, so that what someone agreed to can
 * always be read again. Changing a text means a new version here (the old ones stay, since the
 * history names them); a grant must name the current version, so nobody agrees to words they
 * were not shown.
 */
import type { ConsentPurpose } from '../db/schema.ts';

export const consentPurposes = [
  'autoPay',
  'shareEmail',
  'suggestions',
] as const satisfies readonly ConsentPurpose[];

export interface ConsentText {
  readonly version: string;
  readonly text: string;
}

/** Every version of every purpose's text, oldest first: the last is the one in force. */
export const consentTextVersions: { readonly [P in ConsentPurpose]: readonly ConsentText[] } = {
  autoPay: [
    {
      version: 'autoPay-2026-12-07',
      text:
        'Pay this site automatically from my wallet, without asking each time, for payments ' +
        'within my budget and not above the amount my budget asks about. I can stop this at any ' +
        'time in my wallet.',
    },
  ],
  shareEmail: [
    {
      version: 'shareEmail-2026-12-07',
      text:
        'Let this merchant see my email address beside the pseudonym it knows me by, so that it ' +
        'can send me receipts and answer me. I can stop this at any time in my wallet; the ' +
        'merchant then sees only the pseudonym again.',
    },
  ],
  suggestions: [
    {
      version: 'suggestions-2026-12-07',
      text:
        'Use what I bought to suggest offers I may like, from merchants on this platform. ' +
        'Nothing is shared with merchants. I can stop this at any time in my wallet.',
    },
  ],
};

/** The text in force for a purpose. */
export function currentConsentText(purpose: ConsentPurpose): ConsentText {
  const versions = consentTextVersions[purpose];
  const current = versions.at(-1);
  if (current === undefined) throw new Error(`bug: no consent text for ${purpose}`);
  return current;
}

/** The scope of a purpose that is not per site or merchant (suggestions). */
export const wholeWalletScope = 'all';
