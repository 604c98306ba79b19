/**
 * Every platform migration, by name. Kysely applies them in the order of their names, so a new
 * migration is `NNNN-name.ts` with the next number, listed here, and never edited once released.
 */
import type { Migration } from 'kysely';
import * as foundation from './0001-foundation.ts';
import * as offersAndPayments from './0002-offers-and-payments.ts';

export const platformMigrations: Readonly<Record<string, Migration>> = {
  '0001-foundation': foundation,
  '0002-offers-and-payments': offersAndPayments,
};
