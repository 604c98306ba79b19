import { presentedCredential } from '../http/credentials.ts';
import type { Authenticator, Principal } from '../http/route-config.ts';
import type { MerchantService } from '../merchants/merchant-service.ts';
import type { StaffPrincipals } from '../staff/staff-principals.ts';
import { fail, ok } from '../result.ts';
import type { AdminKeyService } from './admin-keys.ts';
import { parseSecret } from './secrets.ts';
import type { UserService } from './user-service.ts';

interface AuthenticatorDeps {
  users: UserService;
  merchants: MerchantService;
  adminKeys: AdminKeyService;
  staffPrincipals: StaffPrincipals;
}

/**
 * Who is calling: by session token (bearer or cookie) a user, or the merchant or operator the
 * session acts as (staff/staff-principals.ts); a merchant by API key; an operator by admin key.
 * The secret's prefix says which table to look in.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  return async (request) => {
    const secret = presentedCredential(request);
    if (secret === undefined) return ok(undefined);
    const principal = await principalFor(secret, deps);
    return principal === undefined
      ? fail('unauthenticated', 'The credential is unknown, expired or revoked.')
      : ok(principal);
  };
}

async function principalFor(
  secret: string,
  deps: AuthenticatorDeps,
): Promise<Principal | undefined> {
  switch (parseSecret(secret)?.kind) {
    case 'session': {
      const session = await deps.users.authenticate(secret);
      return session === undefined
        ? undefined
        : deps.staffPrincipals.principalFor(session.userId, session.actingAs);
    }
    case 'apiKey': {
      const key = await deps.merchants.authenticateApiKey(secret);
      return key === undefined
        ? undefined
        : { kind: 'merchant', id: key.merchantId, scopes: key.scopes };
    }
    case 'adminKey': {
      const key = await deps.adminKeys.authenticate(secret);
      return key === undefined ? undefined : { kind: 'operator', id: key.keyId, scopes: [] };
    }
    default:
      return undefined;
  }
}
