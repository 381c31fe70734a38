/**
 * The only code that reads `process.env`. Every variable the extension understands is read here
 * through a typed getter with its default, so the rest of the runtime takes plain values.
 */
import * as path from 'node:path';
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
    return this.env[ENV.CONFIG_FILE] || path.join(RUNTIME_DIR, LAYER_LAYOUT.CONFIG_FILE);
  }

  /** The folder of bundles embedded in the layer at synth time, one `<name>.tar.gz` each, beside the config file. */
  public embeddedBundlesDir(): string {
    return path.join(path.dirname(this.configFile()), LAYER_LAYOUT.BUNDLES_DIR);
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

  /** Values for `${NAME}` references in the configuration file. */
  public variable(name: string): string | undefined {
    return this.env[name];
  }
}
