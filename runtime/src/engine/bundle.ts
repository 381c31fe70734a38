/**
 * The in-memory form of an OPA bundle that has been read and validated
 * (https://www.openpolicyagent.org/docs/management-bundles#bundle-file-format).
 */

/** One `wasm` entry of the manifest: which module answers which entrypoint. */
export interface WasmResolver {
  /** Slash path without leading or trailing `/`, e.g. `app/rbac/allow`. */
  readonly entrypoint: string;
  /** Path of the module inside the bundle, with a leading `/`, e.g. `/policy.wasm`. */
  readonly module: string;
}

export interface BundleManifest {
  /** `""` when the manifest has none. */
  readonly revision: string;
  /** Without leading or trailing `/`; `[""]` (everything) by default. */
  readonly roots: readonly string[];
  readonly wasm: readonly WasmResolver[];
  readonly metadata?: Readonly<Record<string, unknown>>;
}

export interface Bundle {
  readonly name: string;
  readonly manifest: BundleManifest;
  /** Every data file of the bundle merged into one document, rooted at `data`. */
  readonly data: Record<string, unknown>;
  /** Wasm modules by path inside the bundle, with a leading `/` (as the manifest names them). */
  readonly wasmModules: ReadonlyMap<string, Uint8Array>;
}
