export { BundleInitFailure } from './layer-contract';
export * from './opa-bundle';
export * from './opa-extension-aspect';
export * from './opa-extension-layer';
export * from './opa-node-runtime-layer';
export * from './opa-secret';
