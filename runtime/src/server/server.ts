/**
 * OPA's REST API on loopback, for the function beside the extension
 * (https://www.openpolicyagent.org/docs/rest-api). Read-only: policies and data come from bundles.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { DEFAULT_DECISION } from '../../../src/layer-contract';
import { PolicyEngine } from '../engine/policy-engine';
import { LogFields, Logger } from '../logger';
import { batchPostHandler } from './batch-handler';
import { dataGet, dataGetHandler, dataPost, dataPostHandler } from './data-handler';
import type { DecisionContext } from './decision';
import { dataV0PostHandler, defaultDecisionHandler } from './default-decision-handler';
import { EarlyListener, LOOPBACK } from './early-listener';
import { ApiError } from './errors';
import { healthHandler } from './health-handler';
import { boolParam } from './query-flags';
import { readOnlyHandler } from './read-only-handler';
import { declaredTooLarge, readBody } from './request-body';
import { ApiResponse, Route, matchRoute } from './routes';
import type { DecisionListener } from '../contracts/decision-record';
import type { PluginStatus } from '../contracts/plugin';
import { errorMessage } from '../errors';
import { stringifyJson } from '../json-text';

/**
 * OPA's default `server.decoding.max_length` is 256 MiB; a Lambda function asks far less (an
 * invoke payload is at most 6 MB), so a smaller limit keeps a runaway client from filling memory.
 */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** A gzip body may inflate to this much (OPA: `server.decoding.gzip.max_length`, 512 MiB). */
export const DEFAULT_MAX_DECOMPRESSED_BODY_BYTES = 4 * DEFAULT_MAX_BODY_BYTES;
/** Responses at least this long are gzipped when the client accepts it (OPA: `server.encoding.gzip.min_length`). */
export const DEFAULT_GZIP_MIN_LENGTH = 1024;

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
  /** A gzip request body that inflates past this is refused with 400. @default DEFAULT_MAX_DECOMPRESSED_BODY_BYTES */
  readonly maxDecompressedBodyBytes?: number;
  /** Responses at least this long are gzipped for a client that sends `Accept-Encoding: gzip`. @default DEFAULT_GZIP_MIN_LENGTH */
  readonly gzipMinLength?: number;
  /** Path evaluated by `POST /`, without a leading slash. @default OPA's default decision, `system/main` */
  readonly defaultDecision?: string;
  /** Reported as `provenance.version`. @default 'dev' */
  readonly version?: string;
  /** True once every configured bundle is active, for `GET /health?bundles`. @default - always true */
  readonly bundlesActivated?: () => boolean;
  /** Told about every decision (decision logging); with it, responses carry `decision_id`. @default - none */
  readonly decisionListener?: DecisionListener;
  /** The plugins' states, for `GET /health?plugins`. @default - no plugins (always healthy) */
  readonly pluginStatuses?: () => Record<string, PluginStatus>;
  /**
   * Settles once the policies of init are active (embedded bundles, the init round's downloads).
   * The server listens before that, so that a decision the function asks during its own init is
   * never refused: such a request waits for it (every route but `/health`), at most
   * `readyTimeoutMs`. A rejection is answered 500 with its reason. @default - ready from the start
   */
  readonly ready?: Promise<void>;
  /** @default INIT_WAIT_MS */
  readonly readyTimeoutMs?: number;
  /**
   * A socket already listening on `host:port` (the extension's fast start): `listen` takes it
   * over, with the connections it holds. @default - `listen` binds `host:port` itself
   */
  readonly listener?: EarlyListener;
}

/** Lambda's limit on the Init phase: no request can usefully wait longer for init's policies. */
export const INIT_WAIT_MS = 10_000;

/**
 * The query of a request without one (most decisions): one shared instance rather than a new
 * one per request. Handlers only read `ApiRequest.query`.
 */
const NO_QUERY: URLSearchParams = new URLSearchParams();

/** The Data API's prefix: its decisions take the lean path (see {@link PolicyServer.lean}). */
const DATA_PREFIX = '/v1/data/';
const EMPTY_BODY = Buffer.alloc(0);

/**
 * Node's request with the lean path's state on it, so that the body's listeners are functions
 * shared by every request rather than closures made for each.
 */
