import { IncomingHttpHeaders, request as httpRequest } from 'node:http';
import type { RequestAuthorizer } from './credentials/credentials-strategy';
import { findCredentialsStrategy } from './credentials/registry';
import { ServiceConfig } from './service-config';
import { AwsCredentials, AwsEndpointService, ExtensionEnvironment } from '../config/env';
import { errorMessage } from '../errors';

export interface ServiceRequest {
  readonly method: 'GET' | 'POST';
  /** Path below the service URL, e.g. `bundles/authz` or `/logs`; may carry a `?query`. */
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** Aborts the whole exchange (the scheduler's round deadline). */
  readonly signal: AbortSignal;
  /**
   * Refuse a response body larger than this many bytes (checked against `Content-Length` and
   * while reading), so an oversized download is stopped early instead of held in memory.
   * @default no limit
   */
  readonly maxBodyBytes?: number;
}

export interface ServiceResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/** The service answered, but not with a success; OPA reports `http_code` for these. */
export class ServiceHttpError extends Error {
  public constructor(public readonly service: string, public readonly status: number, message: string) {
    super(message);
    this.name = 'ServiceHttpError';
  }
}

/** The exchange failed before a complete response was read (network, timeout, abort, size). */
export class ServiceRequestError extends Error {
  public constructor(public readonly service: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceRequestError';
  }
}

/**
 * One client per configured service: adds the service's headers and credentials (each kind a
 * strategy in `./credentials`), and bounds the wait for response headers by
 * `response_header_timeout_seconds`.
 *
 * Built on `node:http` rather than `fetch`: `fetch` adds headers of its own, silently decodes a
 * `Content-Encoding: gzip` response (a bundle served by S3 or nginx with that header would arrive
 * as a bare tar), and has no notion of "time to response headers" apart from the body.
 */
export class ServiceClient {
  private readonly authorizer?: RequestAuthorizer;

  /**
   * Throws a `ConfigError` when the service's credentials need what the environment lacks (as the
   * environment's AWS credentials), so that init fails instead of every request later.
   * `awsEndpoint` finds the AWS services a kind of credentials calls itself (a secret's).
   */
  public constructor(
    public readonly config: ServiceConfig,
    credentials: () => AwsCredentials,
    awsEndpoint: (service: AwsEndpointService) => string = (service) => new ExtensionEnvironment().awsEndpoint(service),
  ) {
    const c = config.credentials;
    if (c !== undefined) {
      const strategy = findCredentialsStrategy(c.type);
      if (!strategy) throw new Error(`service ${config.name}: no strategy for credentials of type ${c.type}`);
      this.authorizer = strategy.authorizer(c, { awsCredentials: credentials, awsEndpoint });
    }
  }

  /**
   * Sends the request and returns the whole response; any status is returned (callers decide
   * what 304 or 404 mean). Network errors, timeouts, aborts, a body cut short and a body over
   * `maxBodyBytes` reject with a `ServiceRequestError` (or the signal's reason on abort).
   *
   * When the service's own host refuses the credentials (401 or 403) and they can rotate (a token
   * read from a secret), they are read again once and, if they changed, the request is sent once
   * more with them.
   */
  public async request(req: ServiceRequest): Promise<ServiceResponse> {
    const first = await this.exchange(req);
    if (!first.authorized || !AUTH_FAILURES.has(first.response.status) || !this.authorizer?.refresh) return first.response;
    let changed: boolean;
    try {
      changed = await this.authorizer.refresh(req.signal);
    } catch (err) {
      if (req.signal.aborted && err === req.signal.reason) throw err;
      throw new ServiceRequestError(this.config.name, `service ${this.config.name}: answered ${first.response.status} and reading its credentials again failed: ${errorMessage(err)}`, { cause: err });
    }
    return changed ? (await this.exchange(req)).response : first.response;
  }

  /** One request and its redirects; `authorized` says whether the last hop carried the credentials. */
  private async exchange(req: ServiceRequest): Promise<{ response: ServiceResponse; authorized: boolean }> {
    if (req.signal.aborted) throw req.signal.reason;
    const first = new URL(this.config.url + '/' + req.path.replace(/^\/+/, ''));
    let url = first;
    // Set for good once a hop leaves the first host's domain (as Go's `stripSensitiveHeaders` since
    // CVE-2024-45336: no later hop carries a credential, even one that comes back) or goes from
    // https to http (Go looks at hosts only; a credential must not cross the wire in clear).
    let stripSensitive = false;
    for (let hop = 0; ; hop++) {
      // Bearer tokens and SigV4 signatures go to the service's own host only (stricter than Go,
      // which would send a bearer token to a subdomain or another port too).
      const authorized = !stripSensitive && url.host === first.host;
      const headers = authorized
        ? await this.authorize(req, url)
        : forwardedHeaders({ ...this.config.headers, ...req.headers }, stripSensitive);
      const response = await this.send(url, req, headers);
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || req.method !== 'GET' || !location) return { response, authorized: authorized && this.authorizer !== undefined };
      if (hop >= MAX_REDIRECTS) {
        throw new ServiceRequestError(this.config.name, `service ${this.config.name}: more than ${MAX_REDIRECTS} redirects from ${first.pathname}`);
      }
      const next = new URL(location, url);
      if (!isDomainOrSubdomain(next.hostname, first.hostname) || (url.protocol === 'https:' && next.protocol === 'http:')) stripSensitive = true;
      url = next;
    }
  }

