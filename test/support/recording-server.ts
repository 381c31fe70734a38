/**
 * A real HTTP server on loopback that records what it receives, standing in for a bundle, decision
 * log or status service. It answers with `answer` (a status, or `hang`), or with a `handler` a test
 * swaps per step for anything else (a bundle, a redirect, a cut connection).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ServiceClient } from '../../runtime/src/services/service-client';
import { parseServices } from '../../runtime/src/services/service-config';

/** One request as the server received it, with a gzip body already decompressed. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Bytes as sent on the wire. */
  readonly raw: Buffer;
  /** The body parsed as JSON (after gunzip when `content-encoding: gzip`), undefined when empty. */
  readonly json: unknown;
  /** The status the server answered; undefined while it has not answered. */
  status?: number;
}

/** How the server answers: a status code with `{}`, or `hang` to never answer (until it is closed). */
export type Answer = number | 'hang';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

export class RecordingServer {
  /** Every request, in arrival order. */
  public readonly requests: RecordedRequest[] = [];
  public answer: Answer | ((req: RecordedRequest) => Answer) = 200;
  /** When set, answers every request instead of `answer`. */
  public handler?: Handler;
  private readonly server: http.Server;
  private address?: string;

  public constructor() {
    this.server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const raw = Buffer.concat(parts);
        const recorded: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, json: parseBody(req, raw) };
        this.requests.push(recorded);
        res.on('finish', () => { recorded.status = res.statusCode; });
        if (this.handler) return this.handler(req, res, raw);
        const answer = typeof this.answer === 'function' ? this.answer(recorded) : this.answer;
        if (answer === 'hang') return; // the request is left open; close() ends it
        res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  public async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.address;
  }

  public get url(): string {
    if (!this.address) throw new Error('listen() first');
    return this.address;
  }

  /** The `services` entry of a service at this server, named `name`. */
  public service(name: string): Record<string, unknown> {
    return { [name]: { url: this.url } };
  }

  /** A ServiceClient for this server, as the extension would build it from `services`. */
  public client(name = 'logs'): ServiceClient {
    const config = parseServices(this.service(name)).get(name)!;
    return new ServiceClient(config, () => { throw new Error('no AWS credentials in these tests'); });
  }

  /** Requests the server accepted (answered 2xx), in arrival order. */
  public accepted(): RecordedRequest[] {
    return this.requests.filter((r) => r.status !== undefined && r.status >= 200 && r.status < 300);
  }

  /** Every decision log event in an accepted upload, in arrival order. */
  public events(): Array<Record<string, unknown>> {
    return this.accepted().flatMap((r) => r.json as Array<Record<string, unknown>>);
  }

  public async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A RecordingServer listening during each test of the calling `describe`, closed after it. */
export function useRecordingServer(): () => RecordingServer {
  let server: RecordingServer;
  beforeEach(async () => {
    server = new RecordingServer();
    await server.listen();
  });
  afterEach(async () => {
    await server.close();
  });
  return () => server;
}

/** JSON bodies (uploads) parsed; anything else (a bundle, a form) left to `raw`. */
function parseBody(req: http.IncomingMessage, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
