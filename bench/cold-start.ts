/**
 * Cold start: the emulator's spawn of `extensions/opa` (an embedded bundle) to its first
 * /event/next, against `node -e 0` and `opa run --server` (same policy and data) until /health
 * answers 200. Median of SCALE.coldStarts each; NODE_EXTRA_CA_CERTS unset in every timed start.
 */
import { spawn } from 'node:child_process';
import { SCALE } from './lib/config';
import { BenchBundles, startExtension, synthesize } from './lib/fixtures';
import { cleanEnv, startOpaServer } from './lib/processes';
import { FigureResult, round } from './lib/results';
import { median, ratio, summarize } from './lib/stats';

/** ms from spawn to exit of `node -e 0`. */
function nodeStart(): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['-e', '0'], { env: cleanEnv(), stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`node -e 0 exited with ${code}`))));
  });
}

export async function coldStart(bundles: BenchBundles): Promise<FigureResult> {
  const extension: number[] = [];
  const layer = await synthesize(bundles.wasmFile);
  try {
    // One start not counted: the first reads the layer from disk into the page cache.
    for (let i = 0; i <= SCALE.coldStarts; i++) {
      const ext = await startExtension(layer);
      await ext.stop();
      if (i > 0) extension.push(ext.readyMs);
    }
  } finally {
    layer.dispose();
  }

  const node: number[] = [];
  for (let i = 0; i <= SCALE.coldStarts; i++) {
    const ms = await nodeStart();
    if (i > 0) node.push(ms);
  }

  const opa: number[] = [];
  for (let i = 0; i <= SCALE.coldStarts; i++) {
    const server = await startOpaServer(bundles.regoFile);
    await server.stop();
    if (i > 0) opa.push(server.readyMs);
  }

  const ext = median(extension);
  const nodeMs = median(node);
  const opaMs = median(opa);
  const r = ratio(ext, nodeMs);
  return {
    rows: [
      {
        figure: 'cold start',
        metric: 'extension spawn → first /event/next (median)',
        value: round(ext, 1),
        unit: 'ms',
        reference: { name: 'node -e 0 (median)', value: round(nodeMs, 1) },
        ratio: round(r, 2),
        target: '≤ 1.3×',
        meetsTarget: r === null ? null : r <= 1.3,
      },
      {
        figure: 'cold start',
        metric: 'extension spawn → first /event/next (median)',
        value: round(ext, 1),
        unit: 'ms',
        reference: { name: 'opa run --server → /health 200 (median)', value: round(opaMs, 1) },
        ratio: round(ratio(ext, opaMs), 2),
      },
    ],
    details: {
      starts: SCALE.coldStarts,
      extension: summarize(extension),
      node: summarize(node),
      opa: summarize(opa),
      samples: { extension, node, opa },
    },
  };
}