  /** The headers of a hop to the service's own host: configured, per request, and the credentials'. */
  private async authorize(req: ServiceRequest, url: URL): Promise<Record<string, string>> {
    const headers: Record<string, string> = lowerCaseKeys({ ...this.config.headers, ...req.headers });
    if (req.body !== undefined) headers['content-length'] = String(req.body.byteLength);
    await this.authorizer?.prepare({ method: req.method, url, headers, body: req.body, signal: req.signal });
    return headers;
  }

  private send(url: URL, req: ServiceRequest, headers: Record<string, string>): Promise<ServiceResponse> {
    const name = this.config.name;
    const timeoutMs = this.config.responseHeaderTimeoutMs;
    const newRequest = url.protocol === 'https:' ? loadHttps().request : httpRequest;
    return new Promise<ServiceResponse>((resolve, reject) => {
      let settled = false;
      let headerTimer: NodeJS.Timeout | undefined;
      const finish = (err: unknown, value?: ServiceResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(headerTimer);
        req.signal.removeEventListener('abort', onAbort);
        if (err !== undefined) {
          request.destroy();
          reject(err);
        } else {
          resolve(value!);
        }
      };
      const onAbort = () => finish(req.signal.reason);
      const request = newRequest(url, { method: req.method, headers, agent: false });
      req.signal.addEventListener('abort', onAbort, { once: true });
      request.on('error', (err) => finish(new ServiceRequestError(name, `service ${name}: request to ${url.pathname} failed: ${err.message}`, { cause: err })));
      request.on('response', (response) => {
        clearTimeout(headerTimer);
        // Headers arrived: from here only the caller's signal bounds reading the body.
        const declared = Number(response.headers['content-length']);
        if (req.maxBodyBytes !== undefined && Number.isFinite(declared) && declared > req.maxBodyBytes) {
          finish(new ServiceRequestError(name, `service ${name}: response body of ${declared} bytes exceeds the limit of ${req.maxBodyBytes} bytes`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (req.maxBodyBytes !== undefined && size > req.maxBodyBytes) {
            finish(new ServiceRequestError(name, `service ${name}: response body exceeds the limit of ${req.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', (err) => finish(new ServiceRequestError(name, `service ${name}: response from ${url.pathname} cut short after ${size} bytes`, { cause: err })));
        response.on('end', () => {
          // A connection closed before Content-Length bytes (or the last chunk) leaves it incomplete.
          if (!response.complete) {
            finish(new ServiceRequestError(name, `service ${name}: response from ${url.pathname} cut short after ${size} bytes`));
            return;
          }
          finish(undefined, { status: response.statusCode ?? 0, headers: toHeaders(response.headers), body: Buffer.concat(chunks, size) });
        });
        response.on('close', () => {
          if (!response.complete) finish(new ServiceRequestError(name, `service ${name}: response from ${url.pathname} cut short after ${size} bytes`));
        });
      });
      // OPA's response_header_timeout_seconds counts from the request being written.
      request.on('finish', () => {
        if (settled) return;
        headerTimer = setTimeout(() => {
          finish(new ServiceRequestError(name, `service ${name}: no response headers within ${timeoutMs / 1000}s`));
        }, timeoutMs);
      });
      request.end(req.body === undefined ? undefined : Buffer.from(req.body));
    });
  }
}

/** The statuses by which a service refuses credentials. */
const AUTH_FAILURES = new Set([401, 403]);

/** Go's HTTP client follows up to 10 redirects; bundle servers behind a CDN or presigned URLs use them. */
const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * What Go's HTTP client drops from a redirected request once it left the first host's domain
 * (`makeHeadersCopier` in net/http/client.go); compared in lower case.
 */
const SENSITIVE_HEADERS = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2', 'proxy-authorization', 'proxy-authenticate']);

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The configured and per-request headers for a hop that carries no bearer token or signature. */
function forwardedHeaders(headers: Record<string, string>, stripSensitive: boolean): Record<string, string> {
  const lower = lowerCaseKeys(headers);
  if (!stripSensitive) return lower;
  return Object.fromEntries(Object.entries(lower).filter(([k]) => !SENSITIVE_HEADERS.has(k)));
}

/**
 * Go's `shouldCopyHeaderOnRedirect` and `isDomainOrSubdomain` (net/http/client.go): `sub` is
 * `parent` or a subdomain of it. Hostnames only, so another port on the same host is the same
 * host; both come from WHATWG URLs, already lower case and in punycode as Go's `idnaASCII` makes them.
 */
function isDomainOrSubdomain(sub: string, parent: string): boolean {
  if (sub === parent) return true;
  // An IPv6 literal is no domain name: a suffix test could match inside its zone (Go's comment).
  if (/[:%]/.test(sub)) return false;
  return sub.endsWith('.' + parent);
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) out.append(k, value);
  }
  return out;
}

/**
 * One client per configured service. A kind of credentials that needs the environment's AWS
 * credentials reads them once here, so that missing ones fail init as a configuration error
 * instead of failing every download later.
 */
export function createServiceClients(
  services: ReadonlyMap<string, ServiceConfig>,
  credentials: () => AwsCredentials,
  awsEndpoint?: (service: AwsEndpointService) => string,
): Map<string, ServiceClient> {
  const clients = new Map<string, ServiceClient>();
  for (const [name, config] of services) clients.set(name, new ServiceClient(config, credentials, awsEndpoint));
  return clients;
}

/**
 * `node:https` (with `node:tls`) on first use: it costs milliseconds to load, and a layer whose
 * bundles are embedded never makes a request.
 */
function loadHttps(): typeof import('node:https') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node:https') as typeof import('node:https');
}
