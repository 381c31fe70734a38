import { Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { OpaSecret } from '../opa-secret';

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

/** What a service's bearer token gives its binding: OPA's `credentials`, and for a secret its variable and grant. */
export type BearerBinding = Pick<ConfigBinding, 'environment' | 'grant'> & { readonly credentials?: Record<string, unknown> };

/** What a secret gives the service that takes its token from it (`OpaSecret._bind`). */
export interface OpaSecretBinding {
  /** OPA's `credentials.bearer.token_from` section. */
  readonly tokenFrom: Record<string, unknown>;
  /** The variable holding the secret's ARN or the parameter's name, to which `tokenFrom` refers as `${NAME}`. */
  readonly environment: Record<string, string>;
  /** Grants exactly what reading it takes. */
  readonly grant: (grantee: iam.IGrantable) => void;
}

/**
 * OPA's `credentials` of `service` for a bearer token written into the layer (`token`), or read
 * by the extension from a secret (`secret`), or none. `where` and `prefix` name the props in
 * the error when both are given (`prefix` is `decisionLogs.` for a reporting target).
 */
export function bearerCredentials(where: string, prefix: string, service: string, token?: string, secret?: OpaSecret): BearerBinding {
  if (token !== undefined && secret !== undefined) {
    throw new Error(`${where}: ${prefix}bearerToken and ${prefix}bearerTokenSecret are both set; give one of them (bearerTokenSecret keeps the token out of the layer)`);
  }
  if (secret) {
    const { tokenFrom, environment, grant } = secret._bind(where, service);
    return { credentials: { bearer: { token_from: tokenFrom } }, environment, grant };
  }
  return { credentials: token ? { bearer: { token } } : undefined };
}

/** Fails unless `url` starts with http:// or https://; a deploy-time value is not checked. */
export function checkHttpUrl(where: string, name: string, url: string): void {
  if (!Token.isUnresolved(url) && !/^https?:\/\//.test(url)) {
    throw new Error(`${where}: ${name} must start with http:// or https://, got ${JSON.stringify(url)}`);
  }
}
