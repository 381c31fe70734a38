import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { OPA_BIN } from '../../../../support/opa';

const run = promisify(execFile);


export interface BuildOptions {
  /** Files of the bundle directory, by relative path (Rego, data.json, .manifest...). */
  readonly files: Readonly<Record<string, string>>;
  /** Entrypoints compiled to wasm, e.g. `authz/allow`. */
  readonly entrypoints: readonly string[];
  readonly revision?: string;
  /** Signs the bundle, as `opa build --signing-key ... --signing-alg ...` does. */
  readonly signing?: {
    /** PEM private key, or the HMAC secret. */
    readonly key: string;
    readonly algorithm: 'RS256' | 'HS256' | 'ES256';
    /** Extra claims (for example `scope`, `keyid`). */
    readonly claims?: Record<string, unknown>;
  };
}

/** Builds a wasm bundle (`.tar.gz`) with the pinned OPA: argv arrays, never a shell string. */
export async function opaBuild(options: BuildOptions): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'opa-build-'));
  try {
    const src = path.join(dir, 'src');
    for (const [file, content] of Object.entries(options.files)) {
      await mkdir(path.dirname(path.join(src, file)), { recursive: true });
      await writeFile(path.join(src, file), content);
    }
    const out = path.join(dir, 'bundle.tar.gz');
    // Run from the bundle directory so file names in the tarball (and its signature) are relative.
    const args = ['build', '-b', '.', '-t', 'wasm', '-o', out];
    for (const e of options.entrypoints) args.push('-e', e);
    if (options.revision !== undefined) args.push('--revision', options.revision);
    if (options.signing) {
      const keyFile = path.join(dir, 'signing-key');
      await writeFile(keyFile, options.signing.key);
      args.push('--signing-key', keyFile, '--signing-alg', options.signing.algorithm);
      if (options.signing.claims) {
        const claimsFile = path.join(dir, 'claims.json');
        await writeFile(claimsFile, JSON.stringify(options.signing.claims));
        args.push('--claims-file', claimsFile);
      }
    }
    try {
      await run(OPA_BIN, args, { cwd: src, timeout: 30_000 });
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      throw new Error(`opa ${args.join(' ')} failed (exit ${e.code}): ${e.stderr}`);
    }
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A policy answering `data.<pkg>.allow` and `data.<pkg>.revision`, so a decision names its revision. */
export function revisionPolicy(pkg: string, revision: string): Record<string, string> {
  return {
    [`${pkg.replace(/\//g, '_')}.rego`]: `package ${pkg.replace(/\//g, '.')}\n\ndefault allow := false\n\nallow if input.user == "alice"\n\nrevision := "${revision}"\n`,
  };
}
