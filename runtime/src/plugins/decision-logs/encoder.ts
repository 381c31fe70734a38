/**
 * Packs events into upload bodies: a gzip-compressed JSON array each, at most
 * `upload_size_limit_bytes` compressed (https://www.openpolicyagent.org/docs/management-decision-logs,
 * "Decision Log Service API"). As OPA's chunk encoder (`v1/plugins/logs/encoder.go`) it guesses an
 * uncompressed size per chunk and adapts it: up (doubling) while chunks come out below 90% of the
 * limit, down (halving, and re-encoding the chunk) when one comes out above it.
 */
import { gzipSync } from 'node:zlib';
import type { BufferedEvent } from './decision-log-buffer';

export interface Chunk {
  /** The gzip body to POST. */
  readonly body: Buffer;
  /** The events in it, oldest first. */
  readonly events: readonly BufferedEvent[];
}

export interface EncodedChunks {
  readonly chunks: readonly Chunk[];
  /** Events that do not fit the limit even alone (OPA drops them, counting `enc_log_exceeded_upload_size_limit_bytes`). */
  readonly oversized: readonly BufferedEvent[];
}

/** OPA's "equilibrium" band: below this share of the limit, the guess grows. */
const SCALE_UP_BELOW = 0.9;

export class ChunkEncoder {
  /** Current guess of how many uncompressed bytes fill one chunk; kept across calls, as OPA does. */
  private uncompressedLimit: number;

  public constructor(private readonly limitBytes: number) {
    this.uncompressedLimit = limitBytes;
  }

  public encode(events: readonly BufferedEvent[]): EncodedChunks {
    const chunks: Chunk[] = [];
    const oversized: BufferedEvent[] = [];
    let start = 0;
    while (start < events.length) {
      let end = this.fill(events, start);
      for (;;) {
        const body = gzipArray(events, start, end);
        if (body.length <= this.limitBytes) {
          chunks.push({ body, events: events.slice(start, end) });
          // Grow only when the guess, not the end of the events, cut this chunk short.
          if (end < events.length && body.length < SCALE_UP_BELOW * this.limitBytes) this.uncompressedLimit *= 2;
          start = end;
          break;
        }
        if (end - start === 1) {
          oversized.push(events[start]);
          start = end;
          break;
        }
        this.uncompressedLimit = Math.max(1, Math.floor(this.uncompressedLimit / 2));
        end = start + Math.floor((end - start) / 2);
      }
    }
    return { chunks, oversized };
  }

  /** End (exclusive) of the run from `start` that fits the uncompressed guess; at least one event. */
  private fill(events: readonly BufferedEvent[], start: number): number {
    let size = 2 + events[start].bytes; // the brackets and the first event
    let end = start + 1;
    while (end < events.length && size + 1 + events[end].bytes <= this.uncompressedLimit) {
      size += 1 + events[end].bytes;
      end++;
    }
    return end;
  }
}

function gzipArray(events: readonly BufferedEvent[], start: number, end: number): Buffer {
  let text = '[';
  for (let i = start; i < end; i++) text += (i > start ? ',' : '') + events[i].json;
  return gzipSync(text + ']');
}
