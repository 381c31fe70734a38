import { performance } from 'node:perf_hooks';
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';

/** What happened, in the vocabulary of the Lambda Extensions and Runtime API docs. */
export type LifecycleEventType =
  | 'spawn'
  | 'register'
  | 'register-rejected'
  | 'next'
  | 'event-delivered'
  | 'init-error'
  | 'exit-error'
  | 'runtime-ready'
  | 'invocation-delivered'
  | 'response'
  | 'invocation-error'
  | 'init-done'
  | 'invoke-done'
  | 'timeout'
  | 'shutdown-start'
  | 'shutdown-done'
  | 'signal'
  | 'kill'
  | 'exit';

/**
 * One recorded step. `source` is the extension's name, `'runtime'`, or `'emulator'` for phase
 * boundaries; the optional fields carry whatever the step is about.
 */
export interface LifecycleEvent {
  /** Milliseconds since the emulator was constructed, from a monotonic clock. */
  readonly t: number;
  readonly type: LifecycleEventType;
  readonly source: string;
  readonly eventType?: 'INVOKE' | 'SHUTDOWN';
  readonly events?: readonly string[];
  readonly requestId?: string;
  readonly deadlineMs?: number;
  readonly shutdownReason?: string;
  readonly errorType?: string;
  readonly errorMessage?: string;
  readonly status?: number;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  /** True on an `exit` that happened while the emulator did not expect it (not during SHUTDOWN or close). */
  readonly unexpected?: boolean;
}

export interface OutputLine {
  readonly source: string;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  readonly t: number;
}

/**
 * Keeps the ordered record of a run. Timestamps come from `performance.now()` so that durations
 * measured between two events cannot be skewed by a wall-clock adjustment.
 */
export class LifecycleRecorder {
  public readonly events: LifecycleEvent[] = [];
  public readonly output: OutputLine[] = [];
  private readonly origin = performance.now();

  constructor(private readonly echo: boolean = false) {}

  public now(): number {
    return performance.now() - this.origin;
  }

  public record(event: Omit<LifecycleEvent, 't'>): LifecycleEvent {
    const recorded: LifecycleEvent = { t: this.now(), ...event };
    this.events.push(recorded);
    return recorded;
  }

  /** Collects a child's stream line by line, as CloudWatch would receive it. */
  public capture(source: string, stream: 'stdout' | 'stderr', readable: Readable | null): void {
    if (!readable) return;
    const lines = readline.createInterface({ input: readable, crlfDelay: Infinity });
    lines.on('line', (line) => {
      this.output.push({ source, stream, line, t: this.now() });
      if (this.echo) process.stderr.write(`[${source}:${stream}] ${line}\n`);
    });
  }

  /** Every stdout/stderr line of `source` that parses as a JSON object, in order; other lines are skipped. */
  public jsonLines(source: string): Array<Record<string, unknown>> {
    return jsonLines(this.output, source);
  }
}

/** The JSON object lines a source wrote (the extension logs one JSON object per line). */
export function jsonLines(output: readonly OutputLine[], source: string): Array<Record<string, unknown>> {
  const parsed: Array<Record<string, unknown>> = [];
  for (const entry of output) {
    if (entry.source !== source) continue;
    const text = entry.line.trim();
    if (!text.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(text);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        parsed.push(value as Record<string, unknown>);
      }
    } catch {
      // a line that merely starts with '{' is still plain output
    }
  }
  return parsed;
}
