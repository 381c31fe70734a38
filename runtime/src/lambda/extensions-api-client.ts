/**
 * Client of the Lambda Extensions API
 * (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html), on a bare socket
 * (`http-over-socket.ts`, which says why): free of `node:http`, so the program (`entry.ts`) registers
 * with it before it loads anything else. The long poll has no timeout at all; every other request
 * has `REQUEST_TIMEOUT_MS`.
 */
import { ConfigError, ExtensionError, ExtensionErrorReason, errorMessage } from '../errors';
import { NoAnswerError, requestOverSocket } from './http-over-socket';
import type { ErrorResponse, NextEvent, RegisterResponse, StatusResponse } from './types';

/** Path prefix of every Extensions API route, version 2020-01-01. */
export const EXTENSIONS_API_BASE_PATH = '/2020-01-01/extension';

/**
 * Limit for every request but the long poll. The API is local to the execution environment and
 * answers in milliseconds; 10 s is also Lambda's whole init phase, so waiting longer is pointless.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

export const DEFAULT_EVENTS: readonly string[] = ['INVOKE', 'SHUTDOWN'];

/** A call to the Extensions API failed: no answer, a non-2xx status, or a body we cannot read. */
export class ExtensionsApiError extends ExtensionError {
  public constructor(
    reason: ExtensionErrorReason,
    message: string,
    /** HTTP status, when Lambda answered. */
    public readonly status?: number,
    /** `errorType` of Lambda's error body, when it sent one. */
    public readonly responseErrorType?: string,
    options?: { cause?: unknown },
  ) {
    super(reason, message, options);
    this.name = 'ExtensionsApiError';
  }
}

export interface ExtensionsApiClientOptions {
  /** @default REQUEST_TIMEOUT_MS */
  readonly requestTimeoutMs?: number;
  /**
   * The identifier of a registration made already: by the fast start (`entry.ts`), whose client
   * is another copy of this class, in `index.js`. @default - none until `register`
   */
  readonly identifier?: string;
}

interface Call {
  readonly method: 'GET' | 'POST';
  readonly route: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** undefined: no timeout (the long poll only). */
  readonly timeoutMs: number | undefined;
  /** What a failure of this call means to the lifecycle. */
  readonly reason: ExtensionErrorReason;
  /** See `SocketRequest.onSent`. */
  readonly onSent?: () => void;
}

interface Answer {
  /** Names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
}

export class ExtensionsApiClient {
  private readonly host: string;
  private readonly port: number;
  private readonly requestTimeoutMs: number;
  private identifier: string | undefined;

  /** @param runtimeApi the value of `AWS_LAMBDA_RUNTIME_API`, `host:port`. */
  public constructor(runtimeApi: string, options: ExtensionsApiClientOptions = {}) {
    ({ host: this.host, port: this.port } = parseRuntimeApi(runtimeApi));
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.identifier = options.identifier;
  }

  /** The identifier Lambda gave at registration, sent with every later call. */
  public get extensionId(): string | undefined {
    return this.identifier;
  }

  /**
   * Registers for `events`. `name` must be the file name of the executable in /opt/extensions,
   * or Lambda rejects the registration. `onSent` is called once the request is sent, while Lambda
   * answers (the fast start loads the rest of the extension there).
   */
  public async register(name: string, events: readonly string[] = DEFAULT_EVENTS, onSent?: () => void): Promise<RegisterResponse> {
    const answer = await this.call({
      method: 'POST',
      route: '/register',
      // accountId is only returned to extensions that accept the feature.
      headers: { 'Lambda-Extension-Name': name, 'Lambda-Extension-Accept-Feature': 'accountId' },
      body: { events },
      timeoutMs: this.requestTimeoutMs,
      reason: 'RegistrationFailed',
      onSent,
    });
    const id = answer.headers['lambda-extension-identifier'];
    if (typeof id !== 'string' || id === '') {
      throw new ExtensionsApiError('RegistrationFailed', 'Extensions API /register answered without a Lambda-Extension-Identifier header');
    }
    this.identifier = id;
    return asObject<RegisterResponse>(answer.body, '/register', 'RegistrationFailed');
  }

