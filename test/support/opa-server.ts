/**
 * OPA's own server as an oracle: `opa run --server` from the pinned CLI on loopback, started on a
 * free port, waited for until healthy, and stopped (SIGTERM, then SIGKILL) by the caller.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from './layer';
import { OPA_BIN, WasmBundleOptions, withTempDir } from './opa';

export interface OpaServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Stops the process; resolves once it exited. */
  stop(): Promise<void>;
}

export interface OpaServerOptions {
  /** Files and directories to load, as `opa run` arguments (relative to `cwd`). */
  readonly paths: readonly string[];
  /** Working directory; a bundle loaded from a file is named by the path given. */
  readonly cwd?: string;
  /** Extra arguments, e.g. `['--set', 'decision_logs.console=true']`. */
  readonly args?: readonly string[];
}

export async function startOpaServer(options: OpaServerOptions): Promise<OpaServer> {
  const port = await freePort();
  const child = spawn(OPA_BIN, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', ...(options.args ?? []), ...options.paths], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d.toString('utf8'); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(`${url}/health`, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, output: () => output, stop };
}

async function waitHealthy(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null) throw new Error(`opa exited early with ${child.exitCode}: ${output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('opa did not become healthy within 30 s');
}

/**
 * The Rego twin of `buildWasmBundle`: `opa build -b` on the same sources, for OPA's own server
 * (the pinned CLI has no Wasm engine, so it cannot run the Wasm bundle itself).
 */
export async function buildRegoBundle(options: Omit<WasmBundleOptions, 'entrypoints'>): Promise<Buffer> {
  return withTempDir(async (dir) => {
    const src = path.join(dir, 'src');
    for (const [file, rego] of Object.entries(options.modules)) writeFile(path.join(src, file), rego);
    if (options.data !== undefined) writeFile(path.join(src, 'data.json'), JSON.stringify(options.data));
    writeFile(path.join(src, '.manifest'), JSON.stringify(options.manifest ?? {}));
    const out = path.join(dir, 'bundle.tar.gz');
    const args = ['build', '-b', '.', '-o', out];
    if (options.revision !== undefined) args.push('--revision', options.revision);
    await new Promise<void>((resolve, reject) => {
      execFile(OPA_BIN, args, { cwd: src, timeout: 60_000 }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        reject(new Error(`opa ${args.join(' ')} failed (exit ${err.code ?? err.signal}): ${stderr.trim() || err.message}`));
      });
    });
    return fs.readFileSync(out);
  });
}

function writeFile(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}
