/**
 * Compiles Rego to a Wasm bundle with the pinned OPA CLI, so tests use what users ship
 * (`opa build -t wasm`, https://www.openpolicyagent.org/docs/wasm#compiling-policies) rather than
 * committed binaries.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The OPA CLI installed by `scripts/install-opa.sh` (jest's global setup runs it). */
export const OPA_BIN = path.resolve(__dirname, '..', '..', '.tools', 'bin', 'opa');

/** Reads a Rego source from `test/support/policies/`. */
export function readPolicy(file: string): string {
  return fs.readFileSync(path.join(__dirname, 'policies', file), 'utf8');
}

export interface WasmBundleOptions {
  /** Files of the build directory by relative path (may contain `/`): Rego modules, nested data files, e.g. `{ 'rbac.rego': src }`. */
  readonly modules: Record<string, string>;
  /** Entrypoints as slash paths, e.g. `['app/rbac/allow']`; one `-e` each. */
  readonly entrypoints: readonly string[];
  /** Written to `data.json` at the bundle root. */
  readonly data?: object;
  /** `--revision`. */
  readonly revision?: string;
  /** Written as `.manifest` in the build directory (e.g. to set `roots`); `opa build` adds `wasm`. */
  readonly manifest?: object;
  /** Signs the bundle, as `opa build --signing-key ... --signing-alg ...` does. */
  readonly signing?: {
    /** PEM private key, or the HMAC secret. */
    readonly key: string;
    readonly algorithm: 'RS256' | 'HS256' | 'ES256';
    /** Extra claims (for example `scope`, `keyid`), as `--claims-file`. */
    readonly claims?: Record<string, unknown>;
  };
}

/** Runs `opa build -t wasm` on the given sources and returns the `.tar.gz` bytes. */
export async function buildWasmBundle(options: WasmBundleOptions): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    for (const [file, rego] of Object.entries(options.modules)) writeFile(path.join(src, file), rego);
    if (options.data !== undefined) writeFile(path.join(src, 'data.json'), JSON.stringify(options.data));
    if (options.manifest !== undefined) writeFile(path.join(src, '.manifest'), JSON.stringify(options.manifest));
    const out = path.join(dir, 'bundle.tar.gz');
    // Run inside the sources with relative paths, so error locations read `rbac.rego:3:1`.
    const args = ['build', '-t', 'wasm', ...options.entrypoints.flatMap((e) => ['-e', e])];
    if (options.revision !== undefined) args.push('--revision', options.revision);
    if (options.signing) {
      writeFile(path.join(dir, 'signing-key'), options.signing.key);
      args.push('--signing-key', path.join(dir, 'signing-key'), '--signing-alg', options.signing.algorithm);
      if (options.signing.claims) {
        writeFile(path.join(dir, 'claims.json'), JSON.stringify(options.signing.claims));
        args.push('--claims-file', path.join(dir, 'claims.json'));
      }
    }
    // With a .manifest in the sources, `opa build` must read the directory as a bundle (`-b`).
    args.push('-o', out, ...(options.manifest !== undefined ? ['-b', '.'] : ['.']));
    await run(OPA_BIN, args, src);
    return fs.readFileSync(out);
  });
}

/** Runs `fn` with a fresh temporary directory that is removed afterwards, whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-test-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function writeFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

function run(bin: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const status = err.code ?? err.signal ?? 'unknown';
      reject(new Error(`${path.basename(bin)} ${args.join(' ')} failed (exit ${status}): ${stderr.trim() || err.message}`));
    });
  });
}
