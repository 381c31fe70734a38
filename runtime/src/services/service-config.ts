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
  readonly credentials?: BearerCredentials | S3SigningCredentials;
}

export interface BearerCredentials {
  readonly type: 'bearer';
  /** The token itself, or a file holding it (read at each request, so it can rotate). */
  readonly token?: string;
  readonly tokenPath?: string;
  /** @default 'Bearer' */
  readonly scheme: string;
}

export interface S3SigningCredentials {
  readonly type: 's3_signing';
  /** Only `environment_credentials` are supported: the ones Lambda gives every extension. */
  readonly source: 'environment';
  /** The AWS service to sign for. @default 's3' */
  readonly service: string;
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
  const s = object(raw, key);
  if (typeof s.url !== 'string' || !/^https?:\/\//.test(s.url)) {
    throw new ConfigError(`${key}.url must be an http(s) URL, got ${JSON.stringify(s.url)}`);
  }
  const headers = s.headers === undefined ? {} : object(s.headers, `${key}.headers`);
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
    credentials: s.credentials === undefined ? undefined : parseCredentials(object(s.credentials, `${key}.credentials`), `${key}.credentials`),
  };
}

function parseCredentials(c: Record<string, unknown>, key: string): BearerCredentials | S3SigningCredentials | undefined {
  const kinds = Object.keys(c);
  if (kinds.length > 1) throw new ConfigError(`${key} must hold one kind of credentials, got ${kinds.join(', ')}`);
  if (c.bearer !== undefined) {
    const b = object(c.bearer, `${key}.bearer`);
    const { token, token_path: tokenPath, scheme = 'Bearer' } = b;
    if (token !== undefined && typeof token !== 'string') throw new ConfigError(`${key}.bearer.token must be a string`);
    if (tokenPath !== undefined && typeof tokenPath !== 'string') throw new ConfigError(`${key}.bearer.token_path must be a string, got ${JSON.stringify(tokenPath)}`);
    if (token === undefined && tokenPath === undefined) throw new ConfigError(`${key}.bearer needs token or token_path`);
    if (typeof scheme !== 'string' || !scheme) throw new ConfigError(`${key}.bearer.scheme must be a non-empty string, got ${JSON.stringify(scheme)}`);
    return { type: 'bearer', token: token as string | undefined, tokenPath: tokenPath as string | undefined, scheme };
  }
  if (c.s3_signing !== undefined) {
    const s = object(c.s3_signing, `${key}.s3_signing`);
    if (s.environment_credentials === undefined) {
      const given = Object.keys(s).filter((k) => k !== 'service');
      throw new ConfigError(`${key}.s3_signing supports environment_credentials (the credentials Lambda gives the extension), got ${given.join(', ') || 'none'}`);
    }
    const service = s.service ?? 's3';
    if (typeof service !== 'string' || !service) throw new ConfigError(`${key}.s3_signing.service must be a non-empty string, got ${JSON.stringify(service)}`);
    return { type: 's3_signing', source: 'environment', service };
  }
  if (kinds.length === 0) return undefined;
  throw new ConfigError(`${key}.${kinds[0]} is not supported; use bearer or s3_signing`);
}

function object(value: unknown, key: string): Record<string, unknown> {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${key} must be an object, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}
