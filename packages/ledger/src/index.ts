export { type LedgerOptions, openLedger } from './open-ledger.ts';
export * from './types.ts';
export { eventsPerCallMax, LedgerInputError } from './validate.ts';
export { TimeOrderedIds } from './time-ordered-ids.ts';
export { restrictSqliteFilesToOwner } from './sqlite/owner-only-files.ts';
