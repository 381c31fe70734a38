/**
 * AWS's Runtime Interface Emulator (RIE) as a second oracle beside `emulator/`: AWS's own code for
 * the Lambda lifecycle (it is "rapid", the process that plays the Runtime and Extensions APIs in a
 * Lambda sandbox, in standalone mode) runs a layer with an official runtime interface client.
 *
 * RIE starts every file in the hard-coded `/opt/extensions`. The machine's `/opt` is never written:
 * each RIE runs in a private mount namespace (`unshare --mount`, and a PID namespace so that nothing
 * outlives it) where the layer folder is
 * bind-mounted at `/opt`, as Lambda mounts layers. That needs root (or CAP_SYS_ADMIN); without it,
 * `startRie` fails with a message saying so rather than skipping.
 *
 * Facts read from RIE's source (`internal/lambda/rie`, `rapidcore`, `rapid/shutdown.go`):
 * - `aws-lambda-rie [--runtime-api-address h:p] [--runtime-interface-emulator-address h:p] <cmd...> <handler>`
 *   runs `<cmd...> <handler>` as the runtime, in RIE's own working directory; the last argument is
 *   also `_HANDLER`. Invokes are POSTed to `/2015-03-31/functions/function/invocations`.
 * - Nothing starts until the first invoke (lazy init); rapid then logs `INIT REPORT(durationMs: ...)`.
 * - Every process gets RIE's whole environment (extensions without `_*` keys);
 *   `AWS_LAMBDA_FUNCTION_TIMEOUT` (s, default 300) sets the invoke deadline.
 * - SIGTERM resets the sandbox with reason `SandboxTerminated` and a 2000 ms window: the runtime gets
 *   SIGTERM and 30 % of it, then extensions get SHUTDOWN with `deadlineMs` at its end, then RIE exits 0.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { freePort } from './layer';
import { within } from './within';

const ROOT = path.resolve(__dirname, '..', '..');
/** Installed by `scripts/install-rie.sh` (the test task and jest's global setup run it). */
export const RIE_BIN = path.join(ROOT, '.tools', 'bin', 'aws-lambda-rie');
/** The virtual environment `scripts/install-awslambdaric.sh` fills with the Python runtime client. */
export const PYTHON_RIC = path.join(ROOT, '.tools', 'python-ric', 'bin', 'python');
/** The Node.js runtime interface client, a dev dependency (`aws-lambda-ric`). */
export const NODE_RIC = path.join(ROOT, 'node_modules', 'aws-lambda-ric', 'index.mjs');

/**
 * A private mount namespace (for /opt) and a PID namespace in which RIE is process 1, so that when
 * RIE dies (or `unshare` is killed: --kill-child) the kernel ends the extension and the runtime too.
 */
const NAMESPACES = ['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child'];

/** RIE's invoke path, as `docker run -p 9000:8080` users call it. */
const INVOKE_PATH = '/2015-03-31/functions/function/invocations';

export interface RieOptions {
  /** A folder laid out like `/opt` (a synthesized layer): mounted at `/opt` in the namespace. */
  readonly layerDir: string;
  /** The runtime's command line, handler last (e.g. `[python, '-m', 'awslambdaric', 'app.handler']`). */
  readonly command: readonly string[];
  /** The function's code folder: RIE's and the runtime's working directory, and LAMBDA_TASK_ROOT. */
  readonly taskRoot: string;
  /** The function's environment variables (OPA_URL, ...). */
  readonly environment?: Record<string, string>;
  /** AWS_LAMBDA_FUNCTION_TIMEOUT in seconds. @default 10 */
  readonly timeoutSeconds?: number;
  /**
   * Files of the machine to cover, in the namespace only, with an empty file (`/dev/null`), as if
   * the OS lacked them: a library found there fails to load ("file too short").
   * @default - none
   */
  readonly hiddenFiles?: readonly string[];
}

