import { Construct } from 'constructs';
import { ConfigBinding } from './config-binding';
import { validateBundleNames } from './props-validation';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/** What a bundle source contributes: a {@link ConfigBinding}, and the bundle archive to embed, if any. */
export interface OpaBundleBinding extends ConfigBinding {
  /** The bundle's name. */
  readonly name: string;
  /** An OPA bundle archive to copy into the layer as `opa-extension/bundles/<name>.tar.gz`. */
  readonly embeddedFile?: string;
}

/** What `OpaBundle._bind` is told about where the bundle is used, for its messages. */
export interface BundleBindContext {
  /** The layer's construct path and the prop, e.g. `Stack/Opa: bundles[1]`. */
  readonly where: string;
}

/** A bound bundle and the prop it came from (`bundle`, `bundles[1]`). */
export interface BoundBundle extends OpaBundleBinding {
  readonly prop: string;
}

/** Binds the layer's `bundle` and `bundles`, in that order, and checks that their names differ. */
export function bindBundles(scope: Construct, where: string, props: Pick<OpaExtensionLayerProps, 'bundle' | 'bundles'>): BoundBundle[] {
  const sources = [
    ...(props.bundle ? [{ prop: 'bundle', bundle: props.bundle }] : []),
    ...(props.bundles ?? []).map((bundle, i) => ({ prop: `bundles[${i}]`, bundle })),
  ];
  const bindings = sources.map(({ prop, bundle }) => ({ ...bundle._bind(scope, { where: `${where}: ${prop}` }), prop }));
  validateBundleNames(where, bindings);
  return bindings;
}
