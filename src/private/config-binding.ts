import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * What a bundle source (`OpaBundle._bind`) or a reporting target (`bindReporting`) contributes to
 * the layer's OPA config and to every function that uses the layer. `buildOpaConfig` puts the
 * config together; the layer gives each function the environment and the grants.
 */
export interface ConfigBinding {
  /** OPA `services` entries, by service name. */
  readonly services?: Record<string, unknown>;
  /**
   * Its part of its plugin's section of the OPA config, keyed as at the top of the config:
   * `{ bundles: { <name>: {...} } }` for a bundle, `{ decision_logs: {...} }` for decision logs.
   */
  readonly pluginConfig?: Record<string, unknown>;
  /**
   * Environment variables for every function with the layer. The layer's config is written at
   * synth time and cannot hold CloudFormation values (a bucket name, a URL from another stack),
   * so it refers to them as `${NAME}` and the function's environment supplies them.
   */
  readonly environment?: Record<string, string>;
  /**
   * Grants a function's role what the extension needs (to fetch a bundle, say), on exactly the
   * resources it reads. Return the `iam.Grant`: `OpaExtensionLayer.grantRead` combines them.
   */
  readonly grant?: (grantee: iam.IGrantable) => iam.Grant | void;
}

/** An environment variable name derived from a bundle or service name: `OPA_<PART>_<SUFFIX>`. */
export function envName(part: string, suffix: string): string {
  return `OPA_${part.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${suffix}`;
}

/**
 * An OPA service whose URL the config reads as `${<urlVariable>}` from the function's environment,
 * which gets `url`: a deploy-time URL cannot be written into the layer.
 */
export function serviceFromEnvironment(service: string, urlVariable: string, url: string, credentials?: Record<string, unknown>):
Required<Pick<ConfigBinding, 'services' | 'environment'>> {
  return {
    services: { [service]: { url: `\${${urlVariable}}`, ...(credentials ? { credentials } : {}) } },
    environment: { [urlVariable]: url },
  };
}

/** OPA's `credentials` for a bearer token, or none without a token. */
export function bearerCredentials(token?: string): Record<string, unknown> | undefined {
  return token ? { bearer: { token } } : undefined;
}

/** Fails unless `url` starts with http:// or https://; a deploy-time value is not checked. */
export function checkHttpUrl(where: string, name: string, url: string): void {
  if (!Token.isUnresolved(url) && !/^https?:\/\//.test(url)) {
    throw new Error(`${where}: ${name} must start with http:// or https://, got ${JSON.stringify(url)}`);
  }
}
