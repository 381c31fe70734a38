import { requiredObject } from '../../config/config-values';
import { ConfigError } from '../../errors';

/**
 * OPA's top-level `keys` (https://www.openpolicyagent.org/docs/configuration#keys): named keys
 * that verify bundle signatures. `key` is a PEM public key (or certificate) for the RSA/ECDSA
 * algorithms and the shared secret itself for the HMAC ones; `private_key` is what `opa build`
 * signs with and is accepted here only so an existing OPA config parses.
 */
export interface KeyConfig {
  readonly name: string;
  /** @default 'RS256' */
  readonly algorithm: SigningAlgorithm;
  /** The verification key: PEM for RS/PS/ES algorithms, the secret for HS algorithms. */
  readonly key?: string;
  readonly privateKey?: string;
  /** Scope a bundle's signature must carry, unless the bundle's `signing.scope` overrides it. */
  readonly scope?: string;
}

/** The algorithms OPA lists for `keys[_].algorithm`. */
export const SIGNING_ALGORITHMS = [
  'ES256', 'ES384', 'ES512',
  'HS256', 'HS384', 'HS512',
  'PS256', 'PS384', 'PS512',
  'RS256', 'RS384', 'RS512',
] as const;
export type SigningAlgorithm = typeof SIGNING_ALGORITHMS[number];

/** OPA's default for `keys[_].algorithm`. */
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = 'RS256';

/** Parses the `keys` section. */
export function parseKeys(section: unknown): Map<string, KeyConfig> {
  const out = new Map<string, KeyConfig>();
  if (section === undefined || section === null) return out;
  // Not optionalObject: the message says what the object holds.
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ConfigError(`keys must be an object of named keys, got ${JSON.stringify(section)}`);
  }
  for (const [name, value] of Object.entries(section as Record<string, unknown>)) {
    out.set(name, parseKey(name, value));
  }
  return out;
}

function parseKey(name: string, value: unknown): KeyConfig {
  const key = `keys.${name}`;
  const k = requiredObject(value, key);
  const algorithm = k.algorithm ?? DEFAULT_SIGNING_ALGORITHM;
  if (typeof algorithm !== 'string' || !(SIGNING_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new ConfigError(`${key}.algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}, got ${JSON.stringify(algorithm)}`);
  }
  for (const field of ['key', 'private_key', 'scope'] as const) {
    if (k[field] !== undefined && typeof k[field] !== 'string') {
      throw new ConfigError(`${key}.${field} must be a string`);
    }
  }
  if (k.key === undefined && k.private_key === undefined) {
    throw new ConfigError(`${key} needs key (or private_key)`);
  }
  return {
    name,
    algorithm: algorithm as SigningAlgorithm,
    key: k.key as string | undefined,
    privateKey: k.private_key as string | undefined,
    scope: k.scope as string | undefined,
  };
}
