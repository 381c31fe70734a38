import * as fs from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { OpaBundleBinding } from './private/bundle-binding';

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

  /** @internal */
  public abstract _bind(scope: Construct): OpaBundleBinding;
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
    const name = this.options.name ?? path.basename(file).replace(/(\.tar\.gz|\.tgz)$/, '');
    if (!Token.isUnresolved(name) && !BUNDLE_NAME.test(name)) {
      throw new Error(`${scope.node.path}: OpaBundle.fromAsset: bundle name must use only letters, digits, '.', '_' and '-', got ${JSON.stringify(name)}`);
    }
    return { name, embeddedFile: file };
  }
}
