/**
 * The only code that reads `process.env`. Every variable the extension understands is read here
 * through a typed getter with its default, so the rest of the runtime takes plain values.
 */
import { dirname, join } from 'node:path';
import { ENV, LAYER_LAYOUT } from '../../../src/layer-contract';
import { ConfigError } from '../errors';
import type { LogLevel } from '../logger';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The bundled runtime sits in the layer's runtime folder, beside its config and bundles. */
const RUNTIME_DIR = __dirname;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The credentials and region Lambda gives every extension (the function's execution role). */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly region: string;
}

/** An AWS service as the AWS SDKs name it in endpoint variables and hostnames. */
export interface AwsEndpointService {
  /** For messages, e.g. `AWS Secrets Manager`. */
  readonly name: string;
  /** The service's part of `AWS_ENDPOINT_URL_<SERVICE>`, e.g. `SECRETS_MANAGER`. */
  readonly envId: string;
  /** The first label of its regional hostname, e.g. `secretsmanager`. */
  readonly endpointPrefix: string;
}

export class ExtensionEnvironment {
  public constructor(private readonly env: Environment = process.env) {}

  /** `host:port` of the Lambda Extensions API, which Lambda gives every extension. */
  public runtimeApi(): string {
    const value = this.env.AWS_LAMBDA_RUNTIME_API;
    if (!value) throw new ConfigError('AWS_LAMBDA_RUNTIME_API is not set: the extension must run inside Lambda (or the emulator)');
    return value;
  }

  /** The name to register with; the launcher sets it to its own file name, as Lambda requires. */
  public extensionName(): string {
    return this.env[ENV.EXTENSION_NAME] || LAYER_LAYOUT.LAUNCHER_NAME;
  }

  /** The OPA configuration file (JSON, or YAML by extension). */
  public configFile(): string {
    return this.env[ENV.CONFIG_FILE] || join(RUNTIME_DIR, LAYER_LAYOUT.CONFIG_FILE);
  }

  /** The folder of bundles embedded in the layer at synth time, one `<name>.tar.gz` each, beside the config file. */
  public embeddedBundlesDir(): string {
    return join(dirname(this.configFile()), LAYER_LAYOUT.BUNDLES_DIR);
  }

  public logLevel(): LogLevel {
    const value = (this.env[ENV.LOG_LEVEL] || 'info').toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(value)) {
      throw new ConfigError(`${ENV.LOG_LEVEL} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(this.env[ENV.LOG_LEVEL])}`);
    }
    return value as LogLevel;
  }

  /**
   * Read at each use rather than once: Lambda may hand a long-lived environment refreshed values.
   * A missing key is a configuration error of the service that needs it.
   */
  public awsCredentials(): AwsCredentials {
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION } = this.env;
    if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
      throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: s3_signing.environment_credentials needs them');
    }
    const region = AWS_REGION || AWS_DEFAULT_REGION;
    if (!region) throw new ConfigError('AWS_REGION is not set: s3_signing.environment_credentials needs it');
    return { accessKeyId: AWS_ACCESS_KEY_ID, secretAccessKey: AWS_SECRET_ACCESS_KEY, sessionToken: AWS_SESSION_TOKEN || undefined, region };
  }

  /**
   * The base URL of an AWS service the extension calls itself (Secrets Manager, SSM), found as the
   * AWS SDKs find it (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html):
   * `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL` (both ignored when
   * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`), else the service's regional endpoint.
   */
  public awsEndpoint(service: AwsEndpointService): string {
    const ignore = (this.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true';
    for (const name of ignore ? [] : [`AWS_ENDPOINT_URL_${service.envId}`, 'AWS_ENDPOINT_URL']) {
      const value = this.env[name];
      if (!value) continue;
      if (!/^https?:\/\/[^/]/.test(value)) throw new ConfigError(`${name} must be an http(s) URL, got ${JSON.stringify(value)}`);
      return value.replace(/\/+$/, '');
    }
    const region = this.env.AWS_REGION || this.env.AWS_DEFAULT_REGION;
    if (!region) throw new ConfigError(`AWS_REGION is not set: ${service.name} needs it`);
    if (!/^[a-z0-9-]+$/.test(region)) throw new ConfigError(`AWS_REGION must be a region name, got ${JSON.stringify(region)}`);
    // The China partition's domain; other partitions' endpoints are set through the variables above.
    const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return `https://${service.endpointPrefix}.${region}.${domain}`;
  }

  /** Values for `${NAME}` references in the configuration file. */
  public variable(name: string): string | undefined {
    return this.env[name];
  }
}
