import { presentedCredential } from '../http/credentials.ts';
import type { Authenticator, Principal } from '../http/route-config.ts';
import type { MerchantService } from '../merchants/merchant-service.ts';
import { fail, ok } from '../result.ts';
import type { AdminKeyService } from './admin-keys.ts';
import { parseSecret } from './secrets.ts';
import type { UserService } from './user-service.ts';

/**
 * Who is calling: a user by session token (bearer or cookie), a merchant by API key, an
 * operator by admin key. The secret's prefix says which table to look in.
 */
export function createAuthenticator(deps: {
  users: UserService;
  merchants: MerchantService;
  adminKeys: AdminKeyService;
}): Authenticator {
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
  deps: { users: UserService; merchants: MerchantService; adminKeys: AdminKeyService },
): Promise<Principal | undefined> {
  switch (parseSecret(secret)?.kind) {
    case 'session': {
      const session = await deps.users.authenticate(secret);
      return session === undefined ? undefined : { kind: 'user', id: session.userId, scopes: [] };
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
