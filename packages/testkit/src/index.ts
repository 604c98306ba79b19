export {
  findPgBin,
  freePort,
  freshPgDatabase,
  type PgCluster,
  startPgCluster,
  tempDir,
} from './pg-cluster.ts';
