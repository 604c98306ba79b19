/**
 * What a person may do in a merchant's dashboard, by their role. A dashboard session is a
 * merchant principal like an API key, so every merchant route's scope check applies to it
 * unchanged; the role only decides which scopes it holds.
 */
import { apiKeyScopes } from '../auth/scopes.ts';

export const merchantRoles = ['owner', 'viewer'] as const;
export type MerchantRole = (typeof merchantRoles)[number];

/**
 * Scopes only people hold: managing who works for the merchant is not a job for a server's key,
 * so no API key can be issued with them (auth/scopes.ts is the list keys draw from).
 */
export const memberScopes = ['members:read', 'members:write'] as const;

const readScopes = [...apiKeyScopes, ...memberScopes].filter((scope) => scope.endsWith(':read'));

const scopesByRole: { readonly [R in MerchantRole]: readonly string[] } = {
  owner: [...apiKeyScopes, ...memberScopes],
  viewer: readScopes,
};

export function scopesOfRole(role: MerchantRole): readonly string[] {
  return scopesByRole[role];
}

export function isMerchantRole(value: string): value is MerchantRole {
  return (merchantRoles as readonly string[]).includes(value);
}
