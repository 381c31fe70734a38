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

/** Binds the layer's `bundle` and `bundles`, in that order, and checks that their names differ. */
export function bindBundles(scope: Construct, where: string, props: Pick<OpaExtensionLayerProps, 'bundle' | 'bundles'>): OpaBundleBinding[] {
  const bindings = [...(props.bundle ? [props.bundle] : []), ...(props.bundles ?? [])].map((b) => b._bind(scope));
  validateBundleNames(where, bindings);
  return bindings;
}
