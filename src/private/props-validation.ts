import { Annotations, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import type { OpaBundleBinding } from './bundle-binding';
import { KNOWN_PLUGINS, LAMBDA_RUNTIME_API_PORT } from '../layer-contract';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/**
 * The checks on the layer's props, in one place. Errors start with `where`, the layer's construct
 * path, and name the prop and the value; deploy-time values are not checked. The reporting and
 * bundle options are checked where they are bound (`bindReporting`, `OpaBundle._bind`).
 */

/** Checks the props that map onto the scheduler's config. */
export function validateProps(where: string, props: OpaExtensionLayerProps, port: number): void {
  if (!Token.isUnresolved(port) && (!Number.isInteger(port) || port < 1 || port > 65535 || port === LAMBDA_RUNTIME_API_PORT)) {
    throw new Error(`${where}: port must be a whole number from 1 to 65535 other than ${LAMBDA_RUNTIME_API_PORT} (Lambda's Runtime API), got ${port}`);
  }
  const threshold = props.minimumTriggerThreshold;
  if (threshold && !threshold.isUnresolved() && !Number.isInteger(threshold.toMilliseconds() / 1000)) {
    throw new Error(`${where}: minimumTriggerThreshold must be a whole number of seconds, got ${threshold.toHumanString()}`);
  }
  const timeout = props.triggerTimeout;
  if (timeout && !timeout.isUnresolved()) {
    const ms = timeout.toMilliseconds();
    if (!Number.isInteger(ms / 1000) || ms < 1000 || ms > 900_000) {
      throw new Error(`${where}: triggerTimeout must be a whole number of seconds from 1 to 900, got ${timeout.toHumanString()}`);
    }
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
