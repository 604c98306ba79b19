/**
 * Turns a live session into the principal it acts as. A wallet session is its user; a console
 * session is an operator while the person holds the operator role; a dashboard session is its
 * merchant, with the scopes of the person's role there, while they are a member. The role is read
 * from the database, not from the session, so that removing a person or changing their role holds
 * without ending their sessions: at once on the node that made the change, within
 * `staffRoleCacheTtlMs` on the others (the same bound as a log-out's, user-service.ts).
 */
import { LRUCache } from 'lru-cache';
import type { SessionActingAs } from '../auth/user-service.ts';
import type { PlatformDb } from '../db/platform-db.ts';
import type { Principal } from '../http/route-config.ts';
import { isMerchantRole, scopesOfRole } from './staff-roles.ts';

export const staffRoleCacheTtlMs = 1_000;
/** Roles kept in memory at most (the least recently used are dropped). */
export const staffRolesCachedMax = 100_000;

type CachedRole = { readonly principal: Principal } | { readonly principal: undefined };

export function createStaffPrincipals(deps: { readonly platform: PlatformDb }) {
  const db = deps.platform.db;
  const roles = new LRUCache<string, CachedRole>({
    max: staffRolesCachedMax,
    ttl: staffRoleCacheTtlMs,
  });

  async function principalFor(
    userId: string,
    actingAs: SessionActingAs,
  ): Promise<Principal | undefined> {
    if (actingAs === 'wallet') return { kind: 'user', id: userId, scopes: [] };
    const cacheKey = `${userId}|${actingAs}`;
    const cached = roles.get(cacheKey);
    if (cached !== undefined) return cached.principal;
    const principal =
      actingAs === 'operator'
        ? await operatorPrincipal(userId)
        : await merchantPrincipal(userId, actingAs.slice('merchant:'.length));
    roles.set(cacheKey, { principal });
    return principal;
  }

  async function operatorPrincipal(userId: string): Promise<Principal | undefined> {
    const row = await db
      .selectFrom('operators')
      .select('user_id')
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row === undefined ? undefined : { kind: 'operator', id: userId, scopes: [], userId };
  }

  async function merchantPrincipal(
    userId: string,
    merchantId: string,
  ): Promise<Principal | undefined> {
    const row = await db
      .selectFrom('merchant_members')
      .select('role')
      .where('merchant_id', '=', merchantId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined || !isMerchantRole(row.role)) return undefined;
    return { kind: 'merchant', id: merchantId, scopes: scopesOfRole(row.role), userId };
  }

  /** Forgets what this node knows of a person's roles (after a change to them). */
  function forget(userId: string): void {
    const prefix = `${userId}|`;
    const stale: string[] = [];
    roles.forEach((_role, key) => {
      if (key.startsWith(prefix)) stale.push(key);
    });
    for (const key of stale) roles.delete(key);
  }

  return { principalFor, forget };
}

export type StaffPrincipals = ReturnType<typeof createStaffPrincipals>;
