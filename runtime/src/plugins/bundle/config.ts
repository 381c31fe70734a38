import { isAbsolute, join } from 'node:path';
import type { KeyConfig } from './keys';
import { BundleInitFailure } from '../../../../src/layer-contract';
import { optionalObject, requiredObject } from '../../config/config-values';
import { DEFAULT_SIZE_LIMIT_BYTES } from '../../engine/bundle-archive';
import { ConfigError } from '../../errors';
import type { ServiceConfig } from '../../services/service-config';

/**
 * OPA's `bundles` configuration (https://www.openpolicyagent.org/docs/configuration#bundles),
 * plus one option of this extension, `on_init_failure`.
 *
 * Accepted and ignored, because the scheduler decides when bundles are fetched (a frozen Lambda
 * environment has no time between invocations for timers): `polling`, `trigger`.
 */
export interface BundlePluginConfig {
  readonly bundles: readonly BundleSource[];
  /** `<persistence_directory>/bundles`, where `persist: true` bundles are written. */
  readonly persistenceDirectory: string;
}

export interface BundleSigning {
  /** The key to verify with; when unset, the JWT's `kid` header (then its `keyid` claim) names it. */
  readonly keyId?: string;
  readonly scope?: string;
  /** Glob patterns (Go's `filepath.Match` syntax) of files not covered by the signature. */
  readonly excludeFiles: readonly string[];
  /**
   * A signature is required: true when `signing` is configured for the bundle. When only `keys`
   * exist, OPA verifies signed bundles and still accepts unsigned ones; so does this plugin.
   */
  readonly required: boolean;
}

export interface BundleSource {
  readonly name: string;
  readonly service: string;
  /** Path below the service URL. @default `bundles/<name>` */
  readonly resource: string;
  readonly persist: boolean;
  /** Set when the bundle's signature is verified (with `signing`, or whenever `keys` exist). */
  readonly signing?: BundleSigning;
  /** `size_limit_bytes`: largest file, largest download and largest inflated archive, in bytes. */
  readonly sizeLimitBytes: number;
  readonly onInitFailure: BundleInitFailure;
}

/** The archive reader owns the default, so embedded bundles get the same one. */
export { DEFAULT_SIZE_LIMIT_BYTES };
/**
 * OPA defaults `persistence_directory` to `$PWD/.opa`; in Lambda only `/tmp` is writable. Note that
 * `/tmp` lives as long as one execution environment: to keep bundles across cold starts, point
 * `persistence_directory` at a mounted file system (EFS).
 */
export const DEFAULT_PERSISTENCE_DIRECTORY = '/tmp/opa';
export const DEFAULT_INIT_FAILURE_MODE = BundleInitFailure.FAIL_INIT;

/**
 * Parses `bundles` and `persistence_directory` from the whole OPA configuration. `services` and
 * `keys` are parsed first by their own parsers; a bundle naming an unknown service or key is an
 * error here, with the bundle's name in it.
 */
export function parseBundlePluginConfig(
  opaConfig: Readonly<Record<string, unknown>>,
  services: ReadonlyMap<string, ServiceConfig>,
  keys: ReadonlyMap<string, KeyConfig>,
): BundlePluginConfig | undefined {
  if (opaConfig.bundle !== undefined) {
    throw new ConfigError('bundle (the single-bundle form OPA deprecated) is not supported; use bundles.<name>');
  }
  const persistenceDirectory = parsePersistenceDirectory(opaConfig.persistence_directory);
  const section = opaConfig.bundles;
  if (section === undefined || section === null) return undefined;
  // Not optionalObject: the message says what the object holds.
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ConfigError(`bundles must be an object of named bundles, got ${JSON.stringify(section)}`);
  }
  const bundles: BundleSource[] = [];
  for (const [name, value] of Object.entries(section as Record<string, unknown>)) {
    // OPA skips a bundle configured as null.
    if (value === null) continue;
    bundles.push(parseSource(name, value, services, keys));
  }
  if (bundles.length === 0) return undefined;
  return { bundles, persistenceDirectory: join(persistenceDirectory, 'bundles') };
}

