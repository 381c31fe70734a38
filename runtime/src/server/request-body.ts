/**
 * Reads a request body up to a limit. OPA refuses a body over `server.decoding.max_length` with
 * 400 `invalid_parameter` "request body too large": before any API sees the request when
 * Content-Length announces it ({@link declaredTooLarge}, which the server asks first), and as the
 * bytes come otherwise. It inflates a `Content-Encoding: gzip` body up to
 * `server.decoding.gzip.max_length` (`v1/server/handlers/decoding.go`, `v1/util/read_gzip_body.go`).
 */
import { IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
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
    return gunzipSync(raw, { maxOutputLength: limits.maxDecompressedBytes });
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ApiError(400, 'invalid_parameter',
        `${BODY_TOO_LARGE}: decompressed size exceeds limit of ${limits.maxDecompressedBytes} bytes (server.decoding.gzip.max_length)`, { cause: err });
    }
    throw new ApiError(400, 'invalid_parameter', `${GZIP_INVALID}: ${errorMessage(err)}`, { cause: err });
  }
}

/** OPA's refusal of a request whose Content-Length is over `limit`, or undefined when it is not. */
export function declaredTooLarge(req: IncomingMessage, limit: number): ApiError | undefined {
  const length = Number(req.headers['content-length']);
  return length > limit ? tooLarge(limit, length) : undefined;
}

function readRaw(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => new BodyReader(req, limit, resolve, reject));
}

/**
 * Collects one request's body. A class rather than closures: this runs on every decision, and
 * its listeners are the class's methods bound once.
 */
class BodyReader {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.error.bind(this);

  public constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
    private readonly resolve: (body: Buffer) => void,
    private readonly reject: (err: Error) => void,
  ) {
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
  }

  private data(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.cleanup();
      // Stop buffering; the server closes the connection rather than read the rest.
      this.req.pause();
      this.reject(tooLarge(this.limit));
      return;
    }
    this.chunks.push(chunk);
  }

  private end(): void {
    this.cleanup();
    // A body that came in one chunk (a decision's usually does) is that chunk, without a copy.
    this.resolve(this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size));
  }

  private error(err: Error): void {
    this.cleanup();
    this.reject(err);
  }

  private cleanup(): void {
    this.req.off('data', this.onData);
    this.req.off('end', this.onEnd);
    this.req.off('error', this.onError);
  }
}

/** OPA's BodyTooLargeError: with the body's size when the Content-Length told it. */
function tooLarge(limit: number, size?: number): ApiError {
  const message = `${BODY_TOO_LARGE}:${size ? ` ${formatBytes(size)}` : ''} exceeds limit of ${limit} bytes (server.decoding.max_length)`;
  return new ApiError(400, 'invalid_parameter', message, { headers: { Connection: 'close' } });
}

/**
 * OPA's `formatBytes`: `n` in the largest binary unit it reaches, to one decimal without a trailing
 * `.0` (`290.8 KiB`, `256 MiB`), bytes under 1 KiB. The tenth is rounded as Go's `%.1f` rounds it,
 * half to even on the exact quotient (1280 bytes are `1.2 KiB`).
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  let div = 1024n;
  let exp = 0;
  for (let m = Math.floor(n / 1024); m >= 1024; m = Math.floor(m / 1024)) {
    div *= 1024n;
    exp++;
  }
  const scaled = BigInt(n) * 10n;
  let tenths = scaled / div;
  const twice = (scaled - tenths * div) * 2n;
  if (twice > div || (twice === div && tenths % 2n === 1n)) tenths++;
  const text = tenths % 10n === 0n ? `${tenths / 10n}` : `${tenths / 10n}.${tenths % 10n}`;
  return `${text} ${'KMGTPE'[exp]}iB`;
}
