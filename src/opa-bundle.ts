import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BundleInitFailure } from './layer-contract';
import type { OpaSecret } from './opa-secret';
import { BundleBindContext, OpaBundleBinding } from './private/bundle-binding';
import { buildRegoBundle, packBundleDirectory } from './private/bundle-sources';
import { bearerCredentials, checkHttpUrl, envName, serviceFromEnvironment } from './private/config-binding';
import { grantReadObject } from './private/grants';

/** Options for `OpaBundle.fromAsset`. */
export interface OpaBundleAssetOptions {
  /**
   * The bundle's name, as OPA reports it (in `provenance`, decision logs and status).
   * Letters, digits, `.`, `_` and `-`.
   *
   * @default - the file name without `.tar.gz` (or `.tgz`), or the directory's name
   */
  readonly name?: string;
}

/** Options for `OpaBundle.fromRego`. */
export interface OpaRegoBundleOptions {
  /**
   * The rules functions ask for, as slash paths (`app/authz/allow`); one `opa build -e` each. A
   * Wasm policy answers only its entrypoints and the paths below them.
   */
  readonly entrypoints: string[];

  /**
   * The bundle's name, as OPA reports it. Letters, digits, `.`, `_` and `-`.
   *
   * @default - the directory's name
   */
  readonly name?: string;

  /**
   * The OPA CLI that compiles the Rego (`opa build`): a path, or a command name looked up on PATH.
   *
   * @default - `opa` found on the PATH of the synth
   */
  readonly opaBinary?: string;

  /**
   * The bundle's revision (`opa build --revision`), reported in decision logs and status.
   *
   * @default - the `.manifest`'s revision in the directory, if any
   */
  readonly revision?: string;
}

/** Options for bundles the extension downloads (`OpaBundle.fromBucket`, `OpaBundle.fromUrl`). */
export interface OpaRemoteBundleOptions {
  /**
   * The bundle's name, as OPA reports it. Letters, digits, `.`, `_` and `-`.
   *
   * @default - the last path segment of the key or resource, without `.tar.gz`
   */
  readonly name?: string;

  /**
   * Keep the last activated bundle under OPA's `persistence_directory` (in `/tmp`) and serve it
   * at init when the service cannot be reached (OPA's `persist`).
   *
   * @default false
   */
  readonly persist?: boolean;

  /**
   * What happens when the bundle cannot be fetched during init.
   *
   * @default BundleInitFailure.FAIL_INIT
   */
  readonly onInitFailure?: BundleInitFailure;
}

/** Options for `OpaBundle.fromUrl`. */
export interface OpaUrlBundleOptions extends OpaRemoteBundleOptions {
  /**
   * A bearer token sent as `Authorization: Bearer <token>`. The value is written into the layer:
   * prefer `bearerTokenSecret`, which keeps the token in Secrets Manager or SSM; at least put a
   * reference to an environment variable of the function here (`'${BUNDLE_TOKEN}'`) rather than
   * the token itself. Not together with `bearerTokenSecret`.
   *
   * @default - no Authorization header
   */
  readonly bearerToken?: string;

  /**
   * A bearer token kept in Secrets Manager or an SSM `SecureString` parameter, read by the
   * extension during init with the function's role (which is granted reading that secret only),
   * and read again once when the bundle server answers 401 or 403 (rotation). Not together with
   * `bearerToken`.
   *
   * @default - no token from a secret
   */
  readonly bearerTokenSecret?: OpaSecret;
}

/**
 * Where the extension gets a policy bundle: an OPA bundle (`.tar.gz`) built with
 * `opa build -t wasm -e <entrypoint> ...`.
 */
export abstract class OpaBundle {
  /**
   * A bundle on disk, embedded in the layer at synth time. The extension activates it before
   * Lambda starts the function's init, so the first decision needs no network.
   *
   * A directory is packed into a bundle at synth: its `policy.wasm`, its data files
   * (`data.json`, `data.yaml`, at any depth, each mounted at its directory), its `.manifest` and
   * its Rego sources; other files are left out, as OPA leaves them. The same contents always give
   * the same archive, so an unchanged policy does not publish a new layer version.
   *
   * The bundle is checked at synth with the engine the extension runs: see `OpaExtensionLayer`.
   *
   * @param bundlePath a bundle archive (`.tar.gz`) made by `opa build -t wasm`, or a directory
   * holding a bundle's files
   */
  public static fromAsset(bundlePath: string, options: OpaBundleAssetOptions = {}): OpaBundle {
    return new AssetBundle(bundlePath, options);
  }