function parsePersistenceDirectory(value: unknown): string {
  if (value === undefined || value === null) return DEFAULT_PERSISTENCE_DIRECTORY;
  if (typeof value !== 'string' || !isAbsolute(value)) {
    throw new ConfigError(`persistence_directory must be an absolute path, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseSource(name: string, value: unknown, services: ReadonlyMap<string, ServiceConfig>, keys: ReadonlyMap<string, KeyConfig>): BundleSource {
  const key = `bundles.${name}`;
  const b = requiredObject(value, key);
  return {
    name,
    service: parseService(key, b.service, services),
    resource: parseResource(key, name, b.resource),
    persist: parseBoolean(`${key}.persist`, b.persist, false),
    signing: parseSigning(key, b.signing, keys),
    sizeLimitBytes: parseSizeLimit(key, b.size_limit_bytes),
    onInitFailure: parseInitFailure(key, b.on_init_failure),
  };
}

function parseService(key: string, value: unknown, services: ReadonlyMap<string, ServiceConfig>): string {
  // As in OPA: without `service`, the first configured service is used.
  if (value === undefined || value === '') {
    const first = services.keys().next();
    if (first.done) throw new ConfigError(`${key}.service is not set and no services are configured`);
    return first.value;
  }
  if (typeof value !== 'string') throw new ConfigError(`${key}.service must be a string, got ${JSON.stringify(value)}`);
  if (!services.has(value)) {
    throw new ConfigError(`${key}.service ${JSON.stringify(value)} is not one of the configured services (${[...services.keys()].join(', ') || 'none'})`);
  }
  return value;
}

function parseResource(key: string, name: string, value: unknown): string {
  if (value === undefined || value === '') return `bundles/${name}`;
  if (typeof value !== 'string') throw new ConfigError(`${key}.resource must be a string, got ${JSON.stringify(value)}`);
  if (value.startsWith('file://')) {
    throw new ConfigError(`${key}.resource ${JSON.stringify(value)}: file:// resources are not supported; embed the bundle in the layer instead`);
  }
  return value;
}

function parseSigning(key: string, value: unknown, keys: ReadonlyMap<string, KeyConfig>): BundleSigning | undefined {
  const s = optionalObject(value, `${key}.signing`);
  if (!s) {
    // OPA verifies every bundle whose tarball is signed as soon as `keys` exist.
    return keys.size > 0 ? { excludeFiles: [], required: false } : undefined;
  }
  const { keyid, scope, exclude_files: excludeFiles = [] } = s;
  if (keyid !== undefined && typeof keyid !== 'string') throw new ConfigError(`${key}.signing.keyid must be a string, got ${JSON.stringify(keyid)}`);
  if (scope !== undefined && typeof scope !== 'string') throw new ConfigError(`${key}.signing.scope must be a string, got ${JSON.stringify(scope)}`);
  if (keyid && !keys.has(keyid)) {
    throw new ConfigError(`${key}.signing.keyid ${JSON.stringify(keyid)} is not one of the configured keys (${[...keys.keys()].join(', ') || 'none'})`);
  }
  if (!Array.isArray(excludeFiles) || excludeFiles.some((f) => typeof f !== 'string')) {
    throw new ConfigError(`${key}.signing.exclude_files must be a list of file patterns, got ${JSON.stringify(excludeFiles)}`);
  }
  return { keyId: keyid || undefined, scope: scope || undefined, excludeFiles: excludeFiles as string[], required: true };
}

function parseSizeLimit(key: string, value: unknown): number {
  if (value === undefined) return DEFAULT_SIZE_LIMIT_BYTES;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ConfigError(`${key}.size_limit_bytes must be a whole number of bytes, got ${JSON.stringify(value)}`);
  }
  // As in OPA: zero or less means the default.
  return value <= 0 ? DEFAULT_SIZE_LIMIT_BYTES : value;
}

function parseInitFailure(key: string, value: unknown): BundleInitFailure {
  if (value === undefined) return DEFAULT_INIT_FAILURE_MODE;
  const modes = Object.values(BundleInitFailure) as string[];
  if (typeof value !== 'string' || !modes.includes(value)) {
    throw new ConfigError(`${key}.on_init_failure must be one of ${modes.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as BundleInitFailure;
}

function parseBoolean(key: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigError(`${key} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}
