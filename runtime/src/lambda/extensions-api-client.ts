/**
 * Client of the Lambda Extensions API
 * (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html).
 *
 * Built on `node:http` rather than `fetch`: undici gives every fetch a 300 s headers timeout, and
 * `GET /event/next` is a long poll that may legitimately wait far longer (an idle environment),
 * which silently ended Sentry's Node extension. The long poll has no timeout at all; every other
 * request has `REQUEST_TIMEOUT_MS`.
 */
import * as http from 'node:http';
import { ExtensionError, ExtensionErrorReason } from '../errors';
import { DEFAULT_EVENTS, EXTENSIONS_API_BASE_PATH, parseRuntimeApi, registerHeaders, REQUEST_TIMEOUT_MS } from './extensions-api';
import type { ErrorResponse, NextEvent, RegisterResponse, StatusResponse } from './types';

export { DEFAULT_EVENTS, EXTENSIONS_API_BASE_PATH, REQUEST_TIMEOUT_MS } from './extensions-api';

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
  /** The identifier of a registration made already (by the extension's fast start). @default - none until `register` */
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
}

interface Answer {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export class ExtensionsApiClient {
  private readonly host: string;
  private readonly port: number;
  private readonly requestTimeoutMs: number;
  // No keep-alive: the environment is frozen between events and a pooled socket may be dead when
  // it thaws; a fresh loopback connection per call costs nothing. A private agent also keeps the
  // global agent's idle socket timeout (5 s since Node 19) off the long poll.
  private readonly agent = new http.Agent({ keepAlive: false });
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
   * or Lambda rejects the registration.
   */
  public async register(name: string, events: readonly string[] = DEFAULT_EVENTS): Promise<RegisterResponse> {
    const answer = await this.call({
      method: 'POST',
      route: '/register',
      headers: registerHeaders(name),
      body: { events },
      timeoutMs: this.requestTimeoutMs,
      reason: 'RegistrationFailed',
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

  private call(call: Call): Promise<Answer> {
    const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
    const headers: Record<string, string | number> = { ...call.headers };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const what = `Extensions API ${call.method} ${call.route}`;
    return new Promise<Answer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: ExtensionsApiError): void => {
        if (timer) clearTimeout(timer);
        reject(err);
      };
      const req = http.request({
        host: this.host,
        port: this.port,
        method: call.method,
        path: EXTENSIONS_API_BASE_PATH + call.route,
        headers,
        agent: this.agent,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => fail(new ExtensionsApiError(call.reason, `${what} failed: ${err.message}`, res.statusCode, undefined, { cause: err })));
        res.on('end', () => {
          if (timer) clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : JSON.parse(text);
          } catch (err) {
            if (status >= 200 && status < 300) {
              reject(new ExtensionsApiError(call.reason, `${what} answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`, status, undefined, { cause: err }));
              return;
            }
          }
          if (status < 200 || status >= 300) {
            const detail = (body && typeof body === 'object' ? body : {}) as ErrorResponse;
            const type = typeof detail.errorType === 'string' ? detail.errorType : undefined;
            const msg = typeof detail.errorMessage === 'string' ? detail.errorMessage : text.slice(0, 200);
            reject(new ExtensionsApiError(call.reason, `${what} answered ${status}${type ? ` ${type}` : ''}: ${msg}`, status, type));
            return;
          }
          resolve({ headers: res.headers, body });
        });
      });
      if (call.timeoutMs === undefined) {
        // The long poll: make sure no socket idle timeout applies, whatever the agent's defaults.
        req.setTimeout(0);
      } else {
        const limit = call.timeoutMs;
        timer = setTimeout(() => {
          req.destroy(new ExtensionsApiError(call.reason, `${what} did not answer within ${limit} ms`));
        }, limit);
      }
      req.on('error', (err) => fail(err instanceof ExtensionsApiError ? err : new ExtensionsApiError(call.reason, `${what} failed: ${err.message}`, undefined, undefined, { cause: err })));
      req.end(payload);
    });
  }
}

function asObject<T>(body: unknown, route: string, reason: ExtensionErrorReason = 'UnexpectedError'): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ExtensionsApiError(reason, `Extensions API ${route} answered with a body that is not a JSON object`);
  }
  return body as T;
}
