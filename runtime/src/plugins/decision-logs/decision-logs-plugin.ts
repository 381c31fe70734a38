/**
 * OPA's `decision_logs` plugin (https://www.openpolicyagent.org/docs/management-decision-logs),
 * driven by the scheduler instead of a timer.
 *
 * - `onDecision` runs on the request path: it builds the event (drop, then mask), prints it when
 *   `console` is on, and pushes it into the bounded buffer. No I/O waits there.
 * - `trigger` uploads everything buffered, in chunks, within the round's signal. A chunk that
 *   fails puts itself and every later chunk back in front of the buffer, oldest first; chunks the
 *   service accepted are never sent again.
 * - `stop` (called at SHUTDOWN after the flushing trigger, possibly with a signal that already
 *   aborted) writes whatever is still not uploaded to stdout, synchronously, so that no decision
 *   disappears without a trace when Lambda ends the environment.
 */
import type { DecisionLogsConfig } from './config';
import type { BufferedEvent } from './decision-log-buffer';
import { DecisionLogBuffer } from './decision-log-buffer';
import type { DecisionLogEvent } from './decision-log-event';
import { consoleLine, eventFromRecord, inOpaOrder, withOutcome } from './decision-log-event';
import { ChunkEncoder } from './encoder';
import { MaskDrop, PolicyEvaluator } from './mask-drop';
import { DecisionLogUploader } from './uploader';
import { PLUGIN } from '../../../../src/layer-contract';
import { raceAbort } from '../../abort';
import type { DecisionListener, DecisionRecord } from '../../contracts/decision-record';
import { PluginState } from '../../contracts/plugin';
import type { Plugin, PluginStatus } from '../../contracts/plugin';
import { errorMessage } from '../../errors';
import { parseExactJson, stringifyJson } from '../../json-text';
import type { Logger } from '../../logger';
import type { ServiceClient } from '../../services/service-client';
import { ServiceHttpError } from '../../services/service-client';

/** OPA's `code` for a failed upload in the status API's `decision_logs` object. */
export const DECISION_LOG_ERROR_CODE = 'decision_log_error';

/**
 * The status API's `decision_logs` object (OPA's `plugins/logs/status.Status`): empty after a
 * successful upload round, `code`, `message` and (for an HTTP answer) `http_code` after a failed one.
 */
export type DecisionLogsStatus = {
  readonly code?: string;
  readonly message?: string;
  readonly http_code?: number;
};

/**
 * Counters in the status API's `metrics.prometheus`, with OPA's `counter_` names where OPA has one
 * (https://www.openpolicyagent.org/docs/monitoring#status-metrics).
 */
export const METRIC = {
  /** Every decision the server handed over (logged or not). */
  decisions: 'counter_decisions',
  droppedBufferFull: 'counter_decision_logs_dropped_buffer_size_limit_bytes_exceeded',
  droppedByPolicy: 'counter_decision_logs_dropped_by_drop_decision',
  policyFailure: 'counter_decision_logs_mask_drop_failure',
  oversized: 'counter_enc_log_exceeded_upload_size_limit_bytes',
  chunksUploaded: 'counter_decision_logs_chunks_uploaded',
  chunksFailed: 'counter_decision_logs_chunks_upload_failed',
  eventsUploaded: 'counter_decision_logs_events_uploaded',
  writtenToConsoleAtShutdown: 'counter_decision_logs_written_to_console_at_shutdown',
} as const;

export interface DecisionLogsPluginOptions {
  readonly config: DecisionLogsConfig;
  /** Labels of every event: the configured ones plus `id` and `version`. */
  readonly labels: Readonly<Record<string, string>>;
  /** Evaluates the mask and drop policies; without it, events are neither masked nor dropped. */
  readonly engine?: PolicyEvaluator;
  /** The client of `config.service`; required when a service is configured. */
  readonly client?: ServiceClient;
  readonly logger: Logger;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Where console lines go. @default process.stdout */
  readonly console?: (line: string) => void;
}

