import * as iam from 'aws-cdk-lib/aws-iam';

/** What a bundle source contributes to the layer and to every function that uses it. */
export interface OpaBundleBinding {
  /** The bundle's name. */
  readonly name: string;
  /** An OPA bundle archive to copy into the layer as `opa-extension/bundles/<name>.tar.gz`. */
  readonly embeddedFile?: string;
  /** OPA `services` entries the bundle needs, by service name. */
  readonly services?: Record<string, unknown>;
  /** The OPA `bundles.<name>` entry. */
  readonly bundle?: Record<string, unknown>;
  /**
   * Environment variables for every function with the layer. The layer's config is written at
   * synth time and cannot hold CloudFormation values (a bucket name, a URL from another stack),
   * so it refers to them as `${NAME}` and the function's environment supplies them.
   */
  readonly environment?: Record<string, string>;
  /** Grants the function's role what the extension needs to fetch the bundle. */
  readonly grant?: (grantee: iam.IGrantable) => void;
}

/** An environment variable name derived from a bundle or service name: `OPA_<PART>_<SUFFIX>`. */
export function envName(part: string, suffix: string): string {
  return `OPA_${part.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${suffix}`;
}
