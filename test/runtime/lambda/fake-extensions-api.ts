import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** Path without the `/2020-01-01/extension` prefix, e.g. `/register`. */
  readonly route: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export interface Reply {
  readonly status?: number;
  readonly headers?: Record<string, string>;
  /** Sent as JSON; a string is sent as is. */
  readonly body?: unknown;
  readonly delayMs?: number;
}

export const EXTENSION_ID = 'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';
const PREFIX = '/2020-01-01/extension';

/**
 * A loopback server that answers like the Lambda Extensions API and records every request.
 * `/event/next` is a real long poll: it is held until the test queues an event.
 */
export class FakeExtensionsApi {
  public readonly requests: RecordedRequest[] = [];
  /** Override the answer to a route; the default answers like Lambda. */
  public readonly replies = new Map<string, Reply>();
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly queued: Reply[] = [];
  private waiting: Array<(reply: Reply) => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Starts listening on 127.0.0.1 and an ephemeral port; returns `host:port`. */
  public async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  /** Queues the answer to the next `/event/next` (a held long poll gets it at once). */
  public pushEvent(event: unknown, options: { delayMs?: number; status?: number } = {}): void {
    const reply: Reply = { status: options.status ?? 200, body: event, delayMs: options.delayMs, headers: { 'Lambda-Extension-Event-Identifier': `evt-${this.requests.length}` } };
    const waiter = this.waiting.shift();
    if (waiter) waiter(reply);
    else this.queued.push(reply);
  }

  public routes(): string[] {
    return this.requests.map((r) => `${r.method} ${r.route}`);
  }

  public async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.waiting = [];
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const route = (req.url ?? '').startsWith(PREFIX) ? (req.url ?? '').slice(PREFIX.length) : req.url ?? '';
      this.requests.push({ method: req.method ?? '', route, headers: req.headers, body: text ? JSON.parse(text) : undefined });
      const override = this.replies.get(`${req.method} ${route}`);
      if (override) return this.send(res, override);
      switch (`${req.method} ${route}`) {
        case 'POST /register':
          return this.send(res, {
            headers: { 'Lambda-Extension-Identifier': EXTENSION_ID },
            body: { functionName: 'my-function', functionVersion: '$LATEST', handler: 'index.handler', accountId: '123456789012' },
          });
        case 'GET /event/next': {
          const next = this.queued.shift();
          if (next) return this.send(res, next);
          this.waiting.push((reply) => this.send(res, reply));
          return;
        }
        case 'POST /init/error':
        case 'POST /exit/error':
          return this.send(res, { status: 202, body: { status: 'OK' } });
        default:
          return this.send(res, { status: 404, body: { errorType: 'NotFound', errorMessage: `no route ${req.method} ${route}` } });
      }
    });
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    const write = (): void => {
      const body = typeof reply.body === 'string' ? reply.body : reply.body === undefined ? '' : JSON.stringify(reply.body);
      res.writeHead(reply.status ?? 200, { 'Content-Type': 'application/json', ...reply.headers });
      res.end(body);
    };
    if (!reply.delayMs) return write();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      write();
    }, reply.delayMs);
    this.timers.add(timer);
  }
}


export const INVOKE_EVENT = {
  eventType: 'INVOKE',
  deadlineMs: 1767225600000,
  requestId: '3da1f2dc-3222-475e-9205-e2e6c6318895',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
  tracing: { type: 'X-Amzn-Trace-Id', value: 'Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1' },
};

export const SHUTDOWN_EVENT = { eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: 1767225602000 };