export class DecisionLogsPlugin implements Plugin, DecisionListener {
  public readonly name = PLUGIN.DECISION_LOGS;
  /** Buffered events are uploaded before the environment shuts down. */
  public readonly flushOnShutdown = true;

  private readonly config: DecisionLogsConfig;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly maskDrop?: MaskDrop;
  private readonly uploader?: DecisionLogUploader;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly write: (line: string) => void;
  private readonly buffer: DecisionLogBuffer;
  private readonly encoder: ChunkEncoder;
  private readonly counters: Record<string, number> = Object.fromEntries(Object.values(METRIC).map((m) => [m, 0]));
  private state = PluginState.NOT_READY;
  private lastStatus?: DecisionLogsStatus;
  private stopped = false;
  /** Events taken out of the buffer by the upload in progress and not yet accepted by the service. */
  private inFlight: BufferedEvent[] = [];
  private running?: Promise<void>;

  public constructor(options: DecisionLogsPluginOptions) {
    this.config = options.config;
    this.labels = options.labels;
    this.logger = options.logger;
    this.now = options.now ?? (() => new Date());
    this.write = options.console ?? ((line) => process.stdout.write(line));
    this.buffer = new DecisionLogBuffer(this.config.bufferSizeLimitBytes);
    this.encoder = new ChunkEncoder(this.config.uploadSizeLimitBytes);
    if (options.engine) this.maskDrop = new MaskDrop(options.engine, this.config.maskDecision, this.config.dropDecision);
    if (this.config.service !== undefined) {
      if (!options.client) throw new Error(`decision_logs: no client given for service ${this.config.service}`);
      this.uploader = new DecisionLogUploader(options.client, this.config.resource);
    }
  }

  public async start(_signal: AbortSignal): Promise<void> {
    this.stopped = false;
    this.state = PluginState.OK;
  }

  public onDecision(record: DecisionRecord): void {
    this.counters[METRIC.decisions]++;
    let event: DecisionLogEvent | undefined;
    try {
      event = this.buildEvent(record);
    } catch (err) {
      // OPA logs and skips the event when its mask or drop policy fails; the id keeps a trace.
      this.counters[METRIC.policyFailure]++;
      this.logger.error('decision log event not recorded: mask or drop policy failed', { decision_id: record.decisionId, error: err });
      return;
    }
    if (!event) return;
    if (this.config.console) this.write(consoleLine(event, this.now()));
    if (!this.uploader) return;
    if (this.stopped) {
      // A decision after stop cannot be uploaded any more: stdout is its last resort.
      this.lastResort([toBuffered(event)]);
      return;
    }
    this.dropped(this.buffer.push(toBuffered(event)));
  }

  public async trigger(signal: AbortSignal): Promise<void> {
    if (!this.uploader) return;
    // Rounds never overlap; a round that was abandoned ends as soon as its signal aborted.
    while (this.running) await raceAbort(this.running.catch(() => undefined), signal);
    const round = this.uploadAll(signal);
    this.running = round.then(() => undefined, () => undefined).then(() => { this.running = undefined; });
    return round;
  }

  /**
   * Writes what was not uploaded to stdout. Synchronous up to its first await, so that a stop whose
   * signal already aborted (the scheduler does not wait then) still leaves every event on stdout.
   */
  public async stop(_signal: AbortSignal): Promise<void> {
    this.stopped = true;
    this.state = PluginState.NOT_READY;
    const pending = [...this.inFlight, ...this.buffer.drain()];
    this.inFlight = [];
    if (pending.length > 0) this.lastResort(pending);
  }

  public status(): PluginStatus {
    return { state: this.state };
  }

  /** The status API's `decision_logs` object; undefined before the first upload round. */
  public uploadStatus(): DecisionLogsStatus | undefined {
    return this.lastStatus;
  }

  /** Counters for the status API's `metrics`. */
  public metrics(): Record<string, number> {
    return { ...this.counters };
  }

  /** Events waiting for upload (for tests and diagnostics). */
  public get buffered(): number {
    return this.buffer.length;
  }

