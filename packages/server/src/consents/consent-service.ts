/**
 * Consents: granted and revoked by the user (consent-routes.ts), read where the data they cover
 * is used (the automatic payments, the merchant's customer lookup, the suggestions). Every read
 * goes to the database, never a cache, so that a revoke holds on every node from the moment it
 * commits.
 */
import { isSecureOrLoopback } from '@mite/protocol';
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { ConsentPurpose, ConsentsTable } from '../db/schema.ts';
import { fail, ok, type Result } from '../result.ts';
import { currentConsentText, wholeWalletScope } from './consent-texts.ts';
import type { Selectable } from 'kysely';

export type ConsentRow = Selectable<ConsentsTable>;

export interface ConsentServiceDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
  /** Whether a merchant exists: a shareEmail grant names one. */
  readonly merchantExists: (merchantId: string) => Promise<boolean>;
  /** The user's pseudonym at a merchant, as its receipts name them. */
  readonly pseudonym: (userId: string, merchantId: string) => string;
}

export type GrantFailure = 'validationFailed' | 'consentTextChanged' | 'merchantNotFound';

export interface GrantRequest {
  readonly purpose: ConsentPurpose;
  readonly scope: string;
  /** The version of the text the user was shown, which must be the one in force. */
  readonly textVersion: string;
}

/** Why a scope cannot go with a purpose, in a sentence; undefined when it can. */
function scopeProblem(purpose: ConsentPurpose, scope: string): string | undefined {
  switch (purpose) {
    case 'autoPay':
      return siteOrigin(scope) === scope
        ? undefined
        : 'An autoPay scope is a site\u2019s origin, such as https://news.example (http on the loopback only).';
    case 'shareEmail':
      return scope.length > 0 ? undefined : 'A shareEmail scope is a merchant id.';
    case 'suggestions':
      return scope === wholeWalletScope
        ? undefined
        : `The suggestions scope is "${wholeWalletScope}".`;
  }
}

/** The exact origin a text names, on https or the loopback; undefined otherwise. */
export function siteOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.origin !== 'null' && isSecureOrLoopback(url) ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

export function createConsentService(deps: ConsentServiceDeps) {
  const { db } = deps.platform;

  async function activeOf(
    userId: string,
    purpose: ConsentPurpose,
    scope: string,
  ): Promise<ConsentRow | undefined> {
    return db
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('scope', '=', scope)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
  }

  /** Grants a consent; granting one that is active already answers it, unchanged. */
  async function grant(
    userId: string,
    request: GrantRequest,
  ): Promise<Result<ConsentRow, GrantFailure>> {
    const { purpose, scope } = request;
    const problem = scopeProblem(purpose, scope);
    if (problem !== undefined) return fail('validationFailed', problem);
    const text = currentConsentText(purpose);
    if (request.textVersion !== text.version) {
      return fail(
        'consentTextChanged',
        `The text in force is ${text.version}; show it and ask again.`,
      );
    }
    if (purpose === 'shareEmail' && !(await deps.merchantExists(scope))) {
      return fail('merchantNotFound');
    }
    const active = await activeOf(userId, purpose, scope);
    if (active !== undefined) return ok(active);
    const row: ConsentRow = {
      id: `cns_${uuidv7()}`,
      user_id: userId,
      purpose,
      scope,
      text_version: text.version,
      granted_at: BigInt(deps.clock()),
      revoked_at: null,
      revoked_text_version: null,
      merchant_pseudonym: purpose === 'shareEmail' ? deps.pseudonym(userId, scope) : null,
    };
    try {
      await db.insertInto('consents').values(row).execute();
    } catch (error) {
      // Two grants at once: the partial unique index lets one through, which both answer.
      const won = await activeOf(userId, purpose, scope);
      if (won !== undefined) return ok(won);
      throw error;
    }
    return ok(row);
  }

  /** Revokes one of the user's consents; revoking a revoked one answers it, unchanged. */
  async function revoke(
    userId: string,
    consentId: string,
  ): Promise<Result<ConsentRow, 'consentNotFound'>> {
    const row = await db
      .selectFrom('consents')
      .selectAll()
      .where('id', '=', consentId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (row === undefined) return fail('consentNotFound');
    if (row.revoked_at !== null) return ok(row);
    const revokedAt = BigInt(deps.clock());
    const revokedTextVersion = currentConsentText(row.purpose).version;
    // Conditional, so that a revoke already made by another request keeps its time.
    await db
      .updateTable('consents')
      .set({ revoked_at: revokedAt, revoked_text_version: revokedTextVersion })
      .where('id', '=', consentId)
      .where('revoked_at', 'is', null)
      .execute();
    const after = await db
      .selectFrom('consents')
      .selectAll()
      .where('id', '=', consentId)
      .executeTakeFirstOrThrow();
    return ok(after);
  }

  /** The user's active consents, newest first. */
  async function listActive(userId: string): Promise<ConsentRow[]> {
    return db
      .selectFrom('consents')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('granted_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Every grant of the user, newest first, `rows` of them after the cursor. */
  async function history(
    userId: string,
    after: { readonly grantedAtMs: bigint; readonly id: string } | undefined,
    rows: number,
  ): Promise<ConsentRow[]> {
    let query = db.selectFrom('consents').selectAll().where('user_id', '=', userId);
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('granted_at', '<', after.grantedAtMs),
          eb.and([eb('granted_at', '=', after.grantedAtMs), eb('id', '<', after.id)]),
        ]),
      );
    }
    return query.orderBy('granted_at', 'desc').orderBy('id', 'desc').limit(rows).execute();
  }

  /** Whether the user's consent for this purpose and scope is active now. */
  async function isActive(
    userId: string,
    purpose: ConsentPurpose,
    scope: string,
  ): Promise<boolean> {
    return (await activeOf(userId, purpose, scope)) !== undefined;
  }

  /** The user a merchant knows by `pseudonym`, if they share their email with it now. */
  async function emailSharer(merchantId: string, pseudonym: string): Promise<string | undefined> {
    const row = await db
      .selectFrom('consents')
      .select('user_id')
      .where('merchant_pseudonym', '=', pseudonym)
      .where('scope', '=', merchantId)
      .where('purpose', '=', 'shareEmail')
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row?.user_id;
  }

  return { grant, revoke, listActive, history, isActive, emailSharer };
}

export type ConsentService = ReturnType<typeof createConsentService>;
