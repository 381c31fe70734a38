import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { EXTENSIONS_API_PREFIX, ExtensionsApi, type ExtensionRecord, type ProcessExit, type ReportedError, type ShutdownReason } from './extensions-api';
import { sendError } from './http-util';
import { jsonLines, LifecycleRecorder, type LifecycleEvent, type OutputLine } from './lifecycle-recorder';
import { RUNTIME_API_PREFIX, RuntimeApi, type Invocation } from './runtime-api';
import { extensionEnvironment, handlerModule, sandboxEnvironment } from './sandbox-environment';

/** The account id in ARNs and in the register response; AWS's documentation example account. */
export const EMULATED_ACCOUNT_ID = '123456789012';

const DEFAULT_CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'emulated-session-token',
};

/**
 * The share of the Shutdown window the runtime gets to exit after SIGTERM, before extensions get
 * SHUTDOWN: rapid's `runtimeDeadlineShare` (AWS's Runtime Interface Emulator, rapid/shutdown.go),
 * 600 ms of the 2000 ms window. The Lambda docs say "up to 300 ms"; the code Lambda runs says 30 %.
 */
const RUNTIME_SHUTDOWN_SHARE = 0.3;
/** How long to wait for the OS to report the exit of a process that was sent SIGKILL. */
const REAP_TIMEOUT_MS = 2000;
/** After an extension reports an init error, it usually exits by itself; let it, so its exit code is recorded. */
const INIT_ERROR_EXIT_GRACE_MS = 1000;

/**
 * The runtime process's program. It sits in `emulator/`, one level above this file when run from
 * source; a bundle of the emulator may instead copy it beside itself.
 */
const BOOTSTRAP = [path.resolve(__dirname, '..', 'runtime-bootstrap.cjs'), path.resolve(__dirname, 'runtime-bootstrap.cjs')]
  .find((candidate) => fs.existsSync(candidate)) ?? path.resolve(__dirname, '..', 'runtime-bootstrap.cjs');

export interface LambdaEmulatorOptions {
  /** A directory laid out like /opt: every executable file in `${layerDir}/extensions/` is spawned as an external extension. */
  readonly layerDir: string;
  /** Absolute path of a CommonJS module and its export (default `handler`): `async (event, context) => result`. */
  readonly handler: { readonly file: string; readonly export?: string };
  /**
   * The runtime's command line, run in the handler's folder instead of the emulator's Node.js
   * bootstrap: a runtime interface client of another language, e.g.
   * `[python, '-m', 'awslambdaric', 'app.handler']` with `handler.file` the `app.py` it loads.
   * @default - the emulator's Node.js bootstrap runs `handler`
   */
  readonly runtimeCommand?: readonly string[];
  /** The function's environment variables, given to the runtime and to every extension. */
  readonly environment?: Record<string, string>;
  /** @default 'emulated-function' */
  readonly functionName?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default fixed fake values, with a session token */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Function timeout in ms, which sets the INVOKE deadlineMs. @default 3000 */
  readonly timeout?: number;
  /** Limit of the Init phase in ms. @default 10000 (Lambda's) */
  readonly initTimeout?: number;
  /** Limit of the Shutdown phase in ms. @default 2000 (Lambda's, with external extensions) */
  readonly shutdownTimeout?: number;
  /** AWS_LAMBDA_FUNCTION_MEMORY_SIZE. @default 128 */
  readonly memorySize?: number;
  /** Also write every output line of the children to this process's stderr, prefixed by the source. @default false */
  readonly echo?: boolean;
}

/** Milliseconds measured from the extension's spawn. */
export interface ExtensionInitDuration {
  /** ms from spawn to a successful `/register`. */
  readonly register: number;
  /** ms from spawn to the first `/event/next`: the extension's "time from process start to ready". */
  readonly ready: number;
}

