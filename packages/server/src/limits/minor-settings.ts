/**
 * Minors (issue 15 item 1): a user declares their birth date once, sealed under their data key
 * (so that erasure shreds it). Under the age of majority (birth-dates.ts) they need a guardian's
 * recorded consent: the minor names the guardian by email, and the guardian, an existing user
 * who declared a birth date that makes them an adult, grants it (with their password) or
 * withdraws it. A declared birth date cannot be changed: otherwise a minor would declare
 * themselves adult to be rid of the limits.
 */
import { uuidv7 } from 'uuidv7';
import type { PlatformDb } from '../db/platform-db.ts';
import type { GuardianConsentsTable } from '../db/schema.ts';
import { type DataKeyring, openUserField, userSubject } from '../privacy/data-keys.ts';
import { fail, ok, type Result } from '../result.ts';
import { birthDateProblem, formatBirthDate, isMinorAt, parseBirthDate } from './birth-dates.ts';
import { birthDatePurpose } from './limit-profiles.ts';
import { passwordConfirms } from './password-confirmation.ts';

export type GuardianConsentState = GuardianConsentsTable['state'];

export interface MinorStatus {
  readonly declared: boolean;
  readonly minor: boolean;
  /** The latest request for a guardian's consent, if any (its guardian is not named back). */
  readonly guardianConsent:
    | { readonly id: string; readonly state: GuardianConsentState; readonly atMs: number }
    | undefined;
}

export interface GuardianRequest {
  readonly id: string;
  /** The minor's email: how the guardian knows whom they answer. */
  readonly minorEmail: string;
  readonly state: GuardianConsentState;
  readonly requestedAtMs: number;
  readonly grantedAtMs: number | undefined;
}

export type GuardianFailure =
  | 'guardianConsentNotNeeded'
  | 'guardianNotEligible'
  | 'guardianRequestOpen'
  | 'guardianRequestNotFound'
  | 'invalidCredentials';

export interface MinorSettingsDeps {
  readonly platform: PlatformDb;
  readonly keyring: Pick<DataKeyring, 'keyFor' | 'existingKeyFor'>;
  readonly clock: () => number;
  readonly timeZone: string;
  readonly userIdByEmail: (email: string) => Promise<string | undefined>;
  /** The profiles' cache, told of every change (limit-profiles.ts). */
  readonly profiles: { forget(userId: string): void };
}

const guardianNotEligible =
  'The guardian must be another Mite user who declared a birth date that makes them an adult: ' +
  'ask them to sign up and declare theirs in their wallet first.';

