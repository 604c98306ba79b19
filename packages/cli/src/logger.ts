/** Extra structured context for a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logging the server needs; a line-based logger now, pino when the platform grows. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export interface LineLoggerOptions {
  /** Receives one complete line, newline included. */
  readonly write: (line: string) => void;
  readonly now?: () => Date;
}

/** A logger writing `<ISO time> <level> <message> <fields as JSON>` lines. */
export function createLineLogger({ write, now = () => new Date() }: LineLoggerOptions): Logger {
  const log = (level: string, message: string, fields?: LogFields): void => {
    const suffix = fields === undefined ? '' : ` ${JSON.stringify(fields)}`;
    write(`${now().toISOString()} ${level} ${message}${suffix}\n`);
  };
  return {
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
  };
}
