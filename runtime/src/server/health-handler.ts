/**
 * OPA's Health API (https://www.openpolicyagent.org/docs/rest-api#health-api): `GET /health` is
 * 200 `{}` once the server answers; with `?bundles` it is 500 until every configured bundle is
 * active, with `?plugins` 500 until every plugin (but those named by `exclude-plugin`) reports OK.
 * Bodies and order of checks as OPA's `unversionedGetHealth`.
 */
import { boolParam } from './query-flags';
import { ApiResponse, Handler } from './routes';
import type { PluginStatus } from '../contracts/plugin';
import { PluginState } from '../contracts/plugin';

export interface HealthSources {
  /** The plugins' states. @default - no plugins (always healthy) */
  readonly pluginStatuses?: () => Record<string, PluginStatus>;
  /** True once every configured bundle is active. @default - no bundles (always true) */
  readonly bundlesActivated?: () => boolean;
}

export function healthHandler(sources: HealthSources = {}): Handler {
  return (request): ApiResponse => {
    if (boolParam(request.query, 'bundles') && sources.bundlesActivated && !sources.bundlesActivated()) {
      return { status: 500, body: { error: 'one or more bundles are not activated' } };
    }
    if (boolParam(request.query, 'plugins') && sources.pluginStatuses) {
      const excluded = new Set(request.query.getAll('exclude-plugin'));
      const notOk = Object.entries(sources.pluginStatuses()).some(([name, s]) => !excluded.has(name) && s.state !== PluginState.OK);
      if (notOk) return { status: 500, body: { error: 'one or more plugins are not up' } };
    }
    return { status: 200, body: {} };
  };
}
