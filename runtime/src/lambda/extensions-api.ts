/**
 * What both callers of the Lambda Extensions API share: the full client (`extensions-api-client.ts`,
 * on `node:http`) and the fast start's registration over a bare socket (`socket-register.ts`).
 * Free of `node:http`, so the program can import it before anything else is loaded.
 */
import { ConfigError } from '../errors';

/** Path prefix of every Extensions API route, version 2020-01-01. */
export const EXTENSIONS_API_BASE_PATH = '/2020-01-01/extension';

/**
 * Limit for every request but the long poll. The API is local to the execution environment and
 * answers in milliseconds; 10 s is also Lambda's whole init phase, so waiting longer is pointless.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

export const DEFAULT_EVENTS: readonly string[] = ['INVOKE', 'SHUTDOWN'];

/** The headers of `POST /register` besides the body's: `name` must be the file name of the executable in /opt/extensions. */
export function registerHeaders(name: string): Record<string, string> {
  // accountId is only returned to extensions that accept the feature.
  return { 'Lambda-Extension-Name': name, 'Lambda-Extension-Accept-Feature': 'accountId' };
}

/** The value of `AWS_LAMBDA_RUNTIME_API`, `host:port` (an IPv6 host in brackets), read into its parts. */
export function parseRuntimeApi(runtimeApi: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(runtimeApi);
  if (!match) throw new ConfigError(`AWS_LAMBDA_RUNTIME_API must be host:port, got ${JSON.stringify(runtimeApi)}`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}