  /** Blocks, without any timeout, until Lambda sends the next INVOKE or SHUTDOWN. */
  public async nextEvent(): Promise<NextEvent> {
    const answer = await this.call({
      method: 'GET',
      route: '/event/next',
      headers: this.identified('/event/next'),
      timeoutMs: undefined,
      reason: 'UnexpectedError',
    });
    const event = asObject<NextEvent>(answer.body, '/event/next');
    if (event.eventType !== 'INVOKE' && event.eventType !== 'SHUTDOWN') {
      throw new ExtensionsApiError('UnexpectedError', `Extensions API /event/next sent an unknown eventType ${JSON.stringify((event as { eventType?: unknown }).eventType)}`);
    }
    return event;
  }

  /** Reports a failure during init; Lambda then fails the init and tears the environment down. */
  public async initError(error: ExtensionError): Promise<StatusResponse> {
    return this.reportError('/init/error', error);
  }

  /** Reports a failure before exiting, outside init. */
  public async exitError(error: ExtensionError): Promise<StatusResponse> {
    return this.reportError('/exit/error', error);
  }

  private async reportError(route: string, error: ExtensionError): Promise<StatusResponse> {
    const answer = await this.call({
      method: 'POST',
      route,
      headers: { ...this.identified(route), 'Lambda-Extension-Function-Error-Type': error.errorType },
      body: { errorMessage: error.message, errorType: error.errorType },
      timeoutMs: this.requestTimeoutMs,
      reason: 'UnexpectedError',
    });
    return asObject<StatusResponse>(answer.body, route);
  }

  private identified(route: string): Record<string, string> {
    if (this.identifier === undefined) {
      throw new ExtensionsApiError('UnexpectedError', `cannot call Extensions API ${route} before /register`);
    }
    return { 'Lambda-Extension-Identifier': this.identifier };
  }

  private async call(call: Call): Promise<Answer> {
    const what = `Extensions API ${call.method} ${call.route}`;
    const headers: Record<string, string> = { ...call.headers };
    const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
    if (body) headers['Content-Type'] = 'application/json';
    let answer;
    try {
      answer = await requestOverSocket(this.host, this.port, {
        method: call.method,
        path: EXTENSIONS_API_BASE_PATH + call.route,
        headers,
        body,
        timeoutMs: call.timeoutMs,
        onSent: call.onSent,
      });
    } catch (err) {
      throw new ExtensionsApiError(call.reason, `${what} ${err instanceof NoAnswerError ? '' : 'failed: '}${errorMessage(err)}`, undefined, undefined, { cause: err });
    }
    const { status } = answer;
    const text = answer.body.toString('utf8');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      if (status >= 200 && status < 300) {
        throw new ExtensionsApiError(call.reason, `${what} answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`, status, undefined, { cause: err });
      }
    }
    if (status < 200 || status >= 300) {
      const detail = (parsed && typeof parsed === 'object' ? parsed : {}) as ErrorResponse;
      const type = typeof detail.errorType === 'string' ? detail.errorType : undefined;
      const msg = typeof detail.errorMessage === 'string' ? detail.errorMessage : text.slice(0, 200);
      throw new ExtensionsApiError(call.reason, `${what} answered ${status}${type ? ` ${type}` : ''}: ${msg}`, status, type);
    }
    return { headers: answer.headers, body: parsed };
  }
}

/** The value of `AWS_LAMBDA_RUNTIME_API`, `host:port` (an IPv6 host in brackets), read into its parts. */
export function parseRuntimeApi(runtimeApi: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(runtimeApi);
  if (!match) throw new ConfigError(`AWS_LAMBDA_RUNTIME_API must be host:port, got ${JSON.stringify(runtimeApi)}`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}

function asObject<T>(body: unknown, route: string, reason: ExtensionErrorReason = 'UnexpectedError'): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ExtensionsApiError(reason, `Extensions API ${route} answered with a body that is not a JSON object`);
  }
  return body as T;
}
