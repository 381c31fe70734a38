/**
 * Reads a request body up to a limit. OPA refuses a body over `server.decoding.max_length` with
 * 400 `invalid_parameter` "request body too large", before reading it when Content-Length
 * announces it, and inflates a `Content-Encoding: gzip` body up to `server.decoding.gzip.max_length`
 * (`v1/server/handlers/decoding.go`, `v1/util/read_gzip_body.go`).
 */
import { IncomingMessage } from 'node:http';
import * as zlib from 'node:zlib';
import { ApiError, BODY_TOO_LARGE, GZIP_INVALID } from './errors';
import { errorMessage } from '../errors';

export interface BodyLimits {
  /** Bytes on the wire. */
  readonly maxBytes: number;
  /** Bytes once a gzip body is inflated. */
  readonly maxDecompressedBytes: number;
}

export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const raw = await readRaw(req, limits.maxBytes);
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding !== 'gzip') return raw;
  try {
    // Synchronous on purpose: bounded by maxOutputLength, and a body is at most a few MiB.
    return zlib.gunzipSync(raw, { maxOutputLength: limits.maxDecompressedBytes });
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ApiError(400, 'invalid_parameter',
        `${BODY_TOO_LARGE}: decompressed size exceeds limit of ${limits.maxDecompressedBytes} bytes (server.decoding.gzip.max_length)`, { cause: err });
    }
    throw new ApiError(400, 'invalid_parameter', `${GZIP_INVALID}: ${errorMessage(err)}`, { cause: err });
  }
}

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop buffering; the server closes the connection rather than read the rest.
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError(400, 'invalid_parameter', `${BODY_TOO_LARGE}: exceeds limit of ${limit} bytes (server.decoding.max_length)`, { headers: { Connection: 'close' } });
}
