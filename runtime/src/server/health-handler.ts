/**
 * OPA's Health API (https://www.openpolicyagent.org/docs/rest-api#health-api): `GET /health` is
 * 200 `{}` once the server answers; with `?plugins` it is 500 `{"error": "not all plugins in OK
 * state"}` until every plugin (but those named by `exclude-plugin`) reports OK.
 */
import { ApiResponse, Handler } from './routes';
import type { PluginStatus } from '../scheduler/plugin';
import { PluginState } from '../scheduler/plugin';

export function healthHandler(pluginStatuses?: () => Record<string, PluginStatus>): Handler {
  return (request): ApiResponse => {
    if (request.query.has('plugins') && pluginStatuses) {
      const excluded = new Set(request.query.getAll('exclude-plugin'));
      const notOk = Object.entries(pluginStatuses()).filter(([name, s]) => !excluded.has(name) && s.state !== PluginState.OK);
      if (notOk.length > 0) return { status: 500, body: { error: 'not all plugins in OK state' } };
    }
    return { status: 200, body: {} };
  };
}
