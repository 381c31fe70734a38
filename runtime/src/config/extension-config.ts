import { optionalObject } from './config-values';
import { DEFAULT_DECISION, DEFAULT_PORT, LAMBDA_RUNTIME_API_PORT, SCHEDULER_CONFIG_KEY } from '../../../src/layer-contract';
import { ConfigError } from '../errors';

/**
 * The parts of OPA's configuration the extension itself uses. The scheduler and the plugins parse
 * their own sections: the scheduler `plugins.lambda_extension`, each plugin's factory its section
 * of `opaConfig`.
 */
export interface ExtensionConfig {
  /** Port of the OPA REST API on 127.0.0.1 (`plugins.lambda_extension.port`). */
  readonly port: number;
  /** Path of the default decision answered at `POST /`, without a leading slash. */
  readonly defaultDecision: string;
  readonly labels: Readonly<Record<string, string>>;
  /** OPA's `server.decoding` and `server.encoding` limits; absent keys keep the server's defaults. */
  readonly server: ServerLimits;
  /** The `plugins.lambda_extension` section, for the scheduler's own parser. */
  readonly lambdaExtension: unknown;
  /** The whole configuration, for plugins that parse their own section. */
  readonly opaConfig: Readonly<Record<string, unknown>>;
}

/** The subset of OPA's `server` configuration the extension honours (sizes in bytes). */
export interface ServerLimits {
  /** `server.decoding.max_length`: largest request body. */
  readonly maxBodyBytes?: number;
  /** `server.decoding.gzip.max_length`: largest gzip request body once inflated. */
  readonly maxDecompressedBodyBytes?: number;
  /** `server.encoding.gzip.min_length`: shortest response that is gzipped. */
  readonly gzipMinLength?: number;
}

/** Parses the whole OPA configuration, as `readConfigFile` returns it. */
export function parseExtensionConfig(opaConfig: Record<string, unknown>): ExtensionConfig {
  const plugins = optionalObject(opaConfig.plugins, 'plugins') ?? {};
  const lambdaExtension = optionalObject(plugins[SCHEDULER_CONFIG_KEY], `plugins.${SCHEDULER_CONFIG_KEY}`);
  return {
    port: parsePort(lambdaExtension?.port),
    defaultDecision: parseDefaultDecision(opaConfig.default_decision),
    labels: parseLabels(opaConfig.labels),
    server: parseServerLimits(opaConfig.server),
    lambdaExtension,
    opaConfig,
  };
}

function parsePort(value: unknown): number {
  if (value === undefined) return DEFAULT_PORT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ConfigError(`plugins.${SCHEDULER_CONFIG_KEY}.port must be a whole number from 1 to 65535, got ${JSON.stringify(value)}`);
  }
  if (value === LAMBDA_RUNTIME_API_PORT) {
    throw new ConfigError(`plugins.${SCHEDULER_CONFIG_KEY}.port ${value} is reserved by the Lambda Runtime API`);
  }
  return value;
}

function parseDefaultDecision(value: unknown): string {
  const decision = value === undefined ? DEFAULT_DECISION : value;
  if (typeof decision !== 'string' || decision.replace(/^\/+/, '') === '') {
    throw new ConfigError(`default_decision must be a path such as "/system/main", got ${JSON.stringify(value)}`);
  }
  return decision.replace(/^\/+/, '');
}

function parseServerLimits(value: unknown): ServerLimits {
  const server = optionalObject(value, 'server') ?? {};
  const decoding = optionalObject(server.decoding, 'server.decoding') ?? {};
  const decodingGzip = optionalObject(decoding.gzip, 'server.decoding.gzip') ?? {};
  const encoding = optionalObject(server.encoding, 'server.encoding') ?? {};
  const encodingGzip = optionalObject(encoding.gzip, 'server.encoding.gzip') ?? {};
  return {
    maxBodyBytes: positiveInteger(decoding.max_length, 'server.decoding.max_length'),
    maxDecompressedBodyBytes: positiveInteger(decodingGzip.max_length, 'server.decoding.gzip.max_length'),
    gzipMinLength: positiveInteger(encodingGzip.min_length, 'server.encoding.gzip.min_length'),
  };
}

function positiveInteger(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${key} must be a positive whole number of bytes, got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseLabels(value: unknown): Record<string, string> {
  const labels = optionalObject(value, 'labels') ?? {};
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string') throw new ConfigError(`labels.${k} must be a string, got ${JSON.stringify(v)}`);
  }
  return labels as Record<string, string>;
}
