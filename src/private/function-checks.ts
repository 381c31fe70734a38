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
  const needs = nodeSourceOf(fn.runtime);
  if (typeof needs === 'object') return needs.refusal(layer);
  if (input.otherOpaLayer !== undefined) {
    return `a function takes one OPA extension layer (each unpacks to /opt/extensions/opa), got ${input.otherOpaLayer} and ${input.layerPath}`;
  }
  if (input.layerCount > LAMBDA_LAYER_LIMIT) {
    const what = needs === NodeSource.LAYER ? `${layer} and its Node.js layer` : layer;
    return `layers must number at most ${LAMBDA_LAYER_LIMIT} (Lambda's limit), got ${input.layerCount} with ${what}`;
  }
  return undefined;
}

/** Where the extension's `node` comes from for a runtime the layer serves. */
export enum NodeSource {
  /** A Node.js runtime from {@link MIN_NODE_MAJOR_VERSION} on: the launcher starts the runtime's own `node`. */
  RUNTIME = 'runtime',
  /** A runtime on Amazon Linux 2023 without `node`: the function also gets `OpaNodeRuntimeLayer`. */
  LAYER = 'layer',
}

/** Why a runtime is refused: a sentence that names it and the runtime to use instead. */
export interface RuntimeRefusal {
  refusal(layer: string): string;
}

/**
 * Runtime families by name: from `first` on, a runtime runs on Amazon Linux 2023 (glibc 2.34),
 * where the Node.js binary of `OpaNodeRuntimeLayer` runs (it needs glibc 2.28); before that it runs
 * on Amazon Linux 2 (glibc 2.26) or the first Amazon Linux (glibc 2.17), which cannot run it.
 * Lambda's runtime table: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
 */
const FAMILIES: ReadonlyArray<{ readonly pattern: RegExp; readonly first: number; readonly use: string }> = [
  { pattern: /^nodejs(\d+)\.x$/, first: MIN_NODE_MAJOR_VERSION, use: `nodejs${MIN_NODE_MAJOR_VERSION}.x` },
  { pattern: /^python3\.(\d+)$/, first: 12, use: 'python3.12' },
  { pattern: /^java(\d+)$/, first: 21, use: 'java21' },
  { pattern: /^dotnet(\d+)$/, first: 8, use: 'dotnet8' },
  { pattern: /^ruby3\.(\d+)$/, first: 3, use: 'ruby3.3' },
  { pattern: /^provided\.al(\d+)$/, first: 2023, use: 'provided.al2023' },
];

/** Retired runtimes whose name fits no family above, and the runtime that replaces each. */
const RETIRED: ReadonlyArray<readonly [RegExp, string]> = [
  [/^nodejs(\d+\.\d+)?$/, `nodejs${MIN_NODE_MAJOR_VERSION}.x`],
  [/^python2\.7$/, 'python3.12'],
  [/^java8\.al2$/, 'java21'],
  [/^dotnetcore\d/, 'dotnet8'],
  [/^ruby2\.\d+$/, 'ruby3.3'],
  [/^(go1\.x|provided)$/, 'provided.al2023'],
];

/** Runtimes of the first Amazon Linux (glibc 2.17); every other refused one runs on Amazon Linux 2. */
const AMAZON_LINUX_1 = /^(nodejs|nodejs4\.3|nodejs6\.10|nodejs8\.10|python2\.7|python3\.[67]|java8|go1\.x|provided|dotnetcore[12]\.\d|ruby2\.5)$/;

/**
 * Where the extension gets `node` for a runtime, or why the runtime is refused. The one place that
 * knows which runtimes the layer serves.
 */
export function nodeSourceOf(runtime: lambda.Runtime): NodeSource | RuntimeRefusal {
  const name = runtime.name;
  for (const family of FAMILIES) {
    const version = family.pattern.exec(name)?.[1];
    if (version === undefined) continue;
    if (Number(version) >= family.first) return family === FAMILIES[0] ? NodeSource.RUNTIME : NodeSource.LAYER;
    return refusedOld(name, family.use);
  }
  const retired = RETIRED.find(([pattern]) => pattern.test(name));
  if (retired) return refusedOld(name, retired[1]);
  return {
    refusal: (layer) => `runtime ${name} is not one ${layer} knows: it serves Node.js ${MIN_NODE_MAJOR_VERSION} or newer with the function's own node, `
      + 'and python3.12, java21, dotnet8, ruby3.3, provided.al2023 or newer with a Node.js layer',
  };
}

function refusedOld(name: string, use: string): RuntimeRefusal {
  const os = AMAZON_LINUX_1.test(name) ? 'Amazon Linux (glibc 2.17)' : 'Amazon Linux 2 (glibc 2.26)';
  return {
    refusal: (layer) => `runtime ${name} runs on ${os}, where ${layer} cannot run: its extension needs Node.js ${MIN_NODE_MAJOR_VERSION} or newer, `
      + `and the Node.js binary it brings for runtimes without one needs glibc 2.28; use ${use} or newer`,
  };
}

/** Lambda's limit of entries in a layer's `CompatibleRuntimes`. */
const COMPATIBLE_RUNTIMES_LIMIT = 15;

/**
 * The runtimes this aws-cdk-lib knows that are served with `node` from `source` (from either, when
 * undefined), for a layer's `CompatibleRuntimes`, which Lambda only uses to filter layer listings.
 * Past Lambda's limit of 15 the oldest versions of the families with most entries are left out.
 */
export function compatibleRuntimeNames(source?: NodeSource): string[] {
  const names = [...new Set(lambda.Runtime.ALL.map((r) => r.name))].filter((name) => {
    const served = nodeSourceOf(new lambda.Runtime(name));
    return typeof served !== 'object' && (source === undefined || served === source);
  });
  const families = FAMILIES.map((f) => names.filter((n) => f.pattern.test(n))
    .sort((a, b) => Number(f.pattern.exec(a)![1]) - Number(f.pattern.exec(b)![1])));
  while (families.reduce((n, f) => n + f.length, 0) > COMPATIBLE_RUNTIMES_LIMIT) {
    families.reduce((a, b) => (b.length > a.length ? b : a)).shift();
  }
  return names.filter((n) => families.some((f) => f.includes(n)));
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