  /** The event to log, or undefined when the drop policy drops it. */
  private buildEvent(record: DecisionRecord): DecisionLogEvent | undefined {
    const base = eventFromRecord(record, this.labels);
    if (this.maskDrop?.shouldDrop(base)) {
      this.counters[METRIC.droppedByPolicy]++;
      this.logger.debug('decision log event dropped by the drop policy', { decision_id: record.decisionId, path: base.path });
      return undefined;
    }
    const event = withOutcome(base, record);
    this.maskDrop?.mask(event);
    return inOpaOrder(event);
  }

  private async uploadAll(signal: AbortSignal): Promise<void> {
    const uploader = this.uploader!;
    const events = this.buffer.drain();
    if (events.length === 0) {
      // OPA clears the upload error when the queue was empty too.
      this.lastStatus = {};
      return;
    }
    const { chunks, oversized } = this.encoder.encode(events);
    if (oversized.length > 0) {
      this.counters[METRIC.oversized] += oversized.length;
      this.logger.error('decision log events larger than upload_size_limit_bytes written to stdout instead of uploaded', {
        count: oversized.length, upload_size_limit_bytes: this.config.uploadSizeLimitBytes, decision_ids: oversized.map((e) => e.decisionId),
      });
      if (!this.config.console) for (const e of oversized) this.write(consoleLineOf(e, this.now()));
    }
    this.inFlight = chunks.flatMap((c) => c.events);
    let sent = 0;
    try {
      for (const chunk of chunks) {
        signal.throwIfAborted();
        await uploader.upload(chunk.body, signal);
        sent++;
        this.counters[METRIC.chunksUploaded]++;
        this.counters[METRIC.eventsUploaded] += chunk.events.length;
        this.inFlight = this.inFlight.slice(chunk.events.length);
      }
      this.lastStatus = {};
      this.logger.info('Logs uploaded successfully.', { chunks: sent, events: events.length - oversized.length });
    } catch (err) {
      this.counters[METRIC.chunksFailed]++;
      const unsent = this.inFlight;
      this.inFlight = [];
      // After stop, stop has already written the in-flight events to stdout.
      if (!this.stopped) this.dropped(this.buffer.requeue(unsent));
      this.lastStatus = errorStatus(err, signal);
      throw new Error(`decision log upload to service ${uploader.service} failed after ${sent} of ${chunks.length} chunks; ${unsent.length} events kept for the next round: ${this.lastStatus.message}`, { cause: err });
    }
  }

  private dropped(events: BufferedEvent[]): void {
    if (events.length === 0) return;
    this.counters[METRIC.droppedBufferFull] += events.length;
    // As OPA, an error line per drop, with the running total the status API also reports.
    this.logger.error('Dropped decision log events from buffer. Trigger uploads more often or increase buffer_size_limit_bytes.', {
      dropped: events.length, total_dropped: this.counters[METRIC.droppedBufferFull], decision_ids: events.map((e) => e.decisionId),
    });
  }

  private lastResort(events: readonly BufferedEvent[]): void {
    this.counters[METRIC.writtenToConsoleAtShutdown] += events.length;
    // With `console` on, these events are on stdout already.
    if (!this.config.console) {
      const now = this.now();
      for (const e of events) this.write(consoleLineOf(e, now));
    }
    this.logger.warn('decision log events not uploaded before shutdown; written to stdout', {
      count: events.length, decision_ids: events.map((e) => e.decisionId),
    });
  }
}

function toBuffered(event: DecisionLogEvent): BufferedEvent {
  const json = stringifyJson(event);
  return { decisionId: event.decision_id, json, bytes: Buffer.byteLength(json) };
}

function consoleLineOf(event: BufferedEvent, now: Date): string {
  return consoleLine(parseExactJson(event.json) as DecisionLogEvent, now);
}

function errorStatus(err: unknown, signal: AbortSignal): DecisionLogsStatus {
  if (err instanceof ServiceHttpError) return { code: DECISION_LOG_ERROR_CODE, message: err.message, http_code: err.status };
  const reason = signal.aborted ? `upload cut short: ${errorMessage(signal.reason)}` : `log upload failed: ${errorMessage(err)}`;
  return { code: DECISION_LOG_ERROR_CODE, message: reason };
}
