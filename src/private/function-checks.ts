import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LAMBDA_LAYER_LIMIT, MIN_NODE_MAJOR_VERSION, PLUGIN, SCHEDULER_CONFIG_KEY, SCHEDULER_DEFAULTS } from '../layer-contract';

/**
 * The checks on a function that gets the layer, in one place. Each returns a problem (a sentence
 * naming the prop, the limit and the value, without the function's path, which the caller puts
 * first) or undefined; the caller decides whether it throws (`addToFunction`), is a synth error
 * (`fn.addLayers`, found by the layer's aspect) or skips the function with a warning
 * (`OpaExtensionAspect`). Values that are deploy-time tokens are not checked.
 */

/** What the checks need to know about the layer and the function. */
export interface FunctionCheckInput {
  /** The layer's construct path. */
  readonly layerPath: string;
  /** `OPA_URL` of the layer, for the advice to container image functions. */
  readonly url: string;
  /** How many layers the function has with this one added. */
  readonly layerCount: number;
  /** The path of another OpaExtensionLayer the function already carries, if any. */
  readonly otherOpaLayer?: string;
}

/** The first reason the layer cannot serve the function, or undefined when it can. */
export function functionProblem(fn: lambda.Function, input: FunctionCheckInput): string | undefined {
  const layer = `the OPA extension layer ${input.layerPath}`;
  if (fn.runtime === lambda.Runtime.FROM_IMAGE) {
    return `a container image function cannot take ${layer}: Lambda does not apply layers to images. `
      + 'Add the extension to the image instead: copy the layer\'s contents (the folder CDK stages for it in cdk.out) '
      + `into /opt of the image, e.g. \`COPY opa-layer/ /opt/\`, and set OPA_URL=${input.url}`;
  }
  if (!servesRuntime(fn.runtime)) {
    return `runtime must be ${servedRuntimesText()} for ${layer} (its extension runs on the function's Node.js), got ${fn.runtime.name}`;
  }
  if (input.otherOpaLayer !== undefined) {
    return `a function takes one OPA extension layer (each unpacks to /opt/extensions/opa), got ${input.otherOpaLayer} and ${input.layerPath}`;
  }
  if (input.layerCount > LAMBDA_LAYER_LIMIT) {
    return `layers must number at most ${LAMBDA_LAYER_LIMIT} (Lambda's limit), got ${input.layerCount} with ${layer}`;
  }
  return undefined;
}

/**
 * Whether the layer can run beside a function of this runtime: today a Node.js runtime from
 * {@link MIN_NODE_MAJOR_VERSION} on, whose `node` the launcher starts the extension with. The one
 * place to change when other runtimes get a Node.js binary of their own.
 */
export function servesRuntime(runtime: lambda.Runtime): boolean {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  return runtime.family === lambda.RuntimeFamily.NODEJS && major !== undefined && Number(major) >= MIN_NODE_MAJOR_VERSION;
}

/** The runtimes this aws-cdk-lib knows that {@link servesRuntime} accepts: the layer's `CompatibleRuntimes`. */
export function servedRuntimeNames(): string[] {
  return [...new Set(lambda.Runtime.ALL.filter(servesRuntime).map((r) => r.name))];
}

function servedRuntimesText(): string {
  return `${servedRuntimeNames().join(', ')} or a newer Node.js runtime`;
}

/** Lambda's timeout of a function that sets none. */
const LAMBDA_DEFAULT_TIMEOUT = Duration.seconds(3);

/**
 * A round of plugin triggers on an INVOKE runs before the extension asks for the next event, so it
 * counts against the function's timeout: a `trigger_timeout` as long as that timeout lets one slow
 * bundle download or log upload time the invocation out. Undefined when the layer runs no plugin
 * (only embedded bundles) or the round is shorter.
 */
export function triggerTimeoutWarning(fn: lambda.Function, layerPath: string, roundTimeout: Duration | undefined): string | undefined {
  const fnTimeout = fn.timeout ?? LAMBDA_DEFAULT_TIMEOUT;
  if (!roundTimeout || roundTimeout.isUnresolved() || fnTimeout.isUnresolved()) return undefined;
  if (roundTimeout.toMilliseconds() < fnTimeout.toMilliseconds()) return undefined;
  const ofFunction = fn.timeout ? fnTimeout.toHumanString() : `${fnTimeout.toHumanString()}, Lambda's default`;
  return `triggerTimeout of the OPA extension layer ${layerPath} (${roundTimeout.toHumanString()}) is not shorter than the function's `
    + `timeout (${ofFunction}): a round of plugin triggers on an INVOKE counts against the function's timeout; `
    + 'make triggerTimeout shorter or the function\'s timeout longer';
}

/** OPA config sections whose plugin the scheduler triggers on an INVOKE (embedded bundles are not in the config). */
const TRIGGERED_SECTIONS = ['bundles', PLUGIN.DECISION_LOGS, PLUGIN.STATUS, PLUGIN.DISCOVERY];

/**
 * The time limit of a round of plugin triggers the layer's final OPA config sets (the prop, an
 * `opaConfig` override, or the extension's default), or undefined when it configures no plugin.
 */
export function roundTimeoutOf(config: Record<string, any>): Duration | undefined {
  const runsPlugins = TRIGGERED_SECTIONS.some((section) => {
    const value = config[section];
    return value !== undefined && value !== null && (typeof value !== 'object' || Object.keys(value).length > 0);
  });
  if (!runsPlugins) return undefined;
  const seconds = config.plugins?.[SCHEDULER_CONFIG_KEY]?.trigger_timeout;
  return Duration.seconds(typeof seconds === 'number' ? seconds : SCHEDULER_DEFAULTS.TRIGGER_TIMEOUT_SECONDS);
}
