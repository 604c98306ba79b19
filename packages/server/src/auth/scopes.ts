/**
 * What a merchant API key may do: each route a merchant may call names the scope it needs in its
 * config (`auth: { kinds: ['merchant'], scopes: ['webhooks:write'] }`), and the app checks it
 * before the handler runs (http/route-rules.ts). A closed list: a key is issued with some of these.
 *
 * Operators' admin keys and users' sessions are not scoped: their kind decides what they may do.
 */
export const apiKeyScopes = [
  'api_keys:read',
  'api_keys:write',
  'bank_account:read',
  'bank_account:write',
  'customers:read',
  'offers:read',
  'offers:write',
  'payments:read',
  'redemptions:read',
  'redemptions:write',
  'refunds:write',
  'reports:read',
  'sessions:read',
  'sessions:write',
  'tokens:deposit',
  'webhooks:read',
  'webhooks:write',
] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** Whether a key holding `held` holds every one of `wanted`. */
export function holdsScopes(held: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((scope) => held.includes(scope));
}
