export type { CliContext, ShutdownSignal } from './cli-context.ts';
export { createProgram, runCli } from './create-program.ts';
export type { LogFields, Logger } from './logger.ts';
export { createLineLogger } from './logger.ts';
export {
  createServer,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_BODY_BYTES,
  MAX_HEADER_BYTES,
  REQUEST_TIMEOUT_MS,
  type ServerDependencies,
} from './server.ts';
