/**
 * OPA's REST API on loopback, for the function beside the extension
 * (https://www.openpolicyagent.org/docs/rest-api). Read-only: policies and data come from bundles.
 */
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { PolicyEngine } from '../engine/policy-engine';
import { Logger } from '../logger';
import { dataGetHandler, dataPostHandler } from './data-handler';
import type { DecisionListener } from './decision-record';
import { ApiError } from './errors';
import { healthHandler } from './health-handler';
import { readBody } from './request-body';
import { ApiResponse, Route, matchRoute } from './routes';
import type { PluginStatus } from '../scheduler/plugin';

/** OPA's default `server.decoding.max_length` is 256 MiB; a Lambda function asks far less. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Longer than any client's idle keep-alive (Node's agent and undici use 4-5 s, the OPA SDKs rely
 * on them), so the client always closes an idle socket first and never sends a request on a
 * socket the server is closing. Lambda freezes the sandbox between invokes, so idle sockets cost
 * nothing.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface PolicyServerOptions {
  readonly engine: PolicyEngine;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  readonly logger: Logger;
  /** Larger request bodies are refused with 400 `invalid_parameter`. @default DEFAULT_MAX_BODY_BYTES */
  readonly maxBodyBytes?: number;
  /** Told about every decision (decision logging); with it, responses carry `decision_id`. @default - none */
  readonly decisionListener?: DecisionListener;
  /** The plugins' states, for `GET /health?plugins`. @default - no plugins (always healthy) */
  readonly pluginStatuses?: () => Record<string, PluginStatus>;
}

export class PolicyServer {
  private readonly server: http.Server;
  private readonly routes: readonly Route[];
  private readonly host: string;
  private readonly maxBodyBytes: number;

  public constructor(private readonly options: PolicyServerOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.routes = [
      {
        path: '/v1/data/*',
        methods: { GET: dataGetHandler(options.engine, options.decisionListener), POST: dataPostHandler(options.engine, options.decisionListener) },
      },
      { path: '/health', methods: { GET: healthHandler(options.pluginStatuses) } },
    ];
    this.server = http.createServer({ keepAlive: true }, (req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Must exceed keepAliveTimeout, or Node may time out a socket between two requests' headers.
    this.server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  }

  /** Starts listening; resolves with the address actually bound (the real port when 0 was asked). */
  public listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.host, () => {
        this.server.off('error', onError);
        const address = this.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Stops accepting, closes idle keep-alive sockets and waits for requests in flight. */
  public close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let response: ApiResponse;
    let headers: Record<string, string> = {};
    try {
      response = await this.route(req);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(500, 'internal_error', `unexpected error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      if (apiError.status >= 500) this.options.logger.error('request failed', { method: req.method, url: req.url, error: apiError });
      else this.options.logger.debug('request refused', { method: req.method, url: req.url, code: apiError.code, message: apiError.message });
      response = { status: apiError.status, body: apiError.toBody() };
      headers = apiError.headers;
    }
    if (res.headersSent || res.destroyed) return;
    const payload = JSON.stringify(response.body) + '\n';
    if (headers.Connection === 'close') res.shouldKeepAlive = false;
    res.writeHead(response.status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(payload),
    });
    res.end(payload);
  }

  private async route(req: http.IncomingMessage): Promise<ApiResponse> {
    // Split by hand: `new URL` would read a path such as `//x/y` as a host.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const pathname = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const match = matchRoute(this.routes, pathname);
    if (!match) throw new ApiError(404, 'resource_not_found', `no API at ${pathname}`);
    const method = req.method ?? 'GET';
    const handler = match.route.methods[method];
    if (!handler) {
      const allow = Object.keys(match.route.methods).join(', ');
      throw new ApiError(405, 'method_not_allowed', `method ${method} is not allowed on ${pathname} (allowed: ${allow})`, { headers: { Allow: allow } });
    }
    return handler({
      raw: req,
      rest: match.rest,
      query,
      body: () => readBody(req, this.maxBodyBytes),
    });
  }
}
