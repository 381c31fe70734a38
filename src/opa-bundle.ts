import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BundleInitFailure } from './layer-contract';
import { OpaBundleBinding } from './private/bundle-binding';
import { bearerCredentials, checkHttpUrl, envName, serviceFromEnvironment } from './private/config-binding';
import { grantReadObject } from './private/grants';

/** Options for `OpaBundle.fromAsset`. */
export interface OpaBundleAssetOptions {
  /**
   * The bundle's name, as OPA reports it (in `provenance`, decision logs and status).
   * Letters, digits, `.`, `_` and `-`.
   *
   * @default - the file name without `.tar.gz` (or `.tgz`)
   */
  readonly name?: string;
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
   * A bearer token sent as `Authorization: Bearer <token>`. Put a reference to an environment
   * variable of the function here (`'${BUNDLE_TOKEN}'`) rather than the secret itself: the value
   * is written into the layer.
   *
   * @default - no Authorization header
   */
  readonly bearerToken?: string;
}

/**
 * Where the extension gets a policy bundle: an OPA bundle (`.tar.gz`) built with
 * `opa build -t wasm -e <entrypoint> ...`.
 */
export abstract class OpaBundle {
  /**
   * A bundle archive on disk, embedded in the layer at synth time. The extension activates it
   * before Lambda starts the function's init, so the first decision needs no network.
   *
   * @param file path of the bundle (`.tar.gz`) made by `opa build -t wasm`
   */
  public static fromAsset(file: string, options: OpaBundleAssetOptions = {}): OpaBundle {
    return new AssetBundle(file, options);
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
  public abstract _bind(scope: Construct): OpaBundleBinding;
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
    return {
      name,
      ...serviceFromEnvironment(service, envName(name, 'BUNDLE_URL'), this.url, bearerCredentials(this.options.bearerToken)),
      pluginConfig: remoteBundle(name, service, this.resource, this.options),
    };
  }
}

const BUNDLE_NAME = /^[A-Za-z0-9._-]+$/;

class AssetBundle extends OpaBundle {
  public constructor(private readonly file: string, private readonly options: OpaBundleAssetOptions) {
    super();
  }

  public _bind(scope: Construct): OpaBundleBinding {
    const file = path.resolve(this.file);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
      throw new Error(`${scope.node.path}: OpaBundle.fromAsset: no bundle file at ${file}; build one with \`opa build -t wasm -e <entrypoint> ...\``);
    }
    return { name: nameFromPath(scope, 'fromAsset', file, this.options.name), embeddedFile: file };
  }
}
