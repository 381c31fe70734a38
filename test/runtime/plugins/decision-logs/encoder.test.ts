import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { BufferedEvent } from '../../../../runtime/src/plugins/decision-logs/decision-log-buffer';
import { ChunkEncoder } from '../../../../runtime/src/plugins/decision-logs/encoder';

/** Events with random (incompressible) payloads, so that chunk sizes are predictable enough to need splitting. */
function events(n: number, payloadBytes = 200, prefix = 'id'): BufferedEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const json = JSON.stringify({ decision_id: `${prefix}-${i}`, input: { noise: randomBytes(payloadBytes / 2).toString('hex') } });
    return { decisionId: `${prefix}-${i}`, json, bytes: Buffer.byteLength(json) };
  });
}

describe('GIVEN an encoder with a 2 KiB upload limit', () => {
  test('WHEN it encodes more events than fit one body THEN every chunk is a gzip JSON array within the limit, and together they hold every event once, in order', () => {
    const encoder = new ChunkEncoder(2048);
    const input = events(100);

    const { chunks, oversized } = encoder.encode(input);

    expect(oversized).toEqual([]);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(chunk.body.length).toBeLessThanOrEqual(2048);
      const decoded = JSON.parse(gunzipSync(chunk.body).toString('utf8')) as Array<{ decision_id: string }>;
      expect(decoded.map((e) => e.decision_id)).toEqual(chunk.events.map((e) => e.decisionId));
    }
    expect(chunks.flatMap((c) => c.events.map((e) => e.decisionId))).toEqual(input.map((e) => e.decisionId));
  });

  test('WHEN it encodes again THEN it keeps its adapted guess and still respects the limit', () => {
    const encoder = new ChunkEncoder(2048);
    encoder.encode(events(100));

    const { chunks } = encoder.encode(events(100));

    expect(chunks.every((c) => c.body.length <= 2048)).toBe(true);
    expect(chunks.reduce((n, c) => n + c.events.length, 0)).toBe(100);
  });

  test('WHEN events compress well THEN one chunk holds many more bytes of JSON than the limit', () => {
    const encoder = new ChunkEncoder(2048);
    const repetitive: BufferedEvent[] = Array.from({ length: 200 }, (_, i) => {
      const json = JSON.stringify({ decision_id: `id-${i}`, input: { text: 'a'.repeat(100) } });
      return { decisionId: `id-${i}`, json, bytes: json.length };
    });

    const { chunks } = encoder.encode(repetitive);

    expect(chunks.every((c) => c.body.length <= 2048)).toBe(true);
    expect(Math.max(...chunks.map((c) => c.events.reduce((n, e) => n + e.bytes, 0)))).toBeGreaterThan(2048);
  });

  test('WHEN one event does not fit even alone THEN it is returned as oversized and the others are encoded', () => {
    const encoder = new ChunkEncoder(2048);
    const [small1, small2] = events(2);
    const [huge] = events(1, 8000, 'huge');

    const { chunks, oversized } = encoder.encode([small1, huge, small2]);

    expect(oversized.map((e) => e.decisionId)).toEqual([huge.decisionId]);
    expect(chunks.flatMap((c) => c.events)).toEqual([small1, small2]);
  });
});
