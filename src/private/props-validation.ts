import { Annotations, Duration, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { OpaBundleBinding } from './bundle-binding';
import { KNOWN_PLUGINS, LAMBDA_RUNTIME_API_PORT } from '../layer-contract';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/**
 * The checks on the layer's props, in one place. Errors start with `where`, the layer's construct
 * path, and name the prop and the value; deploy-time values are not checked. The reporting and
 * bundle options are checked where they are bound (`bindReporting`, `OpaBundle._bind`).
 */

/**
 * The longest `minimumTriggerThreshold` accepted: a day. An execution environment rarely lives that
 * long, so a longer one would stop remote bundles from ever refreshing; it is almost always a unit
 * mistake (minutes for seconds).
 */
const MAX_TRIGGER_THRESHOLD_SECONDS = 86_400;
/** The longest `triggerTimeout`: Lambda's longest function timeout, 15 minutes. */
const MAX_TRIGGER_TIMEOUT_SECONDS = 900;

/** Checks the props that map onto the scheduler's config. */
export function validateProps(where: string, props: OpaExtensionLayerProps, port: number): void {
  if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535 || port === LAMBDA_RUNTIME_API_PORT)) {
    throw new Error(`${where}: port must be a whole number from 1 to 65535 other than ${LAMBDA_RUNTIME_API_PORT} (Lambda's Runtime API), got ${port}`);
  }
  checkSeconds(where, 'minimumTriggerThreshold', props.minimumTriggerThreshold, 0, MAX_TRIGGER_THRESHOLD_SECONDS);
  checkSeconds(where, 'triggerTimeout', props.triggerTimeout, 1, MAX_TRIGGER_TIMEOUT_SECONDS);
  checkPriority(where, 'pluginStartPriority', props.pluginStartPriority);
  checkPriority(where, 'pluginStopPriority', props.pluginStopPriority);
}

/** The scheduler reads whole seconds, as the Go plugin's `*int` fields. */
function checkSeconds(where: string, prop: string, value: Duration | undefined, min: number, max: number): void {
  if (!value || value.isUnresolved()) return;
  const seconds = value.toMilliseconds() / 1000;
  if (!Number.isInteger(seconds) || seconds < min || seconds > max) {
    throw new Error(`${where}: ${prop} must be a whole number of seconds from ${min} to ${max}, got ${value.toHumanString()}`);
  }
}

/** A plugin named twice would be started (or stopped) in two places at once: one of them is a mistake. */
function checkPriority(where: string, prop: string, names: string[] | undefined): void {
  if (!names || Token.isUnresolved(names)) return;
  const twice = names.find((name, i) => !Token.isUnresolved(name) && names.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new Error(`${where}: ${prop} must name each plugin once, got ${JSON.stringify(twice)} twice in ${JSON.stringify(names)}`);
  }
}

/** Bundles are found by name in the layer and in OPA's config: two with one name would collide. */
export function validateBundleNames(where: string, bundles: readonly OpaBundleBinding[]): void {
  const names = new Set<string>();
  for (const b of bundles) {
    if (names.has(b.name)) throw new Error(`${where}: two bundles are named ${JSON.stringify(b.name)}; give one a name with OpaBundle.fromAsset(file, { name })`);
    names.add(b.name);
  }
}

/** An unknown name in a priority does not fail the build: the extension skips it. */
export function warnUnknownPlugins(layer: IConstruct, props: OpaExtensionLayerProps): void {
  for (const name of [...(props.pluginStartPriority ?? []), ...(props.pluginStopPriority ?? [])]) {
    if (!KNOWN_PLUGINS.includes(name)) {
      Annotations.of(layer).addWarningV2('opa-lambda-extension:unknownPlugin', `plugin "${name}" is not one of ${KNOWN_PLUGINS.join(', ')}; the extension skips it`);
    }
  }
}