  /**
   * Rego sources compiled to a Wasm bundle at synth time with `opa build -t wasm -b <directory>`,
   * and embedded in the layer. It needs the OPA CLI (`opaBinary`, or `opa` on PATH); synth fails
   * with how to install it when there is none. The same sources always give the same bundle.
   *
   * @param directory the folder of Rego modules (and data files, and an optional `.manifest`)
   */
  public static fromRego(directory: string, options: OpaRegoBundleOptions): OpaBundle {
    return new RegoBundle(directory, options);
  }

  /**
   * A bundle in an S3 bucket, downloaded by the extension at init and refreshed on the scheduler's
   * triggers. Requests are signed with the function's role (Lambda gives the extension its
   * credentials), and the role is granted `s3:GetObject` on the key.
   *
   * @param bucket the bucket holding the bundle
   * @param key the object key of the bundle (`.tar.gz` built with `opa build -t wasm`)
   */
  public static fromBucket(bucket: s3.IBucket, key: string, options: OpaRemoteBundleOptions = {}): OpaBundle {
    return new BucketBundle(bucket, key, options);
  }

  /**
   * A bundle served by an OPA bundle server (an nginx, OPAL, Styra DAS...), downloaded with
   * `If-None-Match` so that unchanged bundles are not downloaded again.
   *
   * @param url the service's base URL, e.g. `https://bundles.example.com`
   * @param resource the bundle's path below the URL, e.g. `bundles/authz.tar.gz`
   */
  public static fromUrl(url: string, resource: string, options: OpaUrlBundleOptions = {}): OpaBundle {
    return new UrlBundle(url, resource, options);
  }

  /** @internal */
  public abstract _bind(scope: Construct, context?: BundleBindContext): OpaBundleBinding;
}

function checkName(scope: Construct, factory: string, name: string): string {
  if (!Token.isUnresolved(name) && !BUNDLE_NAME.test(name)) {
    throw new Error(`${scope.node.path}: OpaBundle.${factory}: bundle name must use only letters, digits, '.', '_' and '-', got ${JSON.stringify(name)}`);
  }
  return name;
}

function nameFromPath(scope: Construct, factory: string, p: string, option?: string): string {
  if (option !== undefined) return checkName(scope, factory, option);
  if (Token.isUnresolved(p)) throw new Error(`${scope.node.path}: OpaBundle.${factory}: give the bundle a name when its path is a token`);
  return checkName(scope, factory, p.split('/').filter(Boolean).pop()!.replace(/(\.tar\.gz|\.tgz)$/, ''));
}

/** The bundle plugin's config (`bundles.<name>`) for a bundle the extension downloads from `service`. */
function remoteBundle(name: string, service: string, resource: string, options: OpaRemoteBundleOptions): Record<string, unknown> {
  return {
    bundles: {
      [name]: {
        service,
        resource,
        ...(options.persist ? { persist: true } : {}),
        ...(options.onInitFailure ? { on_init_failure: options.onInitFailure } : {}),
      },
    },
  };
}

class BucketBundle extends OpaBundle {
  public constructor(private readonly bucket: s3.IBucket, private readonly key: string, private readonly options: OpaRemoteBundleOptions) {
    super();
  }

  public _bind(scope: Construct): OpaBundleBinding {
    const name = nameFromPath(scope, 'fromBucket', this.key, this.options.name);
    const service = `s3_${name}`;
    const url = `https://${this.bucket.bucketRegionalDomainName}`;
    return {
      name,
      ...serviceFromEnvironment(service, envName(name, 'BUCKET_URL'), url, { s3_signing: { environment_credentials: {} } }),
      pluginConfig: remoteBundle(name, service, this.key, this.options),
      grant: (grantee) => grantReadObject(grantee, this.bucket, this.key),
    };
  }
}

class UrlBundle extends OpaBundle {
  public constructor(private readonly url: string, private readonly resource: string, private readonly options: OpaUrlBundleOptions) {
    super();
  }

