/**
 * Cold start: the emulator's spawn of `extensions/opa` (an embedded bundle) to its /register and
 * to its first /event/next, and in starts of its own to the first decision it answers (asked from
 * the bench process every millisecond from the spawn on), against `node -e 0`, and `opa run
 * --server` (same policy and data) until /health answers 200, the four taking turns. Median of
 * SCALE.coldStarts each; NODE_EXTRA_CA_CERTS unset in every timed start.
 *
 * The probe has starts of its own because it disturbs what it watches: a new connection every
 * millisecond from the bench process competes with the extension for the two cores, where a
 * function asks its first decision once, from its own init.
 */
import { spawn } from 'node:child_process';
import { SCALE } from './lib/config';
import { BenchBundles, startExtension, synthesize } from './lib/fixtures';
import { cleanEnv, startOpaServer } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
import { median, ratio, summarize } from './lib/stats';
import { takeTurns } from './lib/turns';

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
  const node: number[] = [];
  const opa: number[] = [];
  const layer = await synthesize(bundles.wasmFile);
  try {
    // The four take turns (lib/turns.ts), one start each per round. The first round is not
    // counted: it reads the layer, node and opa from disk into the page cache.
    await takeTurns(['extension', 'probed', 'node', 'opa'] as const, SCALE.coldStarts + 1, async (subject, turn) => {
      const counted = turn > 0;
      if (subject === 'extension') {
        const ext = await startExtension(layer);
        await ext.stop();
        if (!counted) return;
        register.push(ext.registerMs);
        ready.push(ext.readyMs);
      } else if (subject === 'probed') {
        const ext = await startExtension(layer, { probeDecision: true });
        await ext.stop();
        if (counted) decision.push(ext.firstDecisionMs!);
      } else if (subject === 'node') {
        const ms = await nodeStart();
        if (counted) node.push(ms);
      } else {
        const server = await startOpaServer(bundles.regoFile);
        await server.stop();
        if (counted) opa.push(server.readyMs);
      }
    });
  } finally {
    layer.dispose();
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