class LeanRequest extends IncomingMessage {
  /** The response, and the server's lean answer, set when the lean path takes the request. */
  public response?: ServerResponse;
  public answer?: (req: LeanRequest, body: Buffer) => void;
  /** When the request came, for a decision log's `timer_server_handler_ns` (0 without decision logs). */
  public startedAt = 0n;
  /** The body's first chunk, and every chunk once a second one comes. */
  public chunk?: Buffer;
  public chunks?: Buffer[];
}

function onLeanChunk(this: LeanRequest, chunk: Buffer): void {
  if (this.chunk === undefined) this.chunk = chunk;
  else (this.chunks ??= [this.chunk]).push(chunk);
}

function onLeanEnd(this: LeanRequest): void {
  // A body that came in one chunk (a decision's usually does) is that chunk, without a copy.
  this.answer!(this, this.chunks ? Buffer.concat(this.chunks) : this.chunk ?? EMPTY_BODY);
}

export class PolicyServer {
  private readonly server: Server;
  private readonly routes: readonly Route[];
  private readonly host: string;
  private readonly limits: { maxBytes: number; maxDecompressedBytes: number };
  private readonly gzipMinLength: number;
  private readonly ctx: DecisionContext;
  /** Undefined once the policies of init are active: then no request waits. */
  private pending?: Promise<void>;

  public constructor(private readonly options: PolicyServerOptions) {
    this.host = options.host ?? LOOPBACK;
    this.limits = {
      maxBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxDecompressedBytes: options.maxDecompressedBodyBytes ?? DEFAULT_MAX_DECOMPRESSED_BODY_BYTES,
    };
    this.gzipMinLength = options.gzipMinLength ?? DEFAULT_GZIP_MIN_LENGTH;
    if (options.ready) {
      this.pending = options.ready;
      options.ready.then(() => { this.pending = undefined; }, () => undefined);
    }
    const ctx: DecisionContext = { engine: options.engine, listener: options.decisionListener, version: options.version ?? 'dev' };
    this.ctx = ctx;
    const readOnly = ['GET', 'POST'];
    this.routes = [
      { path: '/', methods: { POST: defaultDecisionHandler(ctx, options.defaultDecision ?? DEFAULT_DECISION.replace(/^\/+/, '')) } },
      {
        path: '/v1/data/*',
        methods: {
          GET: dataGetHandler(ctx),
          POST: dataPostHandler(ctx),
          PUT: readOnlyHandler('data', readOnly),
          PATCH: readOnlyHandler('data', readOnly),
          DELETE: readOnlyHandler('data', readOnly),
        },
      },
      { path: '/v1/batch/data/*', methods: { POST: batchPostHandler(ctx) } },
      { path: '/v0/data/*', methods: { POST: dataV0PostHandler(ctx) } },
      {
        path: '/v1/policies/*',
        methods: { GET: readOnlyHandler('policies', []), PUT: readOnlyHandler('policies', []), PATCH: readOnlyHandler('policies', []), DELETE: readOnlyHandler('policies', []) },
      },
      { path: '/health', methods: { GET: healthHandler({ pluginStatuses: options.pluginStatuses, bundlesActivated: options.bundlesActivated }) } },
    ];
    this.server = createServer<typeof LeanRequest>({ keepAlive: true, IncomingMessage: LeanRequest }, (req, res) => {
      if (this.pending === undefined && this.lean(req, res)) return;
      void this.handle(req, res);
    });
    // A request Node cannot parse (bad header, bad chunk framing) never reaches a handler: answer it
    // in OPA's JSON shape too, then close, as Node's default handler would.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      this.options.logger.debug('malformed request', { code: err.code, message: err.message });
      if (!socket.writable || (err as { bytesParsed?: number }).bytesParsed === undefined) {
        socket.destroy();
        return;
      }
      const body = JSON.stringify({ code: 'invalid_parameter', message: `malformed HTTP request: ${err.code ?? err.message}` }) + '\n';
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    // Must exceed keepAliveTimeout, or Node may time out a socket between two requests' headers.
    this.server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  }