  public _bind(scope: Construct): OpaBundleBinding {
    const name = nameFromPath(scope, 'fromUrl', this.resource, this.options.name);
    checkHttpUrl(`${scope.node.path}: OpaBundle.fromUrl`, 'url', this.url);
    const service = `bundles_${name}`;
    const bearer = bearerCredentials(`${scope.node.path}: OpaBundle.fromUrl`, '', service, this.options.bearerToken, this.options.bearerTokenSecret);
    const binding = serviceFromEnvironment(service, envName(name, 'BUNDLE_URL'), this.url, bearer.credentials);
    return {
      name,
      services: binding.services,
      environment: { ...binding.environment, ...bearer.environment },
      pluginConfig: remoteBundle(name, service, this.resource, this.options),
      ...(bearer.grant ? { grant: bearer.grant } : {}),
    };
  }
}

const BUNDLE_NAME = /^[A-Za-z0-9._-]+$/;

/** The start of every message about a bundle: the layer's path, the prop and the factory call. */
function describeSource(scope: Construct, context: BundleBindContext | undefined, call: string): string {
  return `${context?.where ?? scope.node.path}: ${call}`;
}

/** A path known at synth, resolved; a deploy-time value cannot be read from disk. */
function localPath(where: string, what: string, p: string): string {
  if (Token.isUnresolved(p)) throw new Error(`${where}: the ${what} must be a path known at synth, got a deploy-time value`);
  return path.resolve(p);
}

class AssetBundle extends OpaBundle {
  public constructor(private readonly bundlePath: string, private readonly options: OpaBundleAssetOptions) {
    super();
  }

  public _bind(scope: Construct, context?: BundleBindContext): OpaBundleBinding {
    const where = describeSource(scope, context, `OpaBundle.fromAsset(${JSON.stringify(this.bundlePath)})`);
    const file = localPath(where, 'bundle path', this.bundlePath);
    const stat = fs.existsSync(file) ? fs.statSync(file) : undefined;
    if (stat?.isDirectory()) {
      return { name: nameFromPath(scope, 'fromAsset', path.basename(file), this.options.name), embeddedFile: packBundleDirectory(where, file) };
    }
    if (!stat?.isFile()) {
      throw new Error(`${where}: no bundle file or directory at ${file}; build a bundle with \`opa build -t wasm -e <entrypoint> ...\`, `
        + 'or compile Rego at synth with OpaBundle.fromRego');
    }
    return { name: nameFromPath(scope, 'fromAsset', path.basename(file), this.options.name), embeddedFile: file };
  }
}

class RegoBundle extends OpaBundle {
  public constructor(private readonly directory: string, private readonly options: OpaRegoBundleOptions) {
    super();
  }

  public _bind(scope: Construct, context?: BundleBindContext): OpaBundleBinding {
    const where = describeSource(scope, context, `OpaBundle.fromRego(${JSON.stringify(this.directory)})`);
    const directory = localPath(where, 'directory', this.directory);
    if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) {
      throw new Error(`${where}: no directory of Rego sources at ${directory}`);
    }
    const { entrypoints, opaBinary, revision } = this.options;
    if (!Array.isArray(entrypoints) || entrypoints.length === 0) {
      throw new Error(`${where}: entrypoints must list at least one rule to compile (e.g. ['app/authz/allow']), got ${JSON.stringify(entrypoints)}`);
    }
    for (const [what, value] of [...entrypoints.map((e) => ['an entrypoint', e]), ['opaBinary', opaBinary], ['revision', revision]]) {
      if (value !== undefined && (typeof value !== 'string' || Token.isUnresolved(value) || value.trim() === '')) {
        throw new Error(`${where}: ${what} must be a non-empty string known at synth, got ${JSON.stringify(value)}`);
      }
    }
    const name = nameFromPath(scope, 'fromRego', path.basename(directory), this.options.name);
    // A bare command name is looked up on PATH; anything with a separator is a path.
    const bin = opaBinary === undefined || !/[\\/]/.test(opaBinary) ? opaBinary : path.resolve(opaBinary);
    return { name, embeddedFile: buildRegoBundle(where, directory, { entrypoints, revision, opaBinary: bin }) };
  }
}
