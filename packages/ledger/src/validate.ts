import { U32_MAX, U128_MAX } from './types.ts';

/** Most events one createAccounts or createTransfers call may hold (TigerBeetle's batch limit). */
export const eventsPerCallMax = 8190;

/** Most ids one lookup call may hold. */
export const lookupIdsMax = 8190;

/**
 * Input that cannot be represented (a negative amount, an id past 2^128-1, an unknown flag). The
 * whole call is rejected before anything is applied. Zero values are representable and get result
 * codes instead.
 */
export class LedgerInputError extends Error {
  override readonly name = 'LedgerInputError';
}

/** A transfer with every optional field filled in, as the state machine consumes it. */
export interface TransferEvent {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  readonly amount: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly pendingId: bigint;
  readonly timeoutSeconds: number;
  readonly userData: bigint;
  readonly linked: boolean;
  readonly pending: boolean;
  readonly postPending: boolean;
  readonly voidPending: boolean;
  readonly balancingDebit: boolean;
  readonly balancingCredit: boolean;
}

export interface AccountEvent {
  readonly id: bigint;
  readonly ledger: number;
  readonly code: number;
  readonly userData: bigint;
  readonly linked: boolean;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly closed: boolean;
}

const accountFields = new Set(['id', 'ledger', 'code', 'flags', 'userData']);
const accountFlagNames = new Set([
  'linked',
  'debitsMustNotExceedCredits',
  'creditsMustNotExceedDebits',
  'closed',
]);
const transferFields = new Set([
  'id',
  'debitAccountId',
  'creditAccountId',
  'amount',
  'ledger',
  'code',
  'flags',
  'pendingId',
  'timeoutSeconds',
  'userData',
]);
const transferFlagNames = new Set([
  'linked',
  'pending',
  'postPending',
  'voidPending',
  'balancingDebit',
  'balancingCredit',
]);

export function parseAccounts(input: unknown): AccountEvent[] {
  return parseBatch(input, 'accounts', (event, where) => {
    checkFields(event, accountFields, where);
    const flags = parseFlags(event.flags, accountFlagNames, where);
    return {
      id: u128(event.id, `${where}.id`),
      ledger: u32(event.ledger, `${where}.ledger`),
      code: u32(event.code, `${where}.code`),
      userData: optionalU128(event.userData, `${where}.userData`),
      linked: flags.has('linked'),
      debitsMustNotExceedCredits: flags.has('debitsMustNotExceedCredits'),
      creditsMustNotExceedDebits: flags.has('creditsMustNotExceedDebits'),
      closed: flags.has('closed'),
    };
  });
}

export function parseTransfers(input: unknown): TransferEvent[] {
  return parseBatch(input, 'transfers', (event, where) => {
    checkFields(event, transferFields, where);
    const flags = parseFlags(event.flags, transferFlagNames, where);
    return {
      id: u128(event.id, `${where}.id`),
      debitAccountId: u128(event.debitAccountId, `${where}.debitAccountId`),
      creditAccountId: u128(event.creditAccountId, `${where}.creditAccountId`),
      amount: u128(event.amount, `${where}.amount`),
      ledger: u32(event.ledger, `${where}.ledger`),
      code: u32(event.code, `${where}.code`),
      pendingId: optionalU128(event.pendingId, `${where}.pendingId`),
      timeoutSeconds:
        event.timeoutSeconds === undefined
          ? 0
          : u32(event.timeoutSeconds, `${where}.timeoutSeconds`),
      userData: optionalU128(event.userData, `${where}.userData`),
      linked: flags.has('linked'),
      pending: flags.has('pending'),
      postPending: flags.has('postPending'),
      voidPending: flags.has('voidPending'),
      balancingDebit: flags.has('balancingDebit'),
      balancingCredit: flags.has('balancingCredit'),
    };
  });
}

export function parseIds(input: unknown, what: string): bigint[] {
  if (!Array.isArray(input)) throw new LedgerInputError(`${what} must be an array of bigint ids`);
  if (input.length > lookupIdsMax) {
    throw new LedgerInputError(`${what} holds ${input.length} ids; at most ${lookupIdsMax}`);
  }
  return input.map((id, index) => u128(id, `${what}[${index}]`));
}

function parseBatch<T>(
  input: unknown,
  what: string,
  parseEvent: (event: Record<string, unknown>, where: string) => T,
): T[] {
  if (!Array.isArray(input)) throw new LedgerInputError(`${what} must be an array`);
  if (input.length > eventsPerCallMax) {
    throw new LedgerInputError(
      `${what} holds ${input.length} events; at most ${eventsPerCallMax} per call`,
    );
  }
  return input.map((event: unknown, index) => {
    const where = `${what}[${index}]`;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new LedgerInputError(`${where} must be an object`);
    }
    return parseEvent(event as Record<string, unknown>, where);
  });
}

function checkFields(event: Record<string, unknown>, known: ReadonlySet<string>, where: string) {
  for (const key of Object.keys(event)) {
    if (!known.has(key)) throw new LedgerInputError(`${where} has an unknown field '${key}'`);
  }
}

function parseFlags(flags: unknown, known: ReadonlySet<string>, where: string): Set<string> {
  const set = new Set<string>();
  if (flags === undefined) return set;
  if (typeof flags !== 'object' || flags === null || Array.isArray(flags)) {
    throw new LedgerInputError(`${where}.flags must be an object of booleans`);
  }
  for (const [name, value] of Object.entries(flags)) {
    if (!known.has(name))
      throw new LedgerInputError(`${where}.flags has an unknown flag '${name}'`);
    if (value === undefined) continue;
    if (typeof value !== 'boolean') {
      throw new LedgerInputError(`${where}.flags.${name} must be a boolean`);
    }
    if (value) set.add(name);
  }
  return set;
}

function u128(value: unknown, where: string): bigint {
  if (typeof value !== 'bigint') throw new LedgerInputError(`${where} must be a bigint`);
  if (value < 0n || value > U128_MAX) {
    throw new LedgerInputError(`${where} must lie in 0..2^128-1`);
  }
  return value;
}

function optionalU128(value: unknown, where: string): bigint {
  return value === undefined ? 0n : u128(value, where);
}

function u32(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new LedgerInputError(`${where} must be an integer in 0..${U32_MAX}`);
  }
  return value;
}
