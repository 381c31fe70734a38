/**
 * OPA's decision log event (`EventV1` in `v1/plugins/logs/plugin.go`; fields documented at
 * https://www.openpolicyagent.org/docs/management-decision-logs#decision-log-service-api).
 * Fields are declared in OPA's order and left out when OPA leaves them out (`omitempty`).
 */
import type { DecisionRecord } from '../../contracts/decision-record';
import { stringifyJson } from '../../json-text';

export interface DecisionLogEvent {
  labels: Record<string, string>;
  decision_id: string;
  bundles?: Record<string, { revision?: string }>;
  path?: string;
  input?: unknown;
  result?: unknown;
  erased?: string[];
  masked?: string[];
  error?: { readonly code: string; readonly message: string };
  requested_by?: string;
  timestamp: string;
  metrics?: Record<string, number>;
}

/** What OPA's console logger writes for each event: the event plus its log fields. */
export const DECISION_LOG_MSG = 'Decision Log';
export const DECISION_LOG_TYPE = 'openpolicyagent.org/decision_logs';

/**
 * The event without `metrics` and `error`, which is what OPA hands the drop policy: its
 * `Log` evaluates `drop` before it adds them. `withOutcome` adds them afterwards.
 */
export function eventFromRecord(record: DecisionRecord, labels: Readonly<Record<string, string>>): DecisionLogEvent {
  const event: DecisionLogEvent = { labels: { ...labels }, decision_id: record.decisionId, timestamp: '' };
  const bundles = Object.entries(record.bundles);
  if (bundles.length > 0) {
    event.bundles = Object.fromEntries(bundles.map(([name, b]) => [name, b.revision ? { revision: b.revision } : {}]));
  }
  if (record.path) event.path = record.path;
  if (record.input !== undefined) event.input = record.input;
  if (record.result !== undefined) event.result = record.result;
  if (record.requestedBy) event.requested_by = record.requestedBy;
  event.timestamp = formatTimestamp(record.timestamp);
  return event;
}

/** Adds what OPA adds after the drop policy: the evaluation error and the metrics. */
export function withOutcome(event: DecisionLogEvent, record: DecisionRecord): DecisionLogEvent {
  const out: DecisionLogEvent = { ...event };
  if (record.error) out.error = { code: record.error.code, message: record.error.message };
  if (Object.keys(record.metrics).length > 0) out.metrics = { ...record.metrics };
  return out;
}

const FIELD_ORDER = ['labels', 'decision_id', 'bundles', 'path', 'input', 'result', 'erased', 'masked', 'error', 'requested_by', 'timestamp', 'metrics'] as const;

/** The event with its fields in OPA's order, so serialized events read like OPA's. */
export function inOpaOrder(event: DecisionLogEvent): DecisionLogEvent {
  const ordered: Record<string, unknown> = {};
  for (const key of FIELD_ORDER) {
    const value = event[key];
    if (value !== undefined) ordered[key] = value;
  }
  return ordered as unknown as DecisionLogEvent;
}

/**
 * RFC 3339 in UTC, as Go's `time.Time` marshals it (RFC3339Nano): trailing zeros of the fraction
 * are dropped, and so is the fraction when it is zero.
 */
export function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.(\d*?)0+Z$/, (_, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

/**
 * The console line for one event, as OPA's console logger prints it: the event's fields, then
 * `level`, `msg`, `time` (RFC 3339 to the second, as OPA's logger) and `type`.
 */
export function consoleLine(event: DecisionLogEvent, now: Date): string {
  return stringifyJson({ ...inOpaOrder(event), level: 'info', msg: DECISION_LOG_MSG, time: logTime(now), type: DECISION_LOG_TYPE }) + '\n';
}

/** The `time` of OPA's console log lines: RFC 3339 in UTC, whole seconds. */
export function logTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}
