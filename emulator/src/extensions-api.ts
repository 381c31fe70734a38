import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { header, parseErrorReport, readBody, sendError, sendJson } from './http-util';
import type { LifecycleRecorder } from './lifecycle-recorder';

/**
 * The Extensions API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html),
 * served under `/2020-01-01/extension`. It owns the state of every external extension; the
 * emulator decides when events are sent.
 */

export const EXTENSIONS_API_PREFIX = '/2020-01-01/extension';

export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';
const EVENT_TYPES: readonly ExtensionEventType[] = ['INVOKE', 'SHUTDOWN'];

export interface InvokeEvent {
  readonly eventType: 'INVOKE';
  readonly deadlineMs: number;
  readonly requestId: string;
  readonly invokedFunctionArn: string;
  /** Only when the invoke carried a trace header: rapid (AWS's RIE) leaves the field out otherwise. */
  readonly tracing?: { readonly type: 'X-Amzn-Trace-Id'; readonly value: string };
}

/**
 * Why the environment shuts down. The Lambda docs list spindown, timeout and failure; rapid (the
 * lifecycle code in AWS's Runtime Interface Emulator) also sends `SandboxTerminated` when the
 * sandbox is stopped from outside (RIE on SIGTERM). An extension must accept any string.
 */
export type ShutdownReason = 'spindown' | 'timeout' | 'failure' | 'SandboxTerminated';

export interface ShutdownEvent {
  readonly eventType: 'SHUTDOWN';
  readonly shutdownReason: ShutdownReason;
  readonly deadlineMs: number;
}

export type ExtensionEvent = InvokeEvent | ShutdownEvent;

export interface ReportedError {
  readonly source: string;
  readonly errorType: string;
  readonly errorMessage?: string;
  readonly stackTrace?: unknown;
}

export interface ProcessExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly t: number;
}

/** Everything the emulator knows about one extension. */
export interface ExtensionRecord {
  /** An external extension's executable file name, which `Lambda-Extension-Name` repeats; an internal extension's chosen name. */
  readonly name: string;
  /**
   * The executable of an external extension. Absent for an internal extension: one that registered
   * under a name with no file in /opt/extensions, from inside the runtime process.
   */
  readonly file?: string;
  process?: ChildProcess;
  spawnedAt: number;
  id?: string;
  events: ExtensionEventType[];
  registeredAt?: number;
  firstNextAt?: number;
  lastNextAt?: number;
  /** The held `/event/next` long poll, if the extension is waiting. */
  waiting?: ServerResponse;
  /** Events sent while the extension was not waiting; the next `/event/next` takes the first. */
  queue: ExtensionEvent[];
  /** Between handing out an event and the extension's following `/event/next`. */
  busy: boolean;
  exit?: ProcessExit;
  /** Set when the emulator sent SIGKILL. */
  killed: boolean;
  initError?: ReportedError;
  exitError?: ReportedError;
}

export interface ExtensionsApiOptions {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly handler: string;
  readonly accountId: string;
}

export class ExtensionsApi {
  public readonly extensions = new Map<string, ExtensionRecord>();
  /** Lambda accepts `/register` during the Init phase only. */
  public registrationOpen = true;
  private readonly byId = new Map<string, ExtensionRecord>();

  constructor(
    private readonly recorder: LifecycleRecorder,
    private readonly info: ExtensionsApiOptions,
    private readonly onChange: () => void,
    private readonly onInitError: (error: ReportedError) => void,
  ) {}

  public add(name: string, file?: string): ExtensionRecord {
    const record: ExtensionRecord = { name, file, spawnedAt: this.recorder.now(), events: [], queue: [], busy: false, killed: false };
    this.extensions.set(name, record);
    return record;
  }

  public all(): ExtensionRecord[] {
    return [...this.extensions.values()];
  }

  /** The extensions that are processes of their own (files in /opt/extensions). */
  public external(): ExtensionRecord[] {
    return this.all().filter((e) => e.file !== undefined);
  }

  public async handle(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method === 'POST' && route === '/register') return this.register(req, res);
    if (req.method === 'GET' && route === '/event/next') return this.next(req, res);
    if (req.method === 'POST' && route === '/init/error') return this.reportError(req, res, 'init-error');
    if (req.method === 'POST' && route === '/exit/error') return this.reportError(req, res, 'exit-error');
    await readBody(req);
    sendError(res, 404, 'InvalidRequest', `no Extensions API route ${req.method} ${EXTENSIONS_API_PREFIX}${route}`);
  }

  /** Hands an event to the extension now if it is waiting, else when it next asks. */
  public deliver(record: ExtensionRecord, event: ExtensionEvent): void {
    record.queue.push(event);
    this.flush(record);
  }

  /** Ends held long polls, so that closing the server does not wait for them. */
  public abandonWaiting(): void {
    for (const record of this.extensions.values()) {
      record.waiting?.destroy();
      record.waiting = undefined;
    }
  }

  private async register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const name = header(req, 'Lambda-Extension-Name');
    const reject = (status: number, errorType: string, errorMessage: string): void => {
      this.recorder.record({ type: 'register-rejected', source: name ?? '(no name)', status, errorType, errorMessage });
      sendError(res, status, errorType, errorMessage);
    };
    // Error types and statuses as rapid (the lifecycle code in AWS's Runtime Interface Emulator) answers.
    if (name === undefined || name === '') {
      return reject(403, 'Extension.InvalidExtensionName', 'the Lambda-Extension-Name header is required: the extension\'s file name');
    }
    if (!this.registrationOpen) {
      return reject(403, 'Extension.RegistrationClosed', 'extensions can register only during the Init phase, until the runtime asks for its first invocation');
    }
    let events: unknown;
    try {
      events = (JSON.parse(body) as { events?: unknown }).events;
    } catch {
      return reject(400, 'InvalidRequestFormat', 'the register body must be JSON: {"events": ["INVOKE", "SHUTDOWN"]}');
    }
    if (!Array.isArray(events) || events.some((e) => !EVENT_TYPES.includes(e as ExtensionEventType))) {
      return reject(400, 'Extension.InvalidEventType', `events must be a list of INVOKE and SHUTDOWN, got ${JSON.stringify(events ?? null)}`);
    }
    // A name with no file in /opt/extensions is an internal extension, registered from inside the
    // runtime process (Lambda docs, "Extensions API": internal extensions run in the runtime
    // process and cannot register for SHUTDOWN). rapid does the same.
    const known = this.extensions.get(name);
    if (!known && events.includes('SHUTDOWN')) {
      return reject(403, 'Extension.InvalidEventType',
        `SHUTDOWN: ${JSON.stringify(name)} is no file in /opt/extensions, so it registers as an internal extension, and internal extensions cannot register for SHUTDOWN`);
    }
    if (known?.id !== undefined) {
      return reject(403, 'Extension.InvalidExtensionState', `extension ${known.name} is already registered`);
    }
    const record = known ?? this.add(name);
    record.id = randomUUID();
    record.events = [...new Set(events as ExtensionEventType[])];
    record.registeredAt = this.recorder.now();
    this.byId.set(record.id, record);
    this.recorder.record({ type: 'register', source: record.name, events: record.events });
    const accept = header(req, 'Lambda-Extension-Accept-Feature') ?? '';
    sendJson(res, 200, {
      functionName: this.info.functionName,
      functionVersion: this.info.functionVersion,
      handler: this.info.handler,
      // Lambda adds the account only to extensions that ask for it with this feature header.
      ...(accept.split(',').map((f) => f.trim()).includes('accountId') ? { accountId: this.info.accountId } : {}),
    }, { 'Lambda-Extension-Identifier': record.id });
    this.onChange();
  }

  private async next(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    const record = this.identify(req, res);
    if (!record) return;
    const now = this.recorder.now();
    record.firstNextAt ??= now;
    record.lastNextAt = now;
    record.busy = false;
    this.recorder.record({ type: 'next', source: record.name });
    record.waiting?.destroy();
    record.waiting = res;
    res.on('close', () => {
      if (record.waiting === res) record.waiting = undefined;
    });
    this.flush(record);
    this.onChange();
  }

  private async reportError(req: IncomingMessage, res: ServerResponse, type: 'init-error' | 'exit-error'): Promise<void> {
    const body = await readBody(req);
    const record = this.identify(req, res);
    if (!record) return;
    const errorType = header(req, 'Lambda-Extension-Function-Error-Type');
    if (errorType === undefined || errorType === '') {
      sendError(res, 400, 'InvalidRequestFormat', 'the Lambda-Extension-Function-Error-Type header is required');
      return;
    }
    const report = parseErrorReport(body);
    const error: ReportedError = { source: record.name, errorType, errorMessage: report.errorMessage, stackTrace: report.stackTrace };
    this.recorder.record({ type, source: record.name, errorType, errorMessage: report.errorMessage });
    if (type === 'init-error') record.initError = error;
    else record.exitError = error;
    sendJson(res, 202, { status: 'OK' });
    if (type === 'init-error') this.onInitError(error);
    this.onChange();
  }

  private identify(req: IncomingMessage, res: ServerResponse): ExtensionRecord | undefined {
    const id = header(req, 'Lambda-Extension-Identifier');
    const record = id === undefined ? undefined : this.byId.get(id);
    if (!record) {
      sendError(res, 403, 'Extension.UnknownExtensionIdentifier',
        `Lambda-Extension-Identifier must be an identifier returned by /register, got ${JSON.stringify(id ?? null)}`);
    }
    return record;
  }

  private flush(record: ExtensionRecord): void {
    const res = record.waiting;
    const event = record.queue[0];
    if (!res || !event) return;
    record.queue.shift();
    record.waiting = undefined;
    record.busy = true;
    sendJson(res, 200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    this.recorder.record({
      type: 'event-delivered',
      source: record.name,
      eventType: event.eventType,
      deadlineMs: event.deadlineMs,
      ...(event.eventType === 'INVOKE' ? { requestId: event.requestId } : { shutdownReason: event.shutdownReason }),
    });
  }
}
