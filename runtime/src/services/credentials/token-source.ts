/**
 * `credentials.bearer.token_from`: a bearer token kept in AWS Secrets Manager or SSM Parameter
 * Store instead of the configuration, read by the extension with the function's credentials.
 * This file only parses the section; the reading lives in `secret-token.ts`, which is imported
 * (and evaluated) only when a configuration uses `token_from`.
 *
 * ```json
 * { "bearer": { "token_from": { "secrets_manager": { "secret_id": "${OPA_TOKEN_SECRET}", "json_field": "token" } } } }
 * { "bearer": { "scheme": "Token", "token_from": { "ssm_parameter": { "name": "/opa/bundle-token" } } } }
 * ```
 */
import { requiredObject } from '../../config/config-values';
import type { AwsEndpointService } from '../../config/env';
import { ConfigError } from '../../errors';

/** Where a token is read; `key` is the config key of the source's section, for messages. */
export type TokenSource =
  /** A secret's `SecretString`, or one string field of it when it holds a JSON object. */
  | { readonly kind: 'secrets_manager'; readonly key: string; readonly secretId: string; readonly jsonField?: string }
  /** A parameter's value, decrypted (a `SecureString`). */
  | { readonly kind: 'ssm_parameter'; readonly key: string; readonly name: string };

export const SECRETS_MANAGER: AwsEndpointService = { name: 'AWS Secrets Manager', envId: 'SECRETS_MANAGER', endpointPrefix: 'secretsmanager' };
export const SSM: AwsEndpointService = { name: 'AWS Systems Manager', envId: 'SSM', endpointPrefix: 'ssm' };

/** Each kind of source: its AWS service and the keys its section takes (the first is required). */
const SOURCES = {
  secrets_manager: { service: SECRETS_MANAGER, keys: ['secret_id', 'json_field'] },
  ssm_parameter: { service: SSM, keys: ['name'] },
} as const;

export type TokenSourceKind = keyof typeof SOURCES;

/** The AWS service a source reads from. */
export function tokenSourceService(source: TokenSource): AwsEndpointService {
  return SOURCES[source.kind].service;
}

/**
 * Parses `token_from` (at `key`). Unknown keys are refused rather than ignored, as a misspelt
 * `secretId` would otherwise read nothing and fail far from its cause.
 */
export function parseTokenSource(raw: unknown, key: string): TokenSource {
  const section = requiredObject(raw, key);
  const kinds = Object.keys(section);
  const names = Object.keys(SOURCES).join(' or ');
  if (kinds.length !== 1 || !(kinds[0] in SOURCES)) {
    throw new ConfigError(`${key} must hold one of ${names}, got ${kinds.join(', ') || 'none'}`);
  }
  const kind = kinds[0] as TokenSourceKind;
  const at = `${key}.${kind}`;
  const s = requiredObject(section[kind], at);
  const allowed: readonly string[] = SOURCES[kind].keys;
  const unknown = Object.keys(s).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new ConfigError(`${at} does not take ${unknown.join(', ')}; it takes ${allowed.join(', ')}`);
  const required = allowed[0];
  const id = nonEmptyString(s[required], `${at}.${required}`);
  if (kind === 'ssm_parameter') return { kind, key: at, name: id };
  const jsonField = s.json_field === undefined ? undefined : nonEmptyString(s.json_field, `${at}.json_field`);
  return { kind, key: at, secretId: id, jsonField };
}

function nonEmptyString(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') {
    // An empty value is most often a `${NAME}` whose variable is not set in the function's environment.
    const hint = value === '' ? ' (is the variable it refers to set in the function\'s environment?)' : '';
    throw new ConfigError(`${key} must be a non-empty string, got ${JSON.stringify(value)}${hint}`);
  }
  return value;
}