export function createMinorSettings(deps: MinorSettingsDeps) {
  const { db } = deps.platform;

  /** Whether the user declared a birth date and, if so, whether they are a minor now. */
  async function ageOf(userId: string): Promise<{ declared: boolean; minor: boolean } | undefined> {
    const user = await db
      .selectFrom('users')
      .select(['birth_date_ciphertext', 'disabled_at'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (user === undefined || user.disabled_at !== null) return undefined;
    if (user.birth_date_ciphertext === null) return { declared: false, minor: false };
    const opened = await openUserField(
      deps.keyring,
      userId,
      user.birth_date_ciphertext,
      birthDatePurpose,
    );
    const birthDate = opened === undefined ? undefined : parseBirthDate(opened);
    if (birthDate === undefined) return undefined;
    return { declared: true, minor: isMinorAt(birthDate, deps.clock(), deps.timeZone) };
  }

  async function statusOf(userId: string): Promise<MinorStatus> {
    const age = (await ageOf(userId)) ?? { declared: false, minor: false };
    const latest = await db
      .selectFrom('guardian_consents')
      .selectAll()
      .where('minor_user_id', '=', userId)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    const atMs = latest?.withdrawn_at ?? latest?.granted_at ?? latest?.requested_at;
    return {
      ...age,
      guardianConsent:
        latest === undefined
          ? undefined
          : { id: latest.id, state: latest.state, atMs: Number(atMs) },
    };
  }

  /** Declares the user's birth date (`YYYY-MM-DD`), once. */
  async function declareBirthDate(
    userId: string,
    text: string,
  ): Promise<Result<MinorStatus, 'validationFailed' | 'birthDateDeclared'>> {
    const birthDate = parseBirthDate(text);
    if (birthDate === undefined) {
      return fail('validationFailed', 'A birth date is a real date, written YYYY-MM-DD.');
    }
    const problem = birthDateProblem(birthDate, deps.clock(), deps.timeZone);
    if (problem !== undefined) return fail('validationFailed', problem);
    const key = await deps.keyring.keyFor(userSubject(userId));
    const sealed = key.encrypt(formatBirthDate(birthDate), `user:${userId}:${birthDatePurpose}`);
    // Conditional: of two declarations at once, one is stored and the other refused.
    const result = await db
      .updateTable('users')
      .set({ birth_date_ciphertext: sealed, birth_date_declared_at: BigInt(deps.clock()) })
      .where('id', '=', userId)
      .where('birth_date_ciphertext', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) {
      return fail(
        'birthDateDeclared',
        'Your birth date was declared already and cannot be changed here: ask the operator ' +
          'if it is wrong.',
      );
    }
    deps.profiles.forget(userId);
    return ok(await statusOf(userId));
  }

  /** The minor asks the user with `guardianEmail` for their consent. */
  async function requestConsent(
    minorId: string,
    guardianEmail: string,
  ): Promise<Result<MinorStatus, GuardianFailure>> {
    const age = await ageOf(minorId);
    if (age === undefined || !age.minor) {
      return fail(
        'guardianConsentNotNeeded',
        'Only a minor (by the birth date they declared) asks for a guardian\u2019s consent.',
      );
    }
    const guardianId = await deps.userIdByEmail(guardianEmail);
    const guardianAge = guardianId === undefined ? undefined : await ageOf(guardianId);
    if (guardianId === undefined || guardianId === minorId || guardianAge?.declared !== true) {
      return fail('guardianNotEligible', guardianNotEligible);
    }
    if (guardianAge.minor) return fail('guardianNotEligible', guardianNotEligible);
    const inserted = await db
      .insertInto('guardian_consents')
      .values({
        id: uuidv7(),
        minor_user_id: minorId,
        guardian_user_id: guardianId,
        state: 'requested',
        requested_at: BigInt(deps.clock()),
        granted_at: null,
        withdrawn_at: null,
      })
      // The only unique index a new row can conflict with is the one open request per minor.
      .onConflict((conflict) => conflict.doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted === undefined) {
      return fail(
        'guardianRequestOpen',
        'A request is open or granted already: the guardian withdraws it before you ask again.',
      );
    }
    return ok(await statusOf(minorId));
  }

  /** The requests that name the user as guardian, open or granted, oldest first. */
  async function requestsFor(guardianId: string): Promise<GuardianRequest[]> {
    const rows = await db
      .selectFrom('guardian_consents')
      .innerJoin('users', 'users.id', 'guardian_consents.minor_user_id')
      .select(['guardian_consents.id', 'guardian_consents.minor_user_id', 'users.email_ciphertext'])
      .select(['guardian_consents.state', 'guardian_consents.requested_at'])
      .select('guardian_consents.granted_at')
      .where('guardian_consents.guardian_user_id', '=', guardianId)
      .where('guardian_consents.withdrawn_at', 'is', null)
      .orderBy('guardian_consents.id')
      .execute();
    const requests: GuardianRequest[] = [];
    for (const row of rows) {
      const email = await openUserField(
        deps.keyring,
        row.minor_user_id,
        row.email_ciphertext,
        'email',
      );
      if (email === undefined) continue;
      requests.push({
        id: row.id,
        minorEmail: email,
        state: row.state,
        requestedAtMs: Number(row.requested_at),
        grantedAtMs: row.granted_at === null ? undefined : Number(row.granted_at),
      });
    }
    return requests;
  }

  return { statusOf, declareBirthDate, requestConsent, requestsFor, ...guardianAnswers(deps) };
}

/** The guardian's answers: grant (with their password) and withdraw (at once). */
function guardianAnswers(deps: MinorSettingsDeps) {
  const { db } = deps.platform;
  const notFound = () =>
    fail('guardianRequestNotFound', 'No open request with this id names you as its guardian.');

  async function grant(
    guardianId: string,
    requestId: string,
    password: string,
  ): Promise<Result<void, 'guardianRequestNotFound' | 'invalidCredentials'>> {
    if (!(await passwordConfirms(deps.platform, guardianId, password))) {
      return fail('invalidCredentials', 'The password is wrong; nothing was granted.');
    }
    const granted = await db
      .updateTable('guardian_consents')
      .set({ state: 'granted', granted_at: BigInt(deps.clock()) })
      .where('id', '=', requestId)
      .where('guardian_user_id', '=', guardianId)
      .where('state', '=', 'requested')
      .returning('minor_user_id')
      .executeTakeFirst();
    if (granted === undefined) return notFound();
    deps.profiles.forget(granted.minor_user_id);
    return ok(undefined);
  }

  /** Withdraws a grant, or declines a request: at once, since it only takes spending away. */
  async function withdraw(
    guardianId: string,
    requestId: string,
  ): Promise<Result<void, 'guardianRequestNotFound'>> {
    const withdrawn = await db
      .updateTable('guardian_consents')
      .set({ state: 'withdrawn', withdrawn_at: BigInt(deps.clock()) })
      .where('id', '=', requestId)
      .where('guardian_user_id', '=', guardianId)
      .where('withdrawn_at', 'is', null)
      .returning('minor_user_id')
      .executeTakeFirst();
    if (withdrawn === undefined) return notFound();
    deps.profiles.forget(withdrawn.minor_user_id);
    return ok(undefined);
  }

  return { grant, withdraw };
}

export type MinorSettings = ReturnType<typeof createMinorSettings>;
