import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBundleTool } from './bundle-tool';

/**
 * The embedded sources that are built at synth: a bundle directory packed by the bundle tool, and
 * Rego compiled by `opa build`. Both write into a fresh temporary folder (the user's tree is only
 * read) and give the same bytes for the same sources, so an unchanged policy keeps the layer's
 * asset hash.
 */

/** `opa build` of a large policy on a slow machine; a hung process must not hang the synth. */
const OPA_BUILD_TIMEOUT_MS = 5 * 60_000;
/** The OPA version this library is tested with (`scripts/install-opa.sh` pins the same). */
const TESTED_OPA_VERSION = 'v1.22.2';

/** Packs `directory` into a bundle archive; `where` starts every message. Returns the archive's path. */
export function packBundleDirectory(where: string, directory: string): string {
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'opa-bundle-')), 'bundle.tar.gz');
  const result = runBundleTool({ command: 'pack', directory, output });
  if (!result.ok) throw new Error(`${where}: ${result.message}`);
  return output;
}

export interface RegoBuild {
  readonly entrypoints: readonly string[];
  readonly revision?: string;
  /** The OPA CLI to run; `opa` from PATH when absent. */
  readonly opaBinary?: string;
}

/**
 * Runs `opa build -t wasm -b . -e <entrypoint>...` inside `directory` (so the Rego paths in the
 * bundle are relative, and the same wherever the sources sit) and returns the archive's path.
 * `-b` reads the directory as a bundle, so a `.manifest` there sets the roots.
 */
export function buildRegoBundle(where: string, directory: string, build: RegoBuild): string {
  const output = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'opa-rego-')), 'bundle.tar.gz');
  const bin = build.opaBinary ?? 'opa';
  const args = ['build', '-t', 'wasm', ...build.entrypoints.flatMap((e) => ['-e', e])];
  if (build.revision !== undefined) args.push('--revision', build.revision);
  args.push('-o', output, '-b', '.');
  // `env` given explicitly: `opa` is looked up on this process's PATH as the host sees it now (a
  // host that embeds Node, or a test, may have changed process.env after start).
  const run = spawnSync(bin, args, {
    cwd: directory, env: process.env, encoding: 'utf8', timeout: OPA_BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error) throw new Error(`${where}: ${cannotRun(bin, build.opaBinary !== undefined, run.error as NodeJS.ErrnoException)}`);
  if (run.status !== 0) {
    const status = run.status ?? run.signal;
    throw new Error(`${where}: \`${path.basename(bin)} ${args.join(' ')}\` failed (exit ${status}): ${(run.stderr || run.stdout).trim()}`);
  }
  return output;
}

function cannotRun(bin: string, given: boolean, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT' && !given) {
    return 'compiling Rego at synth needs the OPA CLI, and there is no `opa` on PATH. Install it: download the binary for your '
      + 'platform from https://github.com/open-policy-agent/opa/releases (for example '
      + 'https://openpolicyagent.org/downloads/latest/opa_linux_amd64_static) and put it on PATH, or run '
      + `\`go install github.com/open-policy-agent/opa@${TESTED_OPA_VERSION}\`; or pass its path as opaBinary. `
      + 'Or embed a bundle built beforehand with OpaBundle.fromAsset';
  }
  if (err.code === 'ENOENT') return `opaBinary ${JSON.stringify(bin)} does not exist`;
  if (err.code === 'EACCES') return `${given ? 'opaBinary ' : ''}${JSON.stringify(bin)} is not executable`;
  if (err.code === 'ETIMEDOUT') return `\`opa build\` did not finish within ${OPA_BUILD_TIMEOUT_MS / 1000} seconds`;
  return `cannot run ${JSON.stringify(bin)}: ${err.message}`;
}
