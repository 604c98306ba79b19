/**
 * The consent routes as the wallet and the payment window call them (server:
 * consents/consent-routes.ts): what a consent looks like, the texts in force, and the one call
 * that grants or revokes.
 */
import { callApi, type ApiResult } from './api.ts';

export type ConsentPurpose = 'autoPay' | 'shareEmail' | 'suggestions';

export interface Consent {
  readonly id: string;
  readonly purpose: ConsentPurpose;
  readonly scope: string;
  readonly textVersion: string;
  readonly grantedAt: string;
  readonly revokedAt: string | null;
  readonly revokedTextVersion: string | null;
  readonly active: boolean;
}

export interface ConsentText {
  readonly purpose: ConsentPurpose;
  readonly version: string;
  readonly text: string;
}

export interface ActiveConsents {
  readonly consents: readonly Consent[];
  readonly texts: readonly ConsentText[];
}

/** The scope of the suggestions consent, which is not per site or merchant. */
export const wholeWalletScope = 'all';

export function readConsents(): Promise<ApiResult<ActiveConsents>> {
  return callApi<ActiveConsents>('GET', '/v1/consents');
}

/** Grants a consent to the text the person was shown. */
export function grantConsent(
  purpose: ConsentPurpose,
  scope: string,
  text: ConsentText,
): Promise<ApiResult<Consent>> {
  return callApi<Consent>('POST', '/v1/consents', {
    body: { purpose, scope, textVersion: text.version },
  });
}

export function revokeConsent(id: string): Promise<ApiResult<Consent>> {
  return callApi<Consent>('DELETE', `/v1/consents/${encodeURIComponent(id)}`);
}

/** The active consent for a purpose and scope, if any. */
export function activeConsent(
  consents: readonly Consent[],
  purpose: ConsentPurpose,
  scope: string,
): Consent | undefined {
  return consents.find(
    (consent) => consent.active && consent.purpose === purpose && consent.scope === scope,
  );
}

/** "7 Dec 2026, 12:40" in the reader's own time. */
export function showWhen(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
