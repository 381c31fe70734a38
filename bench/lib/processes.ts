/**
 * The reference processes (a bare Node HTTP server, OPA's own server) and what the bench reads
 * about processes: RSS from /proc, the extension's PID.
 *
 * Every process the bench starts and times gets {@link cleanEnv}: NODE_EXTRA_CA_CERTS is unset,
 * because loading the CA file adds about 80 ms to every Node start on these machines. (The
 * emulator already gives its children only PATH and HOME from the parent.)
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probe } from './http-client';
import { freePort } from '../../test/support/layer';
import { OPA_BIN } from '../../test/support/opa';

/** This process's environment without NODE_EXTRA_CA_CERTS (nor NODE_OPTIONS, which would change what Node loads). */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return env;
}

export interface RunningServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The constant body the bare server answers, shaped like the extension's answer. */
export const BARE_BODY = '{"result":true}';

/** The bare server's program, for `node -e`. */
export const BARE_SERVER = `
const http = require('node:http');
const body = Buffer.from(${JSON.stringify(BARE_BODY)});
const server = http.createServer((req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

/** Another Node.js binary than the one running the bench, for the bare server. */
export interface NodeBinary {
  readonly path: string;
  /** Added to the environment (the Node.js layer's `LD_LIBRARY_PATH`). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * A bare Node `http` server in a child process that reads the request and returns {@link BARE_BODY};
 * on the bench's own node unless `node` names another binary.
 */
export async function startBareServer(node?: NodeBinary): Promise<RunningServer> {
  const child = spawn(node?.path ?? process.execPath, ['-e', BARE_SERVER], { env: { ...cleanEnv(), ...node?.env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await printedPort(child, 'the bare server', 10_000);
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

/** The port a server started as `child` prints on its first line of output (the bare server's way). */
export function printedPort(child: ChildProcess, what: string, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(Number(out.trim()));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
    // A binary that cannot be spawned (missing, not executable): without a listener, the process crashes.
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not be started: ${err.message}`));
    });
  });
}

/**
 * `opa run --server --addr 127.0.0.1:<port> --bundle <file>` (the pinned OPA), ready once /health
 * answers 200. Resolves with the time from spawn to that first 200 as well.
 */
export async function startOpaServer(bundleFile: string, extraArgs: readonly string[] = []): Promise<RunningServer & { readyMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(OPA_BIN, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--log-level', 'error', ...extraArgs, '--bundle', bundleFile],
    { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
  const giveUpAt = t0 + 30_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`opa exited with ${child.exitCode}: ${stderr.trim()}`);
    if (performance.now() > giveUpAt) {
      await stopChild(child);
      throw new Error('opa did not answer /health within 30 s');
    }
    if (await probe(port, '/health', 500) === 200) break;
    await sleep(2);
  }
  const readyMs = performance.now() - t0;
  return { port, pid: child.pid!, readyMs, stop: () => stopChild(child) };
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Time the main thread of `pid` has run on a CPU, in ns, from /proc/<pid>/task/<pid>/schedstat: for
 * a Node server, the thread that answers every request (V8's helper threads and the kernel's
 * loopback work in other contexts are not counted).
 */
export function mainThreadCpuNs(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** VmRSS of `pid` in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * The PID of the extension's Node process for the layer at `layerDir`: the launcher `exec`s
 * `node <layerDir>/extensions/../opa-extension/index.js`, so it is found by its command line.
 */
export function findExtensionPid(layerDir: string): number {
  const dirs = new Set([path.resolve(layerDir), fs.realpathSync(layerDir)]);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const args = cmdline.split('\0');
    const script = args.find((a) => a.endsWith(path.join('opa-extension', 'index.js')));
    if (!script || !/(^|\/)node$/.test(args[0])) continue;
    if ([...dirs].some((d) => path.resolve(script).startsWith(d + path.sep))) found.push(Number(entry));
  }
  if (found.length !== 1) throw new Error(`expected one extension process for ${layerDir}, found ${found.length}`);
  return found[0];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
