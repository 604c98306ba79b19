export {
  findPgBin,
  freePort,
  freshPgDatabase,
  type FreshPgDatabaseOptions,
  type PgCluster,
  postgresSkipReason,
  postgresSkipReasonFor,
  requirePgDatabase,
  startPgCluster,
  tempDir,
} from './pg-cluster.ts';
