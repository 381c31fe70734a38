/**
 * A plain HTTP client for protocol tests: sends exactly the bytes and headers given (no automatic
 * gzip, no JSON), returns status, headers and the body as sent and as text, raced against a timeout.
 */
import * as http from 'node:http';
import * as zlib from 'node:zlib';

export interface RawReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The body, gunzipped when the server sent `Content-Encoding: gzip`. */
  readonly text: string;
  /** Parsed JSON, or undefined for an empty body or one that is not JSON. */
  readonly body: unknown;
  /** Bytes on the wire. */
  readonly wireBytes: number;
}

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
}

export function send(base: string, r: RawRequest, agent?: http.Agent): Promise<RawReply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: r.method,
      path: r.path,
      agent,
      timeout: 10_000,
      // Node's client frames a GET or DELETE body only when told its length.
      headers: { ...(r.body === undefined ? {} : { 'Content-Length': Buffer.byteLength(r.body) }), ...r.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          const wire = Buffer.concat(chunks);
          const bytes = res.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(wire) : wire;
          const text = bytes.toString('utf8');
          resolve({ status: res.statusCode!, headers: res.headers, text, body: parseJson(text), wireBytes: wire.length });
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${r.method} ${r.path} timed out`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

function parseJson(text: string): unknown {
  try {
    return text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
