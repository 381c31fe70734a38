/**
 * Structured logs: one JSON object per line on stdout, which Lambda ships to CloudWatch Logs.
 * Never pass credentials or tokens as fields.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Lowest level written. @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default process.stdout */
  readonly write?: (line: string) => void;
  /** Fields added to every line. */
  readonly base?: LogFields;
}

export class JsonLogger implements Logger {
  private readonly min: number;
  private readonly write: (line: string) => void;
  private readonly base: LogFields;

  public constructor(options: JsonLoggerOptions = {}) {
    this.min = LEVEL_ORDER[options.level ?? 'info'];
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.base = options.base ?? {};
  }

  public debug(msg: string, fields?: LogFields): void { this.log('debug', msg, fields); }
  public info(msg: string, fields?: LogFields): void { this.log('info', msg, fields); }
  public warn(msg: string, fields?: LogFields): void { this.log('warn', msg, fields); }
  public error(msg: string, fields?: LogFields): void { this.log('error', msg, fields); }

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_ORDER[level] < this.min) return;
    const line = { time: new Date().toISOString(), level, msg, ...this.base, ...normalize(fields) };
    this.write(JSON.stringify(line) + '\n');
  }
}

/** Errors do not survive JSON.stringify; keep their message (and cause) readable. */
function normalize(fields?: LogFields): LogFields | undefined {
  if (!fields) return undefined;
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = v instanceof Error ? errorFields(v) : v;
  return out;
}

function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  if (err.cause !== undefined) out.cause = err.cause instanceof Error ? errorFields(err.cause) : String(err.cause);
  return out;
}

/** A logger that drops everything, for tests that do not look at logs. */
export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };
