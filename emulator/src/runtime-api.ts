import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReportedError } from './extensions-api';
import { header, parseErrorReport, readBody, sendError, sendJson } from './http-util';
import type { LifecycleRecorder } from './lifecycle-recorder';

/**
 * The Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), served under
 * `/2018-06-01/runtime`: the runtime process long-polls `/invocation/next` and answers each
 * invocation by its request id.
 */

export const RUNTIME_API_PREFIX = '/2018-06-01/runtime';

export interface Invocation {
  readonly requestId: string;
  /** The event, already serialized: the runtime receives it byte for byte. */
  readonly payload: string;
  readonly deadlineMs: number;
  readonly invokedFunctionArn: string;
  /** Absent when the invoke carried no trace header. */
  readonly traceId?: string;
  deliveredAt?: number;
  outcome?:
  | { readonly kind: 'response'; readonly body: string; readonly t: number }
  | { readonly kind: 'error'; readonly error: ReportedError; readonly t: number };
}

export class RuntimeApi {
  public readyAt?: number;
  public initError?: ReportedError;
  /** The invocation handed out (or about to be) and not yet answered. */
  public current?: Invocation;
  private waiting?: ServerResponse;

  constructor(
    private readonly recorder: LifecycleRecorder,
    private readonly onChange: () => void,
    private readonly onInitError: (error: ReportedError) => void,
  ) {}

  public async handle(req: IncomingMessage, res: ServerResponse, route: string): Promise<void> {
    if (req.method === 'GET' && route === '/invocation/next') return this.next(req, res);
    if (req.method === 'POST' && route === '/init/error') return this.reportInitError(req, res);
    const match = /^\/invocation\/([^/]+)\/(response|error)$/.exec(route);
    if (req.method === 'POST' && match) return this.answer(req, res, decodeURIComponent(match[1]), match[2] as 'response' | 'error');
    await readBody(req);
    sendError(res, 404, 'InvalidRequest', `no Runtime API route ${req.method} ${RUNTIME_API_PREFIX}${route}`);
  }

  /** Queues the invocation; the runtime gets it now if it is already waiting in `/invocation/next`. */
  public dispatch(invocation: Invocation): void {
    this.current = invocation;
    this.flush();
  }

  public abandonWaiting(): void {
    this.waiting?.destroy();
    this.waiting = undefined;
  }

  private async next(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req);
    if (this.readyAt === undefined) {
      this.readyAt = this.recorder.now();
      this.recorder.record({ type: 'runtime-ready', source: 'runtime' });
    }
    this.waiting?.destroy();
    this.waiting = res;
    res.on('close', () => {
      if (this.waiting === res) this.waiting = undefined;
    });
    this.flush();
    this.onChange();
  }

  private async answer(req: IncomingMessage, res: ServerResponse, requestId: string, kind: 'response' | 'error'): Promise<void> {
    const body = await readBody(req);
    const invocation = this.current;
    if (!invocation || invocation.requestId !== requestId || invocation.deliveredAt === undefined) {
      sendError(res, 400, 'InvalidRequestID', `no invocation in progress with request id ${requestId}`);
      return;
    }
    if (invocation.outcome) {
      sendError(res, 403, 'InvalidStateTransition', `invocation ${requestId} was already answered`);
      return;
    }
    const t = this.recorder.now();
    if (kind === 'response') {
      invocation.outcome = { kind, body, t };
      this.recorder.record({ type: 'response', source: 'runtime', requestId });
    } else {
      const report = parseErrorReport(body);
      const errorType = report.errorType ?? header(req, 'Lambda-Runtime-Function-Error-Type') ?? 'Runtime.Unknown';
      invocation.outcome = { kind, t, error: { source: 'runtime', errorType, errorMessage: report.errorMessage, stackTrace: report.stackTrace } };
      this.recorder.record({ type: 'invocation-error', source: 'runtime', requestId, errorType, errorMessage: report.errorMessage });
    }
    sendJson(res, 202, { status: 'OK' });
    this.onChange();
  }

  private async reportInitError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const report = parseErrorReport(body);
    const errorType = report.errorType ?? header(req, 'Lambda-Runtime-Function-Error-Type') ?? 'Runtime.Unknown';
    this.initError = { source: 'runtime', errorType, errorMessage: report.errorMessage, stackTrace: report.stackTrace };
    this.recorder.record({ type: 'init-error', source: 'runtime', errorType, errorMessage: report.errorMessage });
    sendJson(res, 202, { status: 'OK' });
    this.onInitError(this.initError);
    this.onChange();
  }

  private flush(): void {
    const res = this.waiting;
    const invocation = this.current;
    if (!res || !invocation || invocation.deliveredAt !== undefined) return;
    this.waiting = undefined;
    invocation.deliveredAt = this.recorder.now();
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(invocation.payload).toString(),
      'Lambda-Runtime-Aws-Request-Id': invocation.requestId,
      'Lambda-Runtime-Deadline-Ms': invocation.deadlineMs.toString(),
      'Lambda-Runtime-Invoked-Function-Arn': invocation.invokedFunctionArn,
      ...(invocation.traceId !== undefined ? { 'Lambda-Runtime-Trace-Id': invocation.traceId } : {}),
    });
    res.end(invocation.payload);
    this.recorder.record({ type: 'invocation-delivered', source: 'runtime', requestId: invocation.requestId, deadlineMs: invocation.deadlineMs });
  }
}
