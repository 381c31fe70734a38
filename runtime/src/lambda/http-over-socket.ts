/**
 * One HTTP/1.1 request written on a bare TCP socket, and its answer read whole: the transport of
 * every call to the Lambda Extensions API (`ExtensionsApiClient`). Not `node:http`: its client,
 * agent and parser cost a cold start several milliseconds before the first byte of a request is
 * sent, twice on the way to the first `/event/next` (`/register`, then `/event/next` itself), and
 * the API is a local server that answers small JSON bodies. Not `fetch`: undici gives every
 * request a 300 s headers timeout, and `/event/next` is a long poll that may rightly wait longer
 * (an idle environment), which silently ended Sentry's Node extension.
 *
 * Each request has a connection of its own, sent with `Connection: close`: the environment is
 * frozen between events, and a pooled socket may be dead when it thaws. The answer is read until
 * it is whole (framed by `Content-Length` or chunks) or the server ends the connection.
 */
import { connect } from 'node:net';

export interface SocketRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Sent as given (`Host` and `Connection` are added); a value that would end its line is refused. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** undefined: no limit at all (a long poll). */
  readonly timeoutMs?: number;
  /**
   * Called once the whole request has been handed to the kernel, while the server answers: work
   * done there no longer delays the request (an exception it throws is ignored).
   */
  readonly onSent?: () => void;
}

/** An HTTP/1.1 answer, read whole. */
export interface RawAnswer {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Nothing, or not the whole answer, came within the request's `timeoutMs`. */
export class NoAnswerError extends Error {
  public constructor(timeoutMs: number) {
    super(`did not answer within ${timeoutMs} ms`);
    this.name = 'NoAnswerError';
  }
}

/** A header value that cannot end the line it is written on. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/**
 * Sends `request` to `host:port` and resolves with the answer, whatever its status. Rejects when
 * nothing answers in time, the connection fails, or the answer cannot be read; the message says
 * which.
 */
export function requestOverSocket(host: string, port: number, request: SocketRequest): Promise<RawAnswer> {
  const { method, path, body, timeoutMs, onSent } = request;
  const headers: Record<string, string> = { Host: hostHeader(host, port), ...request.headers, Connection: 'close' };
  if (body) headers['Content-Length'] = String(body.length);
  for (const [key, value] of Object.entries(headers)) {
    if (!HEADER_VALUE.test(value)) return Promise.reject(new Error(`cannot send ${key} ${JSON.stringify(value)}`));
  }
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = connect(port, host);
    const timer = timeoutMs === undefined
      ? undefined
      : setTimeout(() => socket.destroy(new NoAnswerError(timeoutMs)), timeoutMs);
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      outcome();
    };
    socket.once('error', (err) => settle(() => reject(err)));
    /** Settles with the answer read so far; before the end of the connection, only once it reads whole. */
    const finish = (ended: boolean): void => {
      let answer: RawAnswer;
      try {
        answer = parseAnswer(Buffer.concat(chunks));
      } catch (err) {
        if (ended) settle(() => reject(err));
        return;
      }
      settle(() => resolve(answer));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (isComplete(Buffer.concat(chunks))) finish(false);
    });
    socket.once('end', () => finish(true));
    // Written, not ended: a server may take a half-closed connection for a client that went away
    // (Go's net/http cancels the request), and the long poll must stay open. `Connection: close`
    // makes the server end it once it has answered.
    socket.write(Buffer.concat(body ? [Buffer.from(head, 'latin1'), body] : [Buffer.from(head, 'latin1')]), (err) => {
      if (err || !onSent) return;
      try {
        onSent();
      } catch {
        // The caller's to see again when it needs what it did (see the contract above).
      }
    });
  });
}

/** The `Host` header of `host:port`, an IPv6 host in brackets. */
function hostHeader(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** True once `raw` holds a whole answer framed by `Content-Length` or chunks (one framed by the connection's end is whole at its end). */
function isComplete(raw: Buffer): boolean {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = raw.toString('latin1', 0, headEnd);
  // The last chunk, after the previous chunk's (or the headers') line end.
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return raw.indexOf('\r\n0\r\n\r\n', headEnd) >= 0;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return length !== null && raw.length - (headEnd + 4) >= Number(length[1]);
}

/** Reads a whole HTTP/1.x answer: status line, headers, and the body framed by `Content-Length`, chunks, or the end of the connection. */
export function parseAnswer(raw: Buffer): RawAnswer {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error('the answer ended before its headers did');
  const [statusLine, ...lines] = raw.toString('latin1', 0, headEnd).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (!status) throw new Error(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 100))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`not a header line: ${JSON.stringify(line.slice(0, 100))}`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(headEnd + 4);
  if (/(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding'] ?? '')) {
    body = dechunk(body);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (!Number.isInteger(length) || length < 0 || length > body.length) throw new Error(`the body ended before its Content-Length (${headers['content-length']})`);
    body = body.subarray(0, length);
  }
  return { status: Number(status[1]), headers, body };
}

/** The data of a chunked body (RFC 9112, section 7.1); trailers are ignored. */
function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('a chunked body ended inside a chunk size');
    const size = parseInt(raw.toString('latin1', at, lineEnd).split(';')[0].trim(), 16);
    if (!Number.isInteger(size) || size < 0) throw new Error('a chunked body has a bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (start + size + 2 > raw.length) throw new Error('a chunked body ended inside a chunk');
    parts.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}
