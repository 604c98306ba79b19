/**
 * The limits users set on their own spending (issue 15 item 1), which the limits policy reads
 * through LimitProfiles (limit-profiles.ts). Lowering a limit, or setting one where there was
 * none, takes effect at once; raising or removing one needs the user's fresh confirmation (the
 * password). Every change is appended to `limit_changes` in the transaction that makes it.
 *
 * Whether a change lowers or raises is decided against the limit read, and the write only
 * happens if that is still the limit stored (a conditional write), so two changes racing cannot
 * turn a lowering into an unconfirmed raise: the loser reads again and is judged again.
 */
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { LimitChangesTable } from '../db/schema.ts';
import { formatAmount } from '../money/amount-schema.ts';
import { fail, ok, type Result } from '../result.ts';
import type { LimitScope } from './limit-profile.ts';
import { merchantOfScope, parseLimitScope, userLimitMicrosMax } from './limit-scopes.ts';
import { passwordConfirms } from './password-confirmation.ts';

/** Changes `GET /v1/users/me/limits` lists, newest first (the export has them all). */
export const limitChangesListedMax = 100;
/** Conditional writes tried before giving up on a limit changed again and again meanwhile. */
const limitWriteAttemptsMax = 5;

export interface UserLimit {
  readonly scope: LimitScope;
  readonly limitMicros: bigint;
  readonly updatedAtMs: number;
}

export interface LimitChange {
  readonly id: string;
  readonly scope: LimitScope;
  readonly oldLimitMicros: bigint | undefined;
  readonly newLimitMicros: bigint | undefined;
  readonly direction: LimitChangesTable['direction'];
  readonly confirmedBy: LimitChangesTable['confirmed_by'];
  readonly changedAtMs: number;
}

export type LimitChangeFailure =
  | 'confirmationRequired'
  | 'invalidCredentials'
  | 'validationFailed'
  | 'merchantNotFound'
  | 'unavailable';

export interface UserLimitSettingsDeps {
  readonly platform: PlatformDb;
  readonly clock: () => number;
  readonly merchantExists: (merchantId: string) => Promise<boolean>;
  /** The profiles' cache, told of every change (limit-profiles.ts). */
  readonly profiles: { forget(userId: string): void };
}

/** Whether going from `from` to `to` (undefined: no limit) raises what the user may spend. */
export function raises(from: bigint | undefined, to: bigint | undefined): boolean {
  if (to === undefined) return from !== undefined;
  return from !== undefined && to > from;
}

const micros = (text: string | null) => (text === null ? undefined : BigInt(text));

