/**
 * Init duration as AWS's Runtime Interface Emulator measures it: rapid's `INIT REPORT(durationMs)`,
 * from the start of the Init phase (extensions spawned) to the runtime's and every extension's
 * first `next`. The same Node.js function (a handler that does nothing, run by `aws-lambda-ric`)
 * with the layer and without it (an empty /opt), started alternately, median of each. RIE starts
 * lazily, on the first invoke; each sample is a fresh RIE, in its own mount namespace (root needed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { QUICK } from './lib/config';
import { BenchBundles, SCRATCH, synthesize } from './lib/fixtures';
import { FigureResult, round } from './lib/results';
import { median, ratio } from './lib/stats';
import { NODE_RIC, RieProcess } from '../test/support/rie';

const STARTS = QUICK ? 3 : 10;

/** One fresh RIE, one invoke, its INIT REPORT durationMs. */
async function initOnce(layerDir: string, taskRoot: string, environment: Record<string, string>): Promise<number> {
  const rie = await RieProcess.start({ layerDir, command: ['node', NODE_RIC, 'noop.handler'], taskRoot, environment });
  try {
    const res = await rie.invoke({});
    if (res.status !== 200) throw new Error(`RIE answered ${res.status}: ${res.body}\n${rie.lines().join('\n')}`);
    const ms = rie.initDurationMs();
    if (ms === undefined) throw new Error(`RIE printed no INIT REPORT line:\n${rie.lines().join('\n')}`);
    await rie.stop();
    return ms;
  } finally {
    await rie.kill();
  }
}

export async function rieInit(bundles: BenchBundles): Promise<FigureResult> {
  const taskRoot = path.join(SCRATCH, 'rie-noop');
  const emptyOpt = path.join(SCRATCH, 'rie-empty-opt');
  fs.mkdirSync(taskRoot, { recursive: true });
  fs.mkdirSync(emptyOpt, { recursive: true });
  fs.writeFileSync(path.join(taskRoot, 'noop.mjs'), 'export const handler = async () => ({});\n');
  const layer = await synthesize(bundles.wasmFile);
  const withLayer: number[] = [];
  const without: number[] = [];
  try {
    // One pair not counted (page cache), then alternate so both see the same machine load.
    for (let i = 0; i <= STARTS; i++) {
      const a = await initOnce(layer.layerDir, taskRoot, layer.environment);
      const b = await initOnce(emptyOpt, taskRoot, {});
      if (i > 0) {
        withLayer.push(a);
        without.push(b);
      }
    }
  } finally {
    layer.dispose();
  }
  const withMs = median(withLayer);
  const withoutMs = median(without);
  return {
    rows: [{
      figure: 'rie-init',
      metric: 'Init duration with the layer (RIE INIT REPORT, median)',
      value: round(withMs, 1),
      unit: 'ms',
      reference: { name: 'the same function without the layer', value: round(withoutMs, 1) },
      ratio: round(ratio(withMs, withoutMs)),
      note: `${STARTS} alternating starts each; aws-lambda-ric runs a handler that does nothing; added by the layer: ${round(withMs - withoutMs, 1)} ms`,
    }],
    details: { withLayerMs: withLayer.map((v) => round(v, 1)), withoutLayerMs: without.map((v) => round(v, 1)) },
  };
}
