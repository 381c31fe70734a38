/**
 * Scaling: decision p50 as the input grows (100 B → 1 MB request bodies) and as the bundle's
 * data.json grows (1 KB → 10 MB), same policy and decision.
 */
import { measureSequential } from './latency';
import { QUICK, SCALE } from './lib/config';
import { BenchBundles, RBAC_DATA, RBAC_INPUT, buildBundles, startExtension, synthesize } from './lib/fixtures';
import { FigureResult, KB, MB, Row, round } from './lib/results';

const INPUT_SIZES = [100, KB, 10 * KB, 100 * KB, MB];
/** The 10 MB step alone takes about a minute to start (see the note in its row): left out of a quick run. */
const DATA_SIZES = QUICK ? [KB, 10 * KB, 100 * KB, MB] : [KB, 10 * KB, 100 * KB, MB, 10 * MB];
/** Bytes sent per step at most, so that the 1 MB step stays a few seconds long. */
const BYTES_PER_STEP = 20 * MB;

function label(bytes: number): string {
  return bytes >= MB ? `${bytes / MB} MB` : bytes >= KB ? `${bytes / KB} KB` : `${bytes} B`;
}

/** The RBAC request body padded to `bytes` with a string field the policy never reads. */
function paddedBody(bytes: number): string {
  const base = JSON.stringify({ input: { ...RBAC_INPUT, pad: '' } });
  return JSON.stringify({ input: { ...RBAC_INPUT, pad: 'x'.repeat(Math.max(0, bytes - base.length)) } });
}

/** The RBAC data with extra users bound to `reader` until its JSON is about `bytes` long. */
function paddedData(bytes: number): object {
  const data = JSON.parse(JSON.stringify(RBAC_DATA)) as { app: { rbac: { bindings: Record<string, string[]> } } };
  const base = JSON.stringify(data).length;
  const entry = JSON.stringify({ u0000000: ['reader'] }).length - 1; // `"u0000000":["reader"],`
  const users = Math.max(0, Math.floor((bytes - base) / entry));
  for (let i = 0; i < users; i++) data.app.rbac.bindings[`u${i.toString().padStart(7, '0')}`] = ['reader'];
  return data;
}

function countFor(bodyBytes: number): number {
  return Math.max(20, Math.min(SCALE.scalingRequests, Math.floor(BYTES_PER_STEP / bodyBytes)));
}

export async function scaling(bundles: BenchBundles): Promise<FigureResult> {
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};

  const layer = await synthesize(bundles.wasmFile);
  try {
    const ext = await startExtension(layer);
    try {
      let first: number | null = null;
      for (const bytes of INPUT_SIZES) {
        const body = paddedBody(bytes);
        const s = await measureSequential(ext.port, body, countFor(body.length));
        first ??= s.p50;
        details[`input ${label(bytes)}`] = s;
        rows.push({
          figure: 'scaling',
          metric: `p50, input ${label(bytes)}`,
          value: round(s.p50),
          unit: 'ms',
          reference: { name: `p50, input ${label(INPUT_SIZES[0])}`, value: round(first) },
          ratio: round(s.p50 / first, 2),
        });
      }
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
  }

  const body = paddedBody(INPUT_SIZES[0]);
  let first: number | null = null;
  for (const bytes of DATA_SIZES) {
    const sized = await buildBundles(paddedData(bytes));
    const dataLayer = await synthesize(sized.wasmFile);
    try {
      const ext = await startExtension(dataLayer, { initTimeout: 180_000 });
      try {
        const s = await measureSequential(ext.port, body, SCALE.scalingRequests);
        first ??= s.p50;
        details[`data ${label(bytes)}`] = { ...s, readyMs: ext.readyMs, bundleBytes: sized.wasm.length };
        rows.push({
          figure: 'scaling',
          metric: `p50, data.json ${label(bytes)}`,
          value: round(s.p50),
          unit: 'ms',
          reference: { name: `p50, data.json ${label(DATA_SIZES[0])}`, value: round(first) },
          ratio: round(s.p50 / first, 2),
          note: `extension cold start ${ext.readyMs.toFixed(0)} ms`,
        });
      } finally {
        await ext.stop();
      }
    } finally {
      dataLayer.dispose();
    }
  }
  return { rows, details };
}