  /** Starts listening, or takes over `listener`; resolves with the address bound (the real port when 0 was asked). */
  public async listen(): Promise<{ host: string; port: number }> {
    if (this.options.listener) {
      await this.options.listener.handOver(this.server);
    } else {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    }
    const address = this.server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Stops accepting, closes idle keep-alive sockets and waits for requests in flight. */
  public close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeIdleConnections();
    });
  }

  /**
   * The lean path of the common decision, `POST /v1/data/{path}` with a body of a known length
   * (neither chunked nor compressed) or `GET /v1/data/{path}`, both without a query, once the
   * policies are active: the body's chunks are kept by shared listeners and the decision is
   * answered when it ends, with no promise between the request and the response. False for any
   * other request, which {@link handle} answers. The answer is the same either way: both paths
   * make it with the Data API's own functions.
   */
  private lean(req: LeanRequest, res: ServerResponse): boolean {
    const url = req.url!;
    if (!url.startsWith(DATA_PREFIX) || url.includes('?')) return false;
    if (req.method === 'GET') {
      this.answerLean(req, res, undefined, this.ctx.listener ? process.hrtime.bigint() : 0n);
      return true;
    }
    const headers = req.headers;
    // A body's length is at most its Content-Length, so a length within the limit is the check.
    if (req.method !== 'POST' || headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined
      || !(Number(headers['content-length']) <= this.limits.maxBytes)) return false;
    req.response = res;
    req.answer = this.answerLeanPost;
    if (this.ctx.listener) req.startedAt = process.hrtime.bigint();
    req.on('data', onLeanChunk);
    req.on('end', onLeanEnd);
    return true;
  }

  /** Made once: the lean path's answer to a POST, once its body has ended. */
  private readonly answerLeanPost = (req: LeanRequest, body: Buffer): void => this.answerLean(req, req.response!, body, req.startedAt);

  /** A lean request's answer: `body` for a POST, undefined for a GET. */
  private answerLean(req: IncomingMessage, res: ServerResponse, body: Buffer | undefined, startedAt: bigint): void {
    let response: ApiResponse;
    try {
      const rest = req.url!.slice(DATA_PREFIX.length);
      response = body === undefined ? dataGet(this.ctx, req, rest, NO_QUERY, startedAt) : dataPost(this.ctx, req, rest, NO_QUERY, body, startedAt);
    } catch (err) {
      this.fail(req, res, err, true);
      return;
    }
    // The lean path serves the Data API only, which OPA compresses.
    this.respond(req, res, response, {}, true);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // OPA refuses a body announced over the limit before any API sees the request: for every
    // route, and outside the compression, so without `Vary`.
    const tooLarge = declaredTooLarge(req, this.limits.maxBytes);
    if (tooLarge) {
      this.fail(req, res, tooLarge, false);
      return;
    }
    let response: ApiResponse;
    try {
      if (this.pending && pathOf(req) !== '/health') await this.waitUntilReady();
      response = await this.route(req);
    } catch (err) {
      this.fail(req, res, err);
      return;
    }
    this.respond(req, res, response, {});
  }

  /**
   * Answers a request that failed: its ApiError, or 500 `internal_error` for anything else.
   * `compressible` as in {@link respond}.
   */
  private fail(req: IncomingMessage, res: ServerResponse, err: unknown, compressible?: boolean): void {
    const apiError = err instanceof ApiError ? err : new ApiError(500, 'internal_error', `unexpected error: ${errorMessage(err)}`, { cause: err });
    const fields = { method: req.method, path: pathOf(req), status: apiError.status, ...errorLogFields(apiError) };
    if (apiError.status >= 500) this.options.logger.error('request failed', fields);
    else this.options.logger.debug('request refused', fields);
    this.respond(req, res, { status: apiError.status, body: apiError.toBody() }, { ...apiError.headers }, compressible);
  }

  /**
   * Writes `response` with `headers`, compressed as OPA would the API at the request's URL unless
   * `compressible` says otherwise. The server's own header names are written in lower case (HTTP's
   * names are case-insensitive): Node.js lower-cases every name it writes to check it against the
   * ones it manages, a new string for each name that is not lower case already.
   */
  private respond(req: IncomingMessage, res: ServerResponse, response: ApiResponse, headers: Record<string, string>,
    compressible = isCompressible(req.method, req.url ?? '/')): void {
    if (res.headersSent || res.destroyed) return;
    if (headers.Connection === 'close') res.shouldKeepAlive = false;
    let payload: Buffer | string;
    try {
      payload = this.encode(req, response.body, headers, compressible);
    } catch (err) {
      // A result JSON cannot express (too deeply nested for the stack) is a failed request, not a crash.
      this.options.logger.error('response not encodable', { method: req.method, path: pathOf(req), error: err });
      response = { status: 500, body: { code: 'internal_error', message: `cannot encode the response: ${errorMessage(err)}` } };
      payload = JSON.stringify(response.body) + '\n';
      headers['content-length'] = String(Buffer.byteLength(payload, 'utf8'));
    }
    headers['content-type'] = 'application/json';
    res.writeHead(response.status, headers);
    // A string body goes out in one write with the head; a Buffer would take a second chunk (writev).
    res.end(payload, 'utf8');
  }

  /**
   * JSON, indented with `?pretty` (OPA indents with two spaces), gzipped when the answer is
   * `compressible`, the client accepts gzip and the body is long enough to be worth it (OPA's
   * `server.encoding.gzip.min_length`). Sets `content-length`, and `vary` and (for gzip)
   * `content-encoding` where OPA does, in `headers`.
   */
  private encode(req: IncomingMessage, body: unknown, headers: Record<string, string>, compressible: boolean): Buffer | string {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pretty = q >= 0 && boolParam(new URLSearchParams(url.slice(q + 1)), 'pretty');
    const text = stringifyJson(body, pretty) + '\n';
    const length = Buffer.byteLength(text, 'utf8');
    if (compressible) headers.vary = 'Accept-Encoding';
    if (!compressible || length < this.gzipMinLength || !acceptsGzip(req.headers['accept-encoding'])) {
      headers['content-length'] = String(length);
      return text;
    }
    const gzipped = gzipSync(text);
    headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(gzipped.length);
    return gzipped;
  }

  /** Waits for `ready`, at most `readyTimeoutMs`; an ApiError when it fails or takes longer. */
  private async waitUntilReady(): Promise<void> {
    const limit = this.options.readyTimeoutMs ?? INIT_WAIT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ApiError(500, 'internal_error', `the policies of init were not active within ${limit} ms`)), limit);
    });
    try {
      await Promise.race([this.pending, timeout]);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(500, 'internal_error', `the extension failed to initialise: ${errorMessage(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async route(req: IncomingMessage): Promise<ApiResponse> {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const pathname = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? NO_QUERY : new URLSearchParams(target.slice(q + 1));
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
      body: () => readBody(req, this.limits),
    });
  }
}

/**
 * The request target without its query string. Logs name this path and never `req.url`: the query
 * string of `GET /v1/data/...?input=` is the input, which `system/log/mask` may hide from the
 * decision log. Split by hand: `new URL` would read a path such as `//x/y` as a host.
 */
function pathOf(req: IncomingMessage): string {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/**
 * An error's code and message for a log line, without what its cause adds: a cause's message may
 * quote the request (V8's JSON.parse says `Unexpected token 'x', "{"ssn": x}" is not valid JSON`),
 * and logs never hold a request's input, query string or body. The cause is named by its class.
 * An evaluation error is the cause's whole message (the entrypoint, the policy's location and
 * abort reason), so it is logged whole.
 */
function errorLogFields(err: ApiError): LogFields {
  const cause = err.cause as { name?: unknown; message?: unknown } | undefined;
  const quoted = cause?.message;
  if (typeof quoted !== 'string' || quoted === '' || !err.message.endsWith(`: ${quoted}`)) return { code: err.code, message: err.message };
  return { code: err.code, message: err.message.slice(0, -(quoted.length + 2)), cause: typeof cause?.name === 'string' ? cause.name : 'Error' };
}

/** `Accept-Encoding: gzip` (or `gzip;q=...` with a non-zero weight) among the listed codings. */
/**
 * The APIs OPA's server compresses, and answers with `Vary: Accept-Encoding`: the Data API (GET
 * and POST under `/v1/data` and `/v0/data`) and POST `/v1/compile`. Every other answer is sent as
 * it is, without `Vary`, as OPA sends it.
 */
function isCompressible(method: string | undefined, url: string): boolean {
  if (method === 'POST') return url.startsWith('/v1/data') || url.startsWith('/v0/data') || url.startsWith('/v1/compile');
  return method === 'GET' && (url.startsWith('/v1/data') || url.startsWith('/v0/data'));
}

function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding.trim() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