export type InitResult =
  | {
    readonly ok: true;
    /** Per extension, by name. */
    readonly durations: Record<string, ExtensionInitDuration>;
    /** ms from the runtime's spawn to its first `/invocation/next`. */
    readonly runtimeReadyMs: number;
    /** ms of the whole Init phase. */
    readonly totalMs: number;
  }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string; readonly source: string };

export interface InvokeError {
  readonly errorType: string;
  readonly errorMessage: string;
}

export interface InvokeResult {
  readonly requestId: string;
  /** The handler's return value, parsed from the JSON the runtime posted. */
  readonly result?: unknown;
  readonly error?: InvokeError;
  /** The deadline (epoch ms) given to the runtime and the extensions. */
  readonly deadlineMs: number;
  /** ms from handing out the event to the end of the Invoke phase (runtime answered, every extension back in /event/next). */
  readonly durationMs: number;
  /** ms from the runtime's answer to the last extension's `/event/next`. */
  readonly extensionOverheadMs: number;
}

export interface ProcessShutdown {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** True if the process was sent SIGKILL because it outlived its limit. */
  readonly killed: boolean;
  /** ms from the start of the Shutdown phase to the exit. */
  readonly durationMs: number;
}

export interface ExtensionShutdown extends ProcessShutdown {
  readonly name: string;
}

export interface InvokeOptions {
  /**
   * The invoke's `X-Amzn-Trace-Id`: given to the runtime (`Lambda-Runtime-Trace-Id`) and to
   * extensions (`tracing`). Without one, neither gets a trace id, as rapid (AWS's RIE) does.
   * `newTraceId()` makes one.
   * @default - none
   */
  readonly traceId?: string;
}

export interface ShutdownResult {
  readonly reason: ShutdownReason;
  /** The SHUTDOWN event's deadlineMs (epoch ms). */
  readonly deadlineMs: number;
  readonly durationMs: number;
  readonly runtime?: ProcessShutdown;
  readonly extensions: ExtensionShutdown[];
}

type Phase = 'created' | 'init' | 'ready' | 'invoking' | 'broken' | 'shutdown' | 'closed';

interface InitFailure {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly source: string;
}

/** A spawned process as the emulator tracks it; extensions' records have the same shape. */
interface ChildState {
  process?: ChildProcess;
  exit?: ProcessExit;
  /** Set when the emulator sent SIGKILL. */
  killed: boolean;
}

interface RuntimeProcess extends ChildState {
  readonly spawnedAt: number;
}

/** Children of every emulator in this process, killed if the process exits without close(). */
const LIVE_CHILDREN = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Runs a layer's external extensions beside a Node.js handler on one machine, following the
 * Lambda Extensions API and Runtime API: real processes, a real HTTP server on 127.0.0.1.
 *
 * Phases follow https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html:
 * `start()` is Init, `invoke()` one Invoke, `shutdown()` the Shutdown phase. A function timeout
 * (or a crash) leaves the environment unusable, as Lambda resets it: further `invoke()` calls
 * reject, and `shutdown('timeout' | 'failure')` ends it.
 */
export class LambdaEmulator {
  private readonly recorder: LifecycleRecorder;
  private readonly changes = new EventEmitter();
  private readonly server: http.Server;
  private readonly extensionsApi: ExtensionsApi;
  private readonly runtimeApi: RuntimeApi;
  private readonly initErrors: ReportedError[] = [];
  private readonly functionName: string;
  private readonly handlerFile: string;
  private readonly handlerExport: string;
  private readonly timeout: number;
  private readonly initTimeout: number;
  private readonly shutdownTimeout: number;
  private phase: Phase = 'created';
  private address = '';
  private env: Record<string, string> = {};
  private runtime?: RuntimeProcess;
  private broken?: InvokeError;
  private shutdownPromise?: Promise<ShutdownResult>;
  private closePromise?: Promise<void>;

