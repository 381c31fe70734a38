/**
 * The protocol between the construct and the bundle tool (`runtime/src/tools/bundle-tool.ts`,
 * built into `lib/bundle-tool/index.js`). The construct runs at synth inside `cdk synth`, where
 * everything is synchronous and the extension's engine cannot be imported; so it runs the tool as a
 * child process, writes one request as JSON on its stdin and reads one {@link BundleToolResult} as
 * JSON from its stdout. The tool reads and loads bundles with the extension's own reader and
 * engine, so what passes at synth is what the extension activates at init.
 *
 * This module imports nothing: esbuild inlines it into the tool and jsii compiles it with the
 * construct.
 */

/** Packs a directory into a bundle archive, deterministically. */
export interface PackRequest {
  readonly command: 'pack';
  /** Absolute path of the directory. */
  readonly directory: string;
  /** Absolute path of the `.tar.gz` to write. */
  readonly output: string;
}

/** Reads, loads and activates archives together as the extension does at init, and resolves queries. */
export interface CheckRequest {
  readonly command: 'check';
  readonly bundles: ReadonlyArray<{ readonly name: string; readonly file: string }>;
  /** Data paths without leading or trailing `/`, e.g. `app/authz/allow`. */
  readonly queries: readonly string[];
}

export type BundleToolRequest = PackRequest | CheckRequest;

/** One bundle as the extension would activate it. */
export interface CheckedBundle {
  readonly name: string;
  readonly revision: string;
  /** Manifest roots, without leading or trailing `/` (`""` is the whole data tree). */
  readonly roots: readonly string[];
  /** The entrypoints the bundle answers, sorted. */
  readonly entrypoints: readonly string[];
}

export interface PackSuccess {
  readonly ok: true;
  /** Paths of the files in the archive, in archive order. */
  readonly files: readonly string[];
}

export interface CheckSuccess {
  readonly ok: true;
  readonly bundles: readonly CheckedBundle[];
  /** The queries that no entrypoint answers (equal to or below it). */
  readonly unanswered: readonly string[];
}

/** A problem with the input: a message for the user, and the bundles it concerns (none for `pack`). */
export interface BundleToolFailure {
  readonly ok: false;
  readonly bundles: readonly string[];
  readonly message: string;
}

export type BundleToolResult = PackSuccess | CheckSuccess | BundleToolFailure;

/** Exit status of a run that ends in a {@link BundleToolFailure}; anything else but 0 is a crash. */
export const BUNDLE_TOOL_FAILURE_STATUS = 2;
