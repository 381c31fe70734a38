export * from './opa-bundle';
export * from './opa-extension-layer';