export interface RieInvokeResult {
  /** RIE's HTTP status: 200 with the handler's result, 502 with an init or invoke error body, ... */
  readonly status: number;
  readonly body: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly json?: unknown;
}

export interface RieExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** ms from SIGTERM to RIE's exit. */
  readonly durationMs: number;
}

/** One line of RIE's combined output (its own log, the runtime's and the extensions'). */
export interface RieLine {
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** performance.now() when the line arrived. */
  readonly t: number;
}

/**
 * `unshare` arguments that run `command` in the private namespaces with `layerDir` mounted at
 * `/opt` and each of `hiddenFiles` covered by an empty file.
 */
export function sandboxArgs(layerDir: string, hiddenFiles: readonly string[], command: readonly string[]): string[] {
  const script = 'mount --bind "$1" /opt && shift && while [ "$1" != -- ]; do mount --bind /dev/null "$1" && shift; done && shift && exec "$@"';
  return [...NAMESPACES, '--', 'sh', '-c', script, 'rie-sandbox', layerDir, ...hiddenFiles, '--', ...command];
}

/** Throws a plain message when this machine cannot give RIE a private `/opt`. */
export function assertMountNamespace(): void {
  const probe = spawnSync('unshare', [...NAMESPACES, '--', 'sh', '-c', 'mount --bind "$1" /opt', 'probe', ROOT], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('the RIE tests run AWS\'s Runtime Interface Emulator in a private mount namespace with the layer bind-mounted at /opt, '
      + 'and this machine cannot create one (`unshare --mount` + `mount --bind` need root or CAP_SYS_ADMIN): '
      + `${probe.error?.message ?? probe.stderr.trim()}`);
  }
}

/** Throws when an installed piece is missing, naming the script that installs it. */
export function assertInstalled(file: string, installer: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`${installer}\``);
}

