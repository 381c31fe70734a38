/**
 * Reads a request body up to a limit. OPA refuses a body over `server.decoding.max_length` with
 * 400 `invalid_parameter` "request body too large", before reading it when Content-Length
 * announces it (`v1/server/handlers/decoding.go`).
 */
import { IncomingMessage } from 'node:http';
import { ApiError, BODY_TOO_LARGE } from './errors';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Stop buffering; the server closes the connection rather than read the rest.
        req.pause();
        reject(tooLarge());
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

function tooLarge(): ApiError {
  return new ApiError(400, 'invalid_parameter', BODY_TOO_LARGE, { headers: { Connection: 'close' } });
}
