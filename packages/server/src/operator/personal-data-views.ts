/**
 * Personal data shown to an operator only when needed, and each view logged (table
 * `personal_data_views`, migration 0022): who, which record, which field, when, and the reason
 * the operator typed. The log row is written, durably, before the field is decrypted and
 * answered, so that no view goes unlogged; the log holds no personal data itself (ids and the
 * reason), and the field is never logged. Rows are only ever inserted.
 */
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { TransactionBatcher } from '../db/transaction-batcher.ts';
import { type DataKeyring, erasedLabel, openUserField } from '../privacy/data-keys.ts';
import { fail, ok, type Result } from '../result.ts';

/** The shortest and longest reason an operator may give for a view. */
export const viewReasonLengthMin = 10;
export const viewReasonLengthMax = 500;

/** The fields a view may reveal, by the kind of record they belong to. */
export const viewableFields = { topUp: ['email'] } as const;
export type ViewableRecordKind = keyof typeof viewableFields;
export type ViewableField = (typeof viewableFields)[ViewableRecordKind][number];

/** How an operator is named in the log: the route's principal id. */
const operatorPrefix = 'operator:';

export interface PersonalDataView {
  readonly id: string;
  readonly operator: string;
  readonly recordKind: string;
  readonly recordId: string;
  readonly field: string;
  readonly reason: string;
  readonly viewedAtMs: number;
  /** The operator person's email, for the log's readers; null for an admin key. */
  readonly operatorEmail: string | null;
}

export interface PersonalDataViewsDeps {
  readonly platform: PlatformDb;
  readonly batcher: TransactionBatcher;
  /** Opens the users' fields with their data keys. */
  readonly keyring: DataKeyring;
  readonly clock: () => number;
}

export function createPersonalDataViews(deps: PersonalDataViewsDeps) {
  const { db } = deps.platform;

  /** The user whose email a top-up's view reveals, with the sealed email. */
  async function topUpOwner(topUpId: string) {
    return db
      .selectFrom('topups as t')
      .innerJoin('users as u', 'u.id', 't.user_id')
      .select(['u.id', 'u.email_ciphertext', 'u.erased_at'])
      .where('t.id', '=', topUpId)
      .executeTakeFirst();
  }

  /**
   * Logs the view, then reveals the field: a top-up's user's email. `recordNotFound` when there
   * is no such top-up (nothing is logged: nothing was seen).
   */
  async function reveal(input: {
    operator: string;
    recordKind: ViewableRecordKind;
    recordId: string;
    field: ViewableField;
    reason: string;
  }): Promise<
    Result<{ view: PersonalDataView; value: string }, 'recordNotFound' | 'personalDataErased'>
  > {
    const owner = await topUpOwner(input.recordId);
    if (owner === undefined) return fail('recordNotFound');
    // Erased: there is nothing to see, so nothing is logged either.
    if (owner.erased_at !== null) return fail('personalDataErased');
    const view: PersonalDataView = {
      id: `pdv_${uuidv7()}`,
      operator: input.operator,
      recordKind: input.recordKind,
      recordId: input.recordId,
      field: input.field,
      reason: input.reason,
      viewedAtMs: deps.clock(),
      operatorEmail: null,
    };
    await deps.batcher.run((tx) =>
      tx
        .insertInto('personal_data_views')
        .values({
          id: view.id,
          operator: view.operator,
          record_kind: view.recordKind,
          record_id: view.recordId,
          field: view.field,
          reason: view.reason,
          viewed_at: BigInt(view.viewedAtMs),
        })
        .execute(),
    );
    const value = await openUserField(deps.keyring, owner.id, owner.email_ciphertext, 'email');
    if (value === undefined) return fail('personalDataErased');
    return ok({ view, value });
  }

  /** The log, newest first, before the cursor's (time, id). */
  async function list(options: {
    limit: number;
    before?: { atMs: bigint; id: string };
  }): Promise<PersonalDataView[]> {
    let query = db
      .selectFrom('personal_data_views')
      .selectAll()
      .orderBy('viewed_at', 'desc')
      .orderBy('id', 'desc')
      .limit(options.limit);
    const { before } = options;
    if (before !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('viewed_at', '<', before.atMs),
          eb.and([eb('viewed_at', '=', before.atMs), eb('id', '<', before.id)]),
        ]),
      );
    }
    const rows = await query.execute();
    const emails = await operatorEmails(rows.map((row) => row.operator));
    return rows.map((row) => ({
      id: row.id,
      operator: row.operator,
      recordKind: row.record_kind,
      recordId: row.record_id,
      field: row.field,
      reason: row.reason,
      viewedAtMs: Number(row.viewed_at),
      operatorEmail: emails.get(row.operator) ?? null,
    }));
  }

  /**
   * The emails of the operator people among `operators` (`operator:<user id>`), so that the log
   * names who looked; an admin key's id matches no user and stays unnamed.
   */
  async function operatorEmails(operators: readonly string[]): Promise<Map<string, string>> {
    const userIds = [
      ...new Set(operators.map((operator) => operator.slice(operatorPrefix.length))),
    ];
    if (userIds.length === 0) return new Map();
    const users = await db
      .selectFrom('users')
      .select(['id', 'email_ciphertext'])
      .where('id', 'in', userIds)
      .execute();
    const named = await Promise.all(
      users.map(async (user) => {
        const email = await openUserField(deps.keyring, user.id, user.email_ciphertext, 'email');
        return [`${operatorPrefix}${user.id}`, email ?? erasedLabel] as const;
      }),
    );
    return new Map(named);
  }

  return { reveal, list };
}

export type PersonalDataViews = ReturnType<typeof createPersonalDataViews>;
