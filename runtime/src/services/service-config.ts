import type { ServiceCredentials } from './credentials/credentials-strategy';
import { CREDENTIALS_STRATEGIES, findCredentialsStrategy } from './credentials/registry';
import { optionalObject, requiredObject } from '../config/config-values';
import { ConfigError } from '../errors';

/**
 * OPA's `services` configuration (https://www.openpolicyagent.org/docs/configuration#services):
 * the remote endpoints that the bundle, decision_logs and status plugins talk to.
 */
export interface ServiceConfig {
  readonly name: string;
  /** Base URL, without a trailing slash. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** How long to wait for response headers once the request is sent. */
  readonly responseHeaderTimeoutMs: number;
  /** The parsed section of the one kind of credentials configured, if any. */
  readonly credentials?: ServiceCredentials;
}

/** OPA's default for `response_header_timeout_seconds`. */
export const DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS = 10;

/** Parses `services`, which OPA accepts as a map by name or as a list of objects with `name`. */
export function parseServices(raw: unknown): Map<string, ServiceConfig> {
  const out = new Map<string, ServiceConfig>();
  if (raw === undefined || raw === null) return out;
  let entries: Array<[string, unknown]>;
  if (Array.isArray(raw)) {
    entries = raw.map((s, i) => {
      const name = (s as { name?: unknown } | null)?.name;
      if (typeof name !== 'string' || !name) throw new ConfigError(`services[${i}].name must be a non-empty string, got ${JSON.stringify(name)}`);
      return [name, s];
    });
  } else if (typeof raw === 'object') {
    entries = Object.entries(raw as Record<string, unknown>);
  } else {
    throw new ConfigError(`services must be an object or a list, got ${JSON.stringify(raw)}`);
  }
  for (const [name, value] of entries) {
    if (out.has(name)) throw new ConfigError(`services: two services are named ${JSON.stringify(name)}`);
    out.set(name, parseService(name, value));
  }
  return out;
}

function parseService(name: string, raw: unknown): ServiceConfig {
  const key = `services.${name}`;
  const s = requiredObject(raw, key);
  if (typeof s.url !== 'string' || !/^https?:\/\//.test(s.url)) {
    throw new ConfigError(`${key}.url must be an http(s) URL, got ${JSON.stringify(s.url)}`);
  }
  const headers = optionalObject(s.headers, `${key}.headers`) ?? {};
  for (const [h, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw new ConfigError(`${key}.headers.${h} must be a string, got ${JSON.stringify(v)}`);
  }
  const timeout = s.response_header_timeout_seconds ?? DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new ConfigError(`${key}.response_header_timeout_seconds must be a number of seconds > 0, got ${JSON.stringify(timeout)}`);
  }
  return {
    name,
    url: s.url.replace(/\/+$/, ''),
    headers: headers as Record<string, string>,
    responseHeaderTimeoutMs: timeout * 1000,
    credentials: parseCredentials(s.credentials, `${key}.credentials`),
  };
}

/** Picks the strategy whose key is present (one kind at most) and lets it parse its section. */
function parseCredentials(raw: unknown, key: string): ServiceCredentials | undefined {
  const c = optionalObject(raw, key) ?? {};
  const kinds = Object.keys(c);
  if (kinds.length > 1) throw new ConfigError(`${key} must hold one kind of credentials, got ${kinds.join(', ')}`);
  if (kinds.length === 0) return undefined;
  const [kind] = kinds;
  const strategy = findCredentialsStrategy(kind);
  if (!strategy) throw new ConfigError(`${key}.${kind} is not supported; use ${CREDENTIALS_STRATEGIES.map((s) => s.key).join(' or ')}`);
  return strategy.parse(requiredObject(c[kind], `${key}.${kind}`), `${key}.${kind}`);
}