export class RieProcess {
  /** Starts RIE in its namespace and waits until it accepts invokes (nothing else starts before the first one). */
  public static async start(options: RieOptions): Promise<RieProcess> {
    assertInstalled(RIE_BIN, 'npx projen rie:install');
    assertMountNamespace();
    const [rieAddress, runtimeApi] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const env: Record<string, string> = {
      // RIE hands its whole environment to the runtime and the extensions: only what a function has.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      LANG: 'C.UTF-8',
      LAMBDA_TASK_ROOT: options.taskRoot,
      AWS_LAMBDA_FUNCTION_NAME: 'rie-function',
      AWS_LAMBDA_FUNCTION_TIMEOUT: String(options.timeoutSeconds ?? 10),
      AWS_REGION: 'us-east-1',
      ...options.environment,
    };
    const child = spawn('unshare', sandboxArgs(options.layerDir, options.hiddenFiles ?? [], [
      RIE_BIN, '--runtime-api-address', runtimeApi, '--runtime-interface-emulator-address', rieAddress, ...options.command,
    ]), { cwd: options.taskRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const rie = new RieProcess(child, `http://${rieAddress}${INVOKE_PATH}`);
    LIVE.add(rie);
    await rie.waitListening(rieAddress);
    return rie;
  }

  /** Every output line, in arrival order. */
  public readonly output: RieLine[] = [];
  private exitInfo?: { exitCode: number | null; signal: string | null; t: number };
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess, public readonly invokeUrl: string) {
    for (const [stream, readable] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      if (!readable) continue;
      readline.createInterface({ input: readable, crlfDelay: Infinity })
        .on('line', (line) => this.output.push({ stream, line, t: performance.now() }));
    }
    this.exited = new Promise((resolve) => {
      child.on('exit', (exitCode, signal) => {
        this.exitInfo = { exitCode, signal, t: performance.now() };
        resolve();
      });
    });
  }

  /** One invoke through RIE's HTTP front end, as `curl -d '{...}' localhost:9000/...` does. */
  public invoke(event: unknown, timeoutMs = 30_000): Promise<RieInvokeResult> {
    const payload = JSON.stringify(event);
    return new Promise((resolve, reject) => {
      const req = http.request(this.invokeUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, json });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`RIE did not answer the invoke within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** SIGTERM to RIE, as `docker stop` sends it: RIE runs the Shutdown phase and exits. */
  public async stop(timeoutMs = 10_000): Promise<RieExit> {
    const t0 = performance.now();
    // `unshare --fork` forwards no signal: RIE is its only child.
    if (!this.exitInfo) process.kill(this.riePid(), 'SIGTERM');
    await within(this.exited, timeoutMs, 'RIE exiting after SIGTERM');
    LIVE.delete(this);
    return { exitCode: this.exitInfo!.exitCode, signal: this.exitInfo!.signal, durationMs: this.exitInfo!.t - t0 };
  }

  /** SIGKILL to `unshare`, which kills RIE and with it every process of its PID namespace. */
  public async kill(): Promise<void> {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    await within(this.exited, 5000, 'RIE exiting after SIGKILL').catch(() => undefined);
    LIVE.delete(this);
  }

  /** The text of every output line. */
  public lines(): string[] {
    return this.output.map((l) => l.line);
  }

  /** The JSON object lines the extension logged (it logs one JSON object per line; RIE passes them through). */
  public jsonLines(): Array<Record<string, unknown>> {
    const parsed: Array<Record<string, unknown>> = [];
    for (const { line } of this.output) {
      const text = line.trim();
      if (!text.startsWith('{')) continue;
      try {
        const value: unknown = JSON.parse(text);
        if (value && typeof value === 'object' && !Array.isArray(value)) parsed.push(value as Record<string, unknown>);
      } catch {
        // plain output that starts with '{'
      }
    }
    return parsed;
  }

  /** The Init phase's duration (ms) as RIE measures it, from its `INIT REPORT` line. */
  public initDurationMs(): number | undefined {
    return parseInitReport(this.lines());
  }

  /** RIE's process id: the one child of `unshare`. */
  private riePid(): number {
    const pid = this.child.pid!;
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length !== 1) throw new Error(`expected unshare (${pid}) to have one child, RIE; found ${JSON.stringify(children)}`);
    return Number(children[0]);
  }

  private async waitListening(address: string): Promise<void> {
    const [host, port] = address.split(':');
    const deadline = performance.now() + 10_000;
    for (;;) {
      if (this.exitInfo) {
        throw new Error(`aws-lambda-rie exited (code ${this.exitInfo.exitCode}, signal ${this.exitInfo.signal}) before listening:\n${this.lines().join('\n')}`);
      }
      const connected = await new Promise<boolean>((resolve) => {
        const req = http.request({ host, port: Number(port), method: 'GET', path: '/', timeout: 500 }, (res) => {
          res.resume();
          resolve(true);
        });
        req.on('error', () => resolve(false));
        req.on('timeout', () => req.destroy());
        req.end();
      });
      if (connected) return;
      if (performance.now() > deadline) throw new Error(`aws-lambda-rie did not listen on ${address} within 10 s:\n${this.lines().join('\n')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * rapid's measure of the Init phase, `INIT REPORT(durationMs: <ms>)`, from extension start to the
 * runtime's and every extension's first `next`. (The REPORT line's `Init Duration` is not it: RIE
 * measures there only the call that queues the lazy init, a few hundredths of a millisecond.)
 */
export function parseInitReport(lines: readonly string[]): number | undefined {
  for (const line of lines) {
    const match = /INIT REPORT\(durationMs: ([\d.]+)\)/.exec(line);
    if (match) return Number(match[1]);
  }
  return undefined;
}

/** The `INIT REPORT` line itself, as RIE printed it. */
export function initReportLine(lines: readonly string[]): string | undefined {
  return lines.find((l) => l.includes('INIT REPORT('));
}

/** RIE processes of this test process, killed if it exits without stopping them. */
const LIVE = new Set<RieProcess>();
process.on('exit', () => {
  for (const rie of LIVE) void rie.kill();
});