export function createUserLimitSettings(deps: UserLimitSettingsDeps) {
  const { db } = deps.platform;

  async function limitsOf(
    userId: string,
  ): Promise<{ limits: UserLimit[]; changes: LimitChange[] }> {
    const rows = await db
      .selectFrom('user_limits')
      .select(['scope', 'limit_micros', 'updated_at'])
      .where('user_id', '=', userId)
      .orderBy('scope')
      .execute();
    const changeRows = await db
      .selectFrom('limit_changes')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(limitChangesListedMax)
      .execute();
    const limits: UserLimit[] = [];
    for (const row of rows) {
      const scope = parseLimitScope(row.scope);
      if (scope === undefined) continue;
      limits.push({
        scope,
        limitMicros: BigInt(row.limit_micros),
        updatedAtMs: Number(row.updated_at),
      });
    }
    const changes = changeRows.map((row) => ({
      id: row.id,
      scope: parseLimitScope(row.scope) ?? (row.scope as LimitScope),
      oldLimitMicros: micros(row.old_limit_micros),
      newLimitMicros: micros(row.new_limit_micros),
      direction: row.direction,
      confirmedBy: row.confirmed_by,
      changedAtMs: Number(row.changed_at),
    }));
    return { limits, changes };
  }

  async function currentLimit(userId: string, scope: LimitScope): Promise<string | undefined> {
    const row = await db
      .selectFrom('user_limits')
      .select('limit_micros')
      .where('user_id', '=', userId)
      .where('scope', '=', scope)
      .executeTakeFirst();
    return row?.limit_micros;
  }

  /** Writes the change if `from` is still the limit stored, with its log row; false if not. */
  async function writeIf(userId: string, change: LimitChange): Promise<boolean> {
    const { scope } = change;
    const from = change.oldLimitMicros?.toString();
    const to = change.newLimitMicros?.toString();
    const at = BigInt(change.changedAtMs);
    return db.transaction().execute(async (tx) => {
      let written: boolean;
      if (from === undefined) {
        const inserted = await tx
          .insertInto('user_limits')
          .values({ user_id: userId, scope, limit_micros: to ?? '0', updated_at: at })
          .onConflict((conflict) => conflict.columns(['user_id', 'scope']).doNothing())
          .returning('user_id')
          .executeTakeFirst();
        written = inserted !== undefined;
      } else if (to === undefined) {
        const deleted = await tx
          .deleteFrom('user_limits')
          .where('user_id', '=', userId)
          .where('scope', '=', scope)
          .where('limit_micros', '=', from)
          .executeTakeFirst();
        written = deleted.numDeletedRows > 0n;
      } else {
        const updated = await tx
          .updateTable('user_limits')
          .set({ limit_micros: to, updated_at: at })
          .where('user_id', '=', userId)
          .where('scope', '=', scope)
          .where('limit_micros', '=', from)
          .executeTakeFirst();
        written = updated.numUpdatedRows > 0n;
      }
      if (!written) return false;
      await tx
        .insertInto('limit_changes')
        .values({
          id: change.id,
          user_id: userId,
          scope,
          old_limit_micros: from ?? null,
          new_limit_micros: to ?? null,
          direction: change.direction,
          confirmed_by: change.confirmedBy,
          changed_at: at,
        })
        .execute();
      return true;
    });
  }

  async function checkTarget(
    scope: LimitScope,
    limitMicros: bigint | undefined,
  ): Promise<Result<void, 'validationFailed' | 'merchantNotFound'>> {
    if (limitMicros !== undefined && limitMicros > userLimitMicrosMax) {
      return fail(
        'validationFailed',
        `A limit can be at most ${formatAmount(userLimitMicrosMax)}.`,
      );
    }
    const merchantId = merchantOfScope(scope);
    if (merchantId !== undefined && !(await deps.merchantExists(merchantId))) {
      return fail('merchantNotFound', 'There is no merchant with this id.');
    }
    return ok(undefined);
  }

  /**
   * Sets the user's limit of `scope` to `limitMicros` (undefined removes it). Lowering applies at
   * once; a raise or removal needs `password`, else `confirmationRequired` and nothing changes.
   * Answers the change logged, or undefined when the limit already was that.
   */
  async function setLimit(input: {
    userId: string;
    scope: LimitScope;
    limitMicros: bigint | undefined;
    password: string | undefined;
  }): Promise<Result<LimitChange | undefined, LimitChangeFailure>> {
    const checked = await checkTarget(input.scope, input.limitMicros);
    if (!checked.ok) return checked;
    let confirmed = false;
    for (let attempt = 0; attempt < limitWriteAttemptsMax; attempt += 1) {
      const from = micros((await currentLimit(input.userId, input.scope)) ?? null);
      const to = input.limitMicros;
      if (from === to) return ok(undefined);
      const raising = raises(from, to);
      if (raising && !confirmed) {
        if (input.password === undefined) {
          return fail(
            'confirmationRequired',
            'Raising or removing a limit needs your password: send it as `password`.',
          );
        }
        if (!(await passwordConfirms(deps.platform, input.userId, input.password))) {
          return fail('invalidCredentials', 'The password is wrong; the limit was not changed.');
        }
        confirmed = true;
      }
      const change: LimitChange = {
        id: uuidv7(),
        scope: input.scope,
        oldLimitMicros: from,
        newLimitMicros: to,
        direction: raising ? 'raised' : 'lowered',
        confirmedBy: raising ? 'password' : 'none',
        changedAtMs: deps.clock(),
      };
      if (await writeIf(input.userId, change)) {
        deps.profiles.forget(input.userId);
        return ok(change);
      }
    }
    return fail('unavailable', 'The limit kept changing meanwhile: try again.');
  }

  return { limitsOf, setLimit };
}

export type UserLimitSettings = ReturnType<typeof createUserLimitSettings>;
