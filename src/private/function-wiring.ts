import { Annotations, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { functionProblem, NodeSource, nodeSourceOf, triggerTimeoutWarning } from './function-checks';
import { environmentNamesOf, layerArnsOf, listLayerOnce } from './function-properties';
import { nodeBinaryProblem } from './node-binary';
import { OpaNodeRuntimeLayer } from '../opa-node-runtime-layer';

/** What every function with the layer gets. */
export interface FunctionWiringProps {
  readonly layer: lambda.LayerVersion;
  /** `OPA_URL` of the layer. */
  readonly url: string;
  /** `OPA_URL` and the variables the layer's config refers to as `${NAME}`. */
  readonly environment: Readonly<Record<string, string>>;
  /** Grants the function's role what the extension needs, unless `grantPermissions` is false. */
  readonly grant?: (grantee: iam.IGrantable) => void;
  /** The time limit of a round of plugin triggers, or undefined when the layer runs no plugin. */
  readonly roundTimeout?: Duration;
}

/** The OpaExtensionLayer each function carries, by path: two would unpack over each other at /opt. */
const opaLayerOf = new WeakMap<lambda.Function, string>();

/**
 * Why a function was not wired. `fatal` problems are in the app's build, not in the function (the
 * Node.js package is missing): they are errors even where a function that cannot take the layer is
 * only skipped.
 */
interface Problem {
  readonly message: string;
  readonly fatal: boolean;
}

/**
 * Adds the layer to functions and configures each one once: the layer if it is not there yet,
 * the environment variables the function does not set itself, the grants, and the warnings.
 * It keeps its own record of what it configured and reads functions only through their public
 * `CfnFunction` (see `function-properties.ts`), so attaching twice, in any two ways, is harmless.
 */
export class FunctionWiring {
  private readonly configured = new Set<lambda.Function>();
  /** Functions whose problem was reported already, so that two ways of attaching report it once. */
  private readonly reported = new Set<lambda.Function>();

  public constructor(private readonly props: FunctionWiringProps) {}

  /** `addToFunction`: a function the layer cannot serve is a mistake in the app, which throws. */
  public addTo(fn: lambda.Function): void {
    const problem = this.attach(fn);
    if (problem) throw new Error(`${fn.node.path}: ${problem.message}`);
  }

  /** The layer's aspect, for `fn.addLayers(layer)`: a function it cannot serve is a synth error. */
  public configureIfUsed(fn: lambda.Function): void {
    if (this.configured.has(fn) || !this.uses(fn)) return;
    const problem = this.attach(fn);
    if (problem) this.reportError(fn, problem);
  }

  /**
   * `OpaExtensionAspect`: adds the layer unless the function cannot take it, and returns why not.
   * A function that has the layer already is the layer's own aspect's business (an error there).
   */
  public addIfServed(fn: lambda.Function): string | undefined {
    if (this.uses(fn)) {
      this.configureIfUsed(fn);
      return undefined;
    }
    const problem = this.attach(fn);
    if (problem?.fatal) this.reportError(fn, problem);
    return problem?.fatal ? undefined : problem?.message;
  }

  private reportError(fn: lambda.Function, problem: Problem): void {
    if (this.reported.has(fn)) return;
    this.reported.add(fn);
    Annotations.of(fn).addError(`${fn.node.path}: ${problem.message}`);
  }

  /**
   * Checks the function, adds the layer (and the Node.js layer, for a runtime without `node`) if
   * needed and configures the function once; returns a problem instead.
   */
  private attach(fn: lambda.Function): Problem | undefined {
    if (this.configured.has(fn)) return undefined;
    const layers = layerArnsOf(fn);
    const present = layers.includes(this.props.layer.layerVersionArn);
    const needsNode = nodeSourceOf(fn.runtime) === NodeSource.LAYER;
    const nodeLayer = needsNode ? OpaNodeRuntimeLayer._find(fn, fn.architecture) : undefined;
    const nodePresent = nodeLayer !== undefined && layers.includes(nodeLayer.layerVersionArn);
    const layerPath = this.props.layer.node.path;
    const other = opaLayerOf.get(fn);
    const problem = functionProblem(fn, {
      layerPath,
      url: this.props.url,
      layerCount: layers.length + (present ? 0 : 1) + (needsNode && !nodePresent ? 1 : 0),
      otherOpaLayer: other !== undefined && other !== layerPath ? other : undefined,
    });
    if (problem) return { message: problem, fatal: false };
    if (needsNode && !nodePresent) {
      const missing = nodeBinaryProblem(fn, fn.architecture.name);
      if (missing) return { message: missing, fatal: true };
    }
    if (!present) fn.addLayers(this.props.layer);
    listLayerOnce(fn, this.props.layer.layerVersionArn);
    if (needsNode) {
      const node = nodeLayer ?? OpaNodeRuntimeLayer.of(fn, fn.architecture);
      if (!nodePresent) fn.addLayers(node);
      listLayerOnce(fn, node.layerVersionArn);
    }
    this.configured.add(fn);
    opaLayerOf.set(fn, layerPath);
    this.configureEnvironment(fn);
    this.props.grant?.(fn);
    const warning = triggerTimeoutWarning(fn, layerPath, this.props.roundTimeout);
    if (warning) Annotations.of(fn).addWarningV2('opa-lambda-extension:triggerTimeout', `${fn.node.path}: ${warning}`);
    return undefined;
  }

  /**
   * Adds the variables the function does not set itself. A value the user set earlier is kept here;
   * one set later with `fn.addEnvironment` replaces ours, as `addEnvironment` always does.
   */
  private configureEnvironment(fn: lambda.Function): void {
    const existing = new Set(environmentNamesOf(fn));
    for (const [name, value] of Object.entries(this.props.environment)) {
      if (!existing.has(name)) fn.addEnvironment(name, value);
    }
  }

  private uses(fn: lambda.Function): boolean {
    return layerArnsOf(fn).includes(this.props.layer.layerVersionArn);
  }
}
