/**
 * OPA's status update (`UpdateRequestV1` in `v1/plugins/status/plugin.go`; fields documented at
 * https://www.openpolicyagent.org/docs/management-status#status-service-api), in OPA's field
 * order, with empty parts left out as OPA leaves them out (`omitempty`).
 */
import type { PluginStatus } from '../../contracts/plugin';
import { logTime } from '../decision-logs/decision-log-event';

export interface StatusPayload {
  readonly labels: Readonly<Record<string, string>>;
  /** By bundle name, as the bundle plugin reports them (`active_revision`, `last_request`, ...). */
  readonly bundles?: Readonly<Record<string, unknown>>;
  /** The decision log plugin's upload outcome (`code`, `message`, `http_code`). */
  readonly decision_logs?: Readonly<Record<string, unknown>>;
  /** OPA's global metrics are named `prometheus`; counters carry a `counter_` prefix. */
  readonly metrics?: { readonly prometheus: Readonly<Record<string, number>> };
  readonly plugins?: Readonly<Record<string, { readonly state: string; readonly message?: string }>>;
}

/** Where each part of a report comes from; every provider is read at the time of the report. */
export interface StatusSources {
  /** The configured labels plus `id` and `version`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly bundles?: () => Readonly<Record<string, unknown>>;
  readonly plugins?: () => Readonly<Record<string, PluginStatus>>;
  readonly decisionLogs?: () => Readonly<Record<string, unknown>> | undefined;
  readonly metrics?: () => Readonly<Record<string, number>>;
}

export const STATUS_LOG_MSG = 'Status Log';
export const STATUS_LOG_TYPE = 'openpolicyagent.org/status';

export function buildStatusPayload(sources: StatusSources): StatusPayload {
  const bundles = sources.bundles?.();
  const decisionLogs = sources.decisionLogs?.();
  const metrics = sources.metrics?.();
  const plugins = sources.plugins?.();
  return {
    labels: { ...sources.labels },
    ...(bundles && Object.keys(bundles).length > 0 && { bundles }),
    ...(decisionLogs && { decision_logs: decisionLogs }),
    ...(metrics && Object.keys(metrics).length > 0 && { metrics: { prometheus: { ...metrics } } }),
    ...(plugins && Object.keys(plugins).length > 0 && {
      plugins: Object.fromEntries(Object.entries(plugins).map(([name, s]) => [name, pluginEntry(s)])),
    }),
  };
}

/** OPA's `plugins.Status`: `message` only when there is one. */
function pluginEntry(s: PluginStatus): { state: string; message?: string } {
  return s.message ? { state: s.state, message: s.message } : { state: s.state };
}

/**
 * What "something changed" compares: everything but the metrics, which move with every decision
 * and ride along with the reports that state changes cause.
 */
export function changeKey(payload: StatusPayload): string {
  const { metrics: _metrics, ...rest } = payload;
  return JSON.stringify(rest);
}

/** The console line, as OPA's console logger prints a status update. */
export function statusConsoleLine(payload: StatusPayload, now: Date): string {
  return JSON.stringify({ ...payload, level: 'info', msg: STATUS_LOG_MSG, time: logTime(now), type: STATUS_LOG_TYPE }) + '\n';
}
