export {
  findPgBin,
  freePort,
  freshPgDatabase,
  type PgCluster,
  postgresSkipReason,
  postgresSkipReasonFor,
  requirePgDatabase,
  startPgCluster,
  tempDir,
} from './pg-cluster.ts';
