/** What a bundle source contributes to the layer. */
export interface OpaBundleBinding {
  /** The bundle's name. */
  readonly name: string;
  /** An OPA bundle archive to copy into the layer as `opa-extension/bundles/<name>.tar.gz`. */
  readonly embeddedFile: string;
}
