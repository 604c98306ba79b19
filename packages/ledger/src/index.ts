export { type LedgerOptions, openLedger } from './open-ledger.ts';
export { LedgerInputError, eventsPerCallMax } from './validate.ts';
export * from './types.ts';
