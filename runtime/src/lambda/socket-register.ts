/**
 * `POST /register` of the Lambda Extensions API written on a bare TCP socket: the one request the
 * extension makes before Lambda may start the function's runtime, so it is made without loading
 * `node:http` (its client, agent and parser cost the cold start several milliseconds before the
 * first byte is sent). One HTTP/1.1 request with `Connection: close`; the answer is read until the
 * server closes the connection, then framed by `Content-Length` or chunks. Every other call goes through
 * `ExtensionsApiClient`.
 */
import * as net from 'node:net';
import { DEFAULT_EVENTS, EXTENSIONS_API_BASE_PATH, parseRuntimeApi, registerHeaders, REQUEST_TIMEOUT_MS } from './extensions-api';
import type { RegisterResponse } from './types';

export interface SocketRegistration {
  readonly registered: RegisterResponse;
  /** The `Lambda-Extension-Identifier` Lambda gave. */
  readonly identifier: string;
}

/** An HTTP/1.1 answer, read whole. */
export interface RawAnswer {
  readonly status: number;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** A header value that cannot end the line it is written on. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

/**
 * Registers `name` for INVOKE and SHUTDOWN with the Extensions API at `runtimeApi` (`host:port`).
 * Rejects on any failure (no answer within `timeoutMs`, a non-2xx status, an answer it cannot read).
 * `onSent` is called once the whole request has been handed to the kernel, while Lambda answers:
 * work done there no longer delays the request (an exception it throws is ignored).
 */
export function registerOverSocket(
  runtimeApi: string,
  name: string,
  timeoutMs = REQUEST_TIMEOUT_MS,
  onSent?: () => void,
): Promise<SocketRegistration> {
  const { host, port } = parseRuntimeApi(runtimeApi);
  const body = Buffer.from(JSON.stringify({ events: DEFAULT_EVENTS }));
  const headers: Record<string, string> = {
    'Host': runtimeApi,
    ...registerHeaders(name),
    'Content-Type': 'application/json',
    'Content-Length': String(body.length),
    'Connection': 'close',
  };
  for (const [key, value] of Object.entries(headers)) {
    if (!HEADER_VALUE.test(value)) return Promise.reject(new Error(`cannot send ${key} ${JSON.stringify(value)}`));
  }
  const head = `POST ${EXTENSIONS_API_BASE_PATH}/register HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, host);
    const timer = setTimeout(() => socket.destroy(new Error(`/register did not answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    /** Settles with the answer read so far; before the end of the connection, only once it reads whole. */
    const finish = (ended: boolean): void => {
      let answer: RawAnswer;
      try {
        answer = parseAnswer(Buffer.concat(chunks));
      } catch (err) {
        if (!ended) return;
        clearTimeout(timer);
        socket.destroy();
        return reject(err);
      }
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(registrationOf(answer));
      } catch (err) {
        reject(err);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (isComplete(Buffer.concat(chunks))) finish(false);
    });
    socket.once('end', () => finish(true));
    // Written, not ended: a server may take a half-closed connection for a client that went away.
    // `Connection: close` makes Lambda end it once it has answered.
    socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]), (err) => {
      if (err || !onSent) return;
      try {
        onSent();
      } catch {
        // The caller's to see again when it needs what it did (see the contract above).
      }
    });
  });
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

function registrationOf(answer: RawAnswer): SocketRegistration {
  const text = answer.body.toString('utf8');
  if (answer.status < 200 || answer.status >= 300) throw new Error(`/register answered ${answer.status}: ${text.slice(0, 200)}`);
  const identifier = answer.headers['lambda-extension-identifier'];
  if (!identifier) throw new Error('/register answered without a Lambda-Extension-Identifier header');
  const registered = JSON.parse(text) as unknown;
  if (registered === null || typeof registered !== 'object' || Array.isArray(registered)) throw new Error('/register answered with a body that is not a JSON object');
  return { registered: registered as RegisterResponse, identifier };
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
