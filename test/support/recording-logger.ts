import type { LogFields, Logger, LogLevel } from '../../runtime/src/logger';

export interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: LogFields;
}

/** Keeps every log line for assertions. */
export class RecordingLogger implements Logger {
  public readonly lines: LogLine[] = [];

  public debug(msg: string, fields?: LogFields): void { this.push('debug', msg, fields); }
  public info(msg: string, fields?: LogFields): void { this.push('info', msg, fields); }
  public warn(msg: string, fields?: LogFields): void { this.push('warn', msg, fields); }
  public error(msg: string, fields?: LogFields): void { this.push('error', msg, fields); }

  public at(level: LogLevel): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }

  private push(level: LogLevel, msg: string, fields: LogFields = {}): void {
    this.lines.push({ level, msg, fields });
  }
}
