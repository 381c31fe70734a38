/**
 * Cold start: the emulator's spawn of `extensions/opa` (an embedded bundle) to its /register, to
 * its first /event/next and to the first decision it answers (asked from the bench process every
 * millisecond from the spawn on), against `node -e 0`, and `opa run --server` (same policy and
 * data) until /health answers 200. Median of SCALE.coldStarts each; NODE_EXTRA_CA_CERTS unset in
 * every timed start.
 */
import { spawn } from 'node:child_process';
import { SCALE } from './lib/config';
import { BenchBundles, startExtension, synthesize } from './lib/fixtures';
import { cleanEnv, startOpaServer } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
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

/** The extension's start-up figures against `node -e 0`: [metric, samples, target ratio]. */
type StartFigure = [string, number[], number | undefined];

export async function coldStart(bundles: BenchBundles): Promise<FigureResult> {
  const register: number[] = [];
  const ready: number[] = [];
  const decision: number[] = [];
  const layer = await synthesize(bundles.wasmFile);
  try {
    // One start not counted: the first reads the layer from disk into the page cache.
    for (let i = 0; i <= SCALE.coldStarts; i++) {
      const ext = await startExtension(layer, { probeDecision: true });
      await ext.stop();
      if (i === 0) continue;
      register.push(ext.registerMs);
      ready.push(ext.readyMs);
      decision.push(ext.firstDecisionMs!);
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

  const nodeMs = median(node);
  const opaMs = median(opa);
  const figures: StartFigure[] = [
    ['extension spawn → /register (median)', register, 1.5],
    ['extension spawn → first /event/next (median)', ready, 2.5],
    ['extension spawn → first decision answered (median)', decision, undefined],
  ];
  const rows: Row[] = figures.map(([metric, samples, target]) => {
    const r = ratio(median(samples), nodeMs);
    return {
      figure: 'cold start',
      metric,
      value: round(median(samples), 1),
      unit: 'ms',
      reference: { name: 'node -e 0 (median)', value: round(nodeMs, 1) },
      ratio: round(r, 2),
      ...(target === undefined ? {} : { target: `≤ ${target}×`, meetsTarget: r === null ? null : r <= target }),
    };
  });
  rows.push({
    figure: 'cold start',
    metric: 'extension spawn → first /event/next (median)',
    value: round(median(ready), 1),
    unit: 'ms',
    reference: { name: 'opa run --server → /health 200 (median)', value: round(opaMs, 1) },
    ratio: round(ratio(median(ready), opaMs), 2),
  });
  return {
    rows,
    details: {
      starts: SCALE.coldStarts,
      register: summarize(register),
      ready: summarize(ready),
      firstDecision: summarize(decision),
      node: summarize(node),
      opa: summarize(opa),
      samples: { register, ready, firstDecision: decision, node, opa },
    },
  };
}