  constructor(private readonly options: LambdaEmulatorOptions) {
    if (!path.isAbsolute(options.handler.file)) {
      throw new Error(`handler.file must be an absolute path, got ${options.handler.file}`);
    }
    this.functionName = options.functionName ?? 'emulated-function';
    this.handlerFile = options.handler.file;
    this.handlerExport = options.handler.export ?? 'handler';
    this.timeout = options.timeout ?? 3000;
    this.initTimeout = options.initTimeout ?? 10_000;
    this.shutdownTimeout = options.shutdownTimeout ?? 2000;
    this.recorder = new LifecycleRecorder(options.echo ?? false);
    this.changes.setMaxListeners(0);
    const changed = (): void => {
      this.changes.emit('change');
    };
    const initError = (error: ReportedError): void => {
      this.initErrors.push(error);
    };
    this.extensionsApi = new ExtensionsApi(this.recorder, {
      functionName: this.functionName,
      functionVersion: '$LATEST',
      handler: `${handlerModule(this.handlerFile)}.${this.handlerExport}`,
      accountId: EMULATED_ACCOUNT_ID,
    }, changed, initError);
    // Registration stays open until the runtime asks for its first invocation, so that internal
    // extensions can register from the runtime process during its init (rapid: registrationService.TurnOff()).
    this.runtimeApi = new RuntimeApi(this.recorder, () => {
      if (this.runtimeApi.readyAt !== undefined) this.extensionsApi.registrationOpen = false;
      changed();
    }, initError);
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        sendError(res, 500, 'ServiceException', err instanceof Error ? err.message : String(err));
      });
    });
  }

  /** Recorded lifecycle steps, in order. */
  public get events(): LifecycleEvent[] {
    return this.recorder.events;
  }

  /** Every stdout/stderr line of every extension and of the runtime. */
  public get output(): OutputLine[] {
    return this.recorder.output;
  }

  /** `127.0.0.1:PORT`, the value of AWS_LAMBDA_RUNTIME_API, once `start()` has begun. */
  public get apiAddress(): string {
    return this.address;
  }

  /** The JSON object lines `source` (an extension's name or `'runtime'`) wrote. */
  public jsonLines(source: string): Array<Record<string, unknown>> {
    return jsonLines(this.recorder.output, source);
  }

  /** The Init phase: extensions start and register, then the runtime loads the handler. */
  public async start(): Promise<InitResult> {
    if (this.phase !== 'created') throw new Error(`start() can be called once, on a new emulator (phase is ${this.phase})`);
    this.phase = 'init';
    const begin = this.recorder.now();
    const remaining = (): number => Math.max(0, begin + this.initTimeout - this.recorder.now());

    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.address = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    if (this.currentPhase() === 'closed') {
      // close() ran while the server was still binding and found nothing to close.
      await this.closeServer();
      return { ok: false, ...this.initFailure()! };
    }
    this.env = sandboxEnvironment({
      environment: this.options.environment ?? {},
      functionName: this.functionName,
      functionVersion: '$LATEST',
      memorySize: this.options.memorySize ?? 128,
      region: this.options.region ?? 'us-east-1',
      credentials: this.options.credentials ?? DEFAULT_CREDENTIALS,
      handlerFile: this.handlerFile,
      handlerExport: this.handlerExport,
      runtimeApi: this.address,
    });

    for (const file of listExtensions(path.join(this.options.layerDir, 'extensions'))) {
      this.spawnExtension(file);
    }
    const extensions = this.extensionsApi.all();

    // Lambda starts the runtime only once every extension has registered ("Extension init" sub-phase).
    const registered = await this.waitFor(
      () => this.initFailure() ?? (extensions.every((e) => e.id !== undefined) ? 'ok' as const : undefined),
      remaining(),
    );
    if (registered !== 'ok') {
      return this.failInit(registered ?? this.initTimedOut('every extension to register', extensions.filter((e) => e.id === undefined)));
    }

    this.spawnRuntime();
    // Every registered extension, internal ones included, must call next before init ends.
    const ready = await this.waitFor(
      () => this.initFailure() ?? (
        this.runtimeApi.readyAt !== undefined && this.extensionsApi.all().every((e) => e.firstNextAt !== undefined) ? 'ok' as const : undefined),
      remaining(),
    );
    if (ready !== 'ok') {
      return this.failInit(ready ?? this.initTimedOut('the runtime and every extension to call next',
        this.extensionsApi.all().filter((e) => e.firstNextAt === undefined)));
    }

    this.phase = 'ready';
    this.recorder.record({ type: 'init-done', source: 'emulator' });
    const durations: Record<string, ExtensionInitDuration> = {};
    for (const e of extensions) {
      durations[e.name] = { register: e.registeredAt! - e.spawnedAt, ready: e.firstNextAt! - e.spawnedAt };
    }
    return {
      ok: true,
      durations,
      runtimeReadyMs: this.runtimeApi.readyAt! - this.runtime!.spawnedAt,
      totalMs: this.recorder.now() - begin,
    };
  }

  /**
   * One Invoke phase: the event goes to the runtime and, at the same moment, INVOKE goes to every
   * extension registered for it. It ends when the runtime has answered and every such extension
   * is back in `/event/next`, or at the function's deadline.
   */
  public async invoke(event: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    if (this.phase === 'broken') {
      throw new Error(`the environment is unusable after ${this.broken!.errorType} (${this.broken!.errorMessage}); call shutdown()`);
    }
    if (this.phase !== 'ready') throw new Error(`invoke() needs a started, idle emulator (phase is ${this.phase})`);
    this.phase = 'invoking';
    const payload = JSON.stringify(event === undefined ? null : event);
    const deadlineMs = Date.now() + this.timeout;
    const invocation: Invocation = {
      requestId: randomUUID(),
      payload,
      deadlineMs,
      invokedFunctionArn: this.functionArn(),
      traceId: options.traceId,
    };
    const participants = this.extensionsApi.all().filter((e) => e.events.includes('INVOKE') && !e.exit);
    const begin = this.recorder.now();
    this.runtimeApi.dispatch(invocation);
    for (const e of participants) {
      this.extensionsApi.deliver(e, {
        eventType: 'INVOKE',
        deadlineMs,
        requestId: invocation.requestId,
        invokedFunctionArn: invocation.invokedFunctionArn,
        ...(invocation.traceId !== undefined ? { tracing: { type: 'X-Amzn-Trace-Id', value: invocation.traceId } } : {}),
      });
    }

    const settled = await this.waitFor(() => {
      if (this.phase === 'closed' || this.broken) return 'aborted' as const;
      const extensionsBack = participants.every((e) => !e.busy && e.queue.length === 0);
      return invocation.outcome && extensionsBack ? 'done' as const : undefined;
    }, Math.max(0, deadlineMs - Date.now()));
    const end = this.recorder.now();

    const outcome = invocation.outcome;
    let error: InvokeError | undefined;
    let result: unknown;
    if (outcome?.kind === 'response') result = parseJson(outcome.body);
    if (outcome?.kind === 'error') error = { errorType: outcome.error.errorType, errorMessage: outcome.error.errorMessage ?? '' };

    if (settled === undefined) {
      // Lambda ends a timed-out invocation and resets the environment; here the runtime is killed
      // and the environment stays unusable until shutdown('timeout').
      const waitingFor = [
        ...(outcome ? [] : ['runtime']),
        ...participants.filter((e) => e.busy || e.queue.length > 0).map((e) => e.name),
      ];
      error = { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(this.timeout / 1000).toFixed(2)} seconds` };
      this.recorder.record({ type: 'timeout', source: 'emulator', requestId: invocation.requestId, errorMessage: `waiting for ${waitingFor.join(', ')}` });
      this.broken = error;
      if (this.runtime && !this.runtime.exit) this.kill('runtime', this.runtime);
    } else if (settled === 'aborted') {
      error = this.currentPhase() === 'closed'
        ? { errorType: 'Emulator.Closed', errorMessage: 'the emulator was closed during the invocation' }
        : this.broken;
    }
    const phase = this.currentPhase();
    if (phase === 'invoking') this.phase = this.broken ? 'broken' : 'ready';
    else if (phase !== 'closed' && this.broken) this.phase = 'broken';

    const lastNext = Math.max(...participants.map((e) => e.lastNextAt ?? 0));
    const extensionOverheadMs = outcome && participants.length > 0 && settled === 'done' ? Math.max(0, lastNext - outcome.t) : 0;
    this.recorder.record({ type: 'invoke-done', source: 'emulator', requestId: invocation.requestId, errorType: error?.errorType });
    return {
      requestId: invocation.requestId,
      ...(outcome?.kind === 'response' ? { result } : {}),
      ...(error ? { error } : {}),
      deadlineMs,
      durationMs: end - begin,
      extensionOverheadMs,
    };
  }

  /**
   * The Shutdown phase, as rapid runs it: with extensions registered, the runtime gets SIGTERM and
   * 30 % of the window (SIGKILL after that), then extensions registered for SHUTDOWN get the event
   * with deadlineMs at the end of the window, and whatever still runs then is killed. With no
   * extension registered the runtime is killed at once (Lambda's graceful shutdown exists only for
   * functions with extensions). Closes the emulator.
   */
  public shutdown(reason: ShutdownReason = 'spindown'): Promise<ShutdownResult> {
    this.shutdownPromise ??= this.runShutdown(reason);
    return this.shutdownPromise;
  }

  /** Kills whatever is left (SIGKILL) and closes the server. Safe to call more than once. */
  public close(): Promise<void> {
    this.closePromise ??= this.runClose();
    return this.closePromise;
  }

  private async runShutdown(reason: ShutdownReason): Promise<ShutdownResult> {
    const begin = this.recorder.now();
    const deadlineMs = Date.now() + this.shutdownTimeout;
    if (this.phase === 'created' || this.phase === 'closed') {
      await this.close();
      return { reason, deadlineMs, durationMs: 0, extensions: this.extensionResults(begin) };
    }
    this.phase = 'shutdown';
    this.recorder.record({ type: 'shutdown-start', source: 'emulator', shutdownReason: reason, deadlineMs });
    const phaseLeft = (): number => Math.max(0, deadlineMs - Date.now());

    const runtime = this.runtime;
    const anyRegistered = this.extensionsApi.all().some((e) => e.id !== undefined);
    if (runtime?.process && !runtime.exit) {
      let stopped: true | undefined;
      if (anyRegistered) {
        runtime.process.kill('SIGTERM');
        this.recorder.record({ type: 'signal', source: 'runtime', signal: 'SIGTERM' });
        stopped = await this.waitFor(() => (runtime.exit ? true : undefined), Math.min(this.shutdownTimeout * RUNTIME_SHUTDOWN_SHARE, phaseLeft()));
      }
      if (!stopped) {
        this.kill('runtime', runtime);
        await this.waitFor(() => (runtime.exit ? true : undefined), REAP_TIMEOUT_MS);
      }
    }

    const notified = this.extensionsApi.all().filter((e) => e.events.includes('SHUTDOWN') && e.id !== undefined && !e.exit);
    for (const e of notified) this.extensionsApi.deliver(e, { eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs });
    await this.waitFor(() => (notified.every((e) => e.exit) ? true : undefined), phaseLeft());

    const leftOver = this.extensionsApi.all().filter((e) => e.process && !e.exit);
    for (const e of leftOver) this.kill(e.name, e);
    await this.waitFor(() => (leftOver.every((e) => e.exit) ? true : undefined), REAP_TIMEOUT_MS);

    const result: ShutdownResult = {
      reason,
      deadlineMs,
      durationMs: this.recorder.now() - begin,
      ...(runtime ? { runtime: processResult(runtime, begin) } : {}),
      extensions: this.extensionResults(begin),
    };
    this.recorder.record({ type: 'shutdown-done', source: 'emulator', shutdownReason: reason });
    await this.close();
    return result;
  }

  private async runClose(): Promise<void> {
    this.phase = 'closed';
    this.changes.emit('change');
    const live: Array<{ name: string; state: ChildState }> = [];
    if (this.runtime?.process && !this.runtime.exit) live.push({ name: 'runtime', state: this.runtime });
    for (const e of this.extensionsApi.all()) {
      if (e.process && !e.exit) live.push({ name: e.name, state: e });
    }
    for (const child of live) this.kill(child.name, child.state);
    await this.waitFor(() => (live.every((c) => c.state.exit) ? true : undefined), REAP_TIMEOUT_MS);
    await this.closeServer();
  }

  private async closeServer(): Promise<void> {
    this.extensionsApi.abandonWaiting();
    this.runtimeApi.abandonWaiting();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (pathname.startsWith(`${EXTENSIONS_API_PREFIX}/`)) {
      return this.extensionsApi.handle(req, res, pathname.slice(EXTENSIONS_API_PREFIX.length));
    }
    if (pathname.startsWith(`${RUNTIME_API_PREFIX}/`)) {
      return this.runtimeApi.handle(req, res, pathname.slice(RUNTIME_API_PREFIX.length));
    }
    req.resume();
    sendError(res, 404, 'InvalidRequest', `unknown path ${pathname}`);
  }

  private spawnExtension(file: string): void {
    const record = this.extensionsApi.add(path.basename(file), file);
    this.spawnChild(record.name, file, [], extensionEnvironment(this.env), record, () => {
      if (this.phase === 'ready' || this.phase === 'invoking') {
        this.broken ??= { errorType: 'Extension.Crash', errorMessage: `extension ${record.name} exited (${describeExit(record.exit!)})` };
        if (this.phase === 'ready') this.phase = 'broken';
      }
    });
  }

  private spawnRuntime(): void {
    const state: RuntimeProcess = { spawnedAt: this.recorder.now(), killed: false };
    this.runtime = state;
    const [command, ...args] = this.options.runtimeCommand ?? [process.execPath, BOOTSTRAP, this.handlerFile, this.handlerExport];
    this.spawnChild('runtime', command, args, this.env, state, () => {
      if (this.phase === 'ready' || this.phase === 'invoking') {
        this.broken ??= { errorType: 'Runtime.ExitError', errorMessage: `the runtime exited (${describeExit(state.exit!)})` };
        if (this.phase === 'ready') this.phase = 'broken';
      }
    });
  }

  private spawnChild(
    source: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    state: ChildState,
    onUnexpectedExit: () => void,
  ): void {
    installExitHook();
    // Its own process group, so that a launcher's children die with it when it is killed.
    const child = spawn(command, args, {
      cwd: path.dirname(this.handlerFile),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    state.process = child;
    LIVE_CHILDREN.add(child);
    this.recorder.record({ type: 'spawn', source });
    this.recorder.capture(source, 'stdout', child.stdout);
    this.recorder.capture(source, 'stderr', child.stderr);
    const exited = (exitCode: number | null, signal: string | null, errorMessage?: string): void => {
      if (state.exit) return;
      LIVE_CHILDREN.delete(child);
      state.exit = { exitCode, signal, t: this.recorder.now() };
      const unexpected = this.phase !== 'shutdown' && this.phase !== 'closed' && !state.killed;
      this.recorder.record({ type: 'exit', source, exitCode, signal, unexpected, ...(errorMessage ? { errorMessage } : {}) });
      if (unexpected) onUnexpectedExit();
      this.changes.emit('change');
    };
    child.on('exit', (code, signal) => exited(code, signal));
    child.on('error', (err) => exited(null, null, `could not run ${command}: ${err.message}`));
  }

  private kill(source: string, state: ChildState): void {
    if (state.exit || !state.process) return;
    state.killed = true;
    this.recorder.record({ type: 'kill', source, signal: 'SIGKILL' });
    killGroup(state.process);
  }

  /** The first reason the Init phase cannot succeed, if there is one yet. */
  private initFailure(): InitFailure | undefined {
    if (this.phase === 'closed') return { errorType: 'Emulator.Closed', errorMessage: 'the emulator was closed during init', source: 'emulator' };
    const reported = this.initErrors[0];
    if (reported) {
      return { errorType: reported.errorType, errorMessage: reported.errorMessage ?? '', source: reported.source };
    }
    for (const e of this.extensionsApi.all()) {
      if (e.exit) {
        return { errorType: 'Extension.Crash', errorMessage: `extension ${e.name} exited during init (${describeExit(e.exit)})`, source: e.name };
      }
    }
    if (this.runtime?.exit) {
      return { errorType: 'Runtime.ExitError', errorMessage: `the runtime exited during init (${describeExit(this.runtime.exit)})`, source: 'runtime' };
    }
    return undefined;
  }

  private initTimedOut(what: string, pending: ExtensionRecord[]): InitFailure {
    const names = pending.map((e) => e.name);
    if (what.startsWith('the runtime') && this.runtimeApi.readyAt === undefined) names.push('runtime');
    return {
      errorType: 'Sandbox.Timedout',
      errorMessage: `init did not complete within ${this.initTimeout} ms: waited for ${what}, still waiting for ${names.join(', ')}`,
      source: 'emulator',
    };
  }

  private async failInit(failure: InitFailure): Promise<InitResult> {
    this.recorder.record({ type: 'init-done', source: 'emulator', errorType: failure.errorType, errorMessage: failure.errorMessage });
    const reporter = this.extensionsApi.extensions.get(failure.source);
    if (reporter && !reporter.exit && failure.errorType !== 'Sandbox.Timedout') {
      await this.waitFor(() => (reporter.exit ? true : undefined), INIT_ERROR_EXIT_GRACE_MS);
    }
    await this.close();
    return { ok: false, ...failure };
  }

  private extensionResults(phaseStart: number): ExtensionShutdown[] {
    return this.extensionsApi.external().map((e) => ({ name: e.name, ...processResult(e, phaseStart) }));
  }

  private functionArn(): string {
    return `arn:aws:lambda:${this.options.region ?? 'us-east-1'}:${EMULATED_ACCOUNT_ID}:function:${this.functionName}`;
  }

  /** Read through a call, because the phase changes across awaits where the compiler's narrowing cannot see it. */
  private currentPhase(): Phase {
    return this.phase;
  }

  /** Resolves with the first defined value of `check`, re-evaluated on every state change, or undefined after `timeoutMs`. */
  private waitFor<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (value: T | undefined): void => {
        clearTimeout(timer);
        this.changes.off('change', evaluate);
        resolve(value);
      };
      const evaluate = (): void => {
        const value = check();
        if (value !== undefined) finish(value);
      };
      timer = setTimeout(() => finish(check()), timeoutMs);
      this.changes.on('change', evaluate);
      evaluate();
    });
  }
}

/** Executable regular files, sorted by name, as Lambda starts them. */
function listExtensions(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.sort().map((n) => path.join(dir, n)).filter((file) => {
    try {
      if (!fs.statSync(file).isFile()) return false;
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function processResult(state: ChildState, phaseStart: number): ProcessShutdown {
  return {
    exitCode: state.exit?.exitCode ?? null,
    signal: state.exit?.signal ?? null,
    killed: state.killed,
    durationMs: state.exit ? Math.max(0, state.exit.t - phaseStart) : 0,
  };
}

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Detached children outlive their parent; do not leave extensions running after a crashed test run.
  process.on('exit', () => {
    for (const child of LIVE_CHILDREN) killGroup(child);
  });
}

/** An X-Ray trace header in the format Lambda passes to the runtime and in INVOKE's `tracing`. */
/** A fresh X-Ray trace header, as Lambda's front end adds to a request that has none. */
export function newTraceId(): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=1`;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}
