/**
 * The Node.js layer (functions whose runtime has no node): the extension started on the layer's
 * Node.js binary (a Python 3.13 function's two layers, unpacked side by side as at /opt) against
 * the same extension on the runtime's own node (a Node.js function's layer, run with the node
 * running this bench), alternating starts: spawn → /register and → first /event/next (median of
 * SCALE.coldStarts each), RSS after start and after the memory checkpoints' decisions; and the
 * Node.js layer's size per architecture, zipped and unzipped, with the room it leaves a function
 * under Lambda's 250 MB unzipped limit for a function and all its layers.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SCALE } from './lib/config';
import { BenchBundles, SCRATCH, startExtension, synthesize } from './lib/fixtures';
import { FigureResult, MB, Row, round } from './lib/results';
import { median, ratio, summarize } from './lib/stats';
import { profile } from './memory';
import { treeBytes, zipAvailable, zippedBytes } from './size';
import { OpaNodeRuntimeLayer } from '../src';
import { NODE_RUNTIME } from '../src/layer-contract';
import { nodePackagesContext } from '../test/support/construct-helpers';

/** Lambda's limit for a function's code and all its layers, unzipped (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
const LAMBDA_UNZIPPED_LIMIT_MB = 250;

/** The Node.js layer of `architecture` as `cdk synth` stages it. */
function stagedNodeLayer(architecture: lambda.Architecture): string {
  const outdir = fs.mkdtempSync(path.join(SCRATCH, 'node-layer-'));
  const app = new App({ outdir, context: nodePackagesContext() });
  const stack = new Stack(app, 'NodeLayer');
  const layer = OpaNodeRuntimeLayer.of(stack, architecture);
  const template = app.synth().getStackByName('NodeLayer').template;
  const logicalId = stack.getLogicalId(layer.node.defaultChild as lambda.CfnLayerVersion);
  const key = String(template.Resources[logicalId].Properties.Content.S3Key);
  return path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
}

export async function nodeLayer(bundles: BenchBundles): Promise<FigureResult> {
  const onRuntime = await synthesize(bundles.wasmFile);
  const onLayer = await synthesize(bundles.wasmFile, {}, lambda.Runtime.PYTHON_3_13);
  const starts = { runtime: { register: [] as number[], ready: [] as number[] }, layer: { register: [] as number[], ready: [] as number[] } };
  let rss: { runtime: number[]; layer: number[] };
  try {
    // Alternating, one start of each not counted (it reads the files into the page cache).
    for (let i = 0; i <= SCALE.coldStarts; i++) {
      for (const [name, layer] of [['runtime', onRuntime], ['layer', onLayer]] as const) {
        const ext = await startExtension(layer);
        await ext.stop();
        if (i === 0) continue;
        starts[name].register.push(ext.registerMs);
        starts[name].ready.push(ext.readyMs);
      }
    }
    rss = { runtime: await rssProfile(onRuntime), layer: await rssProfile(onLayer) };
  } finally {
    onRuntime.dispose();
    onLayer.dispose();
  }

  const rows: Row[] = [];
  const runtimeNode = `runtime's node ${process.version}`;
  for (const [metric, key] of [['spawn → /register', 'register'], ['spawn → first /event/next', 'ready']] as const) {
    const value = median(starts.layer[key]);
    const reference = median(starts.runtime[key]);
    rows.push({
      figure: 'node layer',
      metric: `extension on the layer's Node.js ${NODE_RUNTIME.VERSION}: ${metric} (median)`,
      value: round(value, 1),
      unit: 'ms',
      reference: { name: `on the ${runtimeNode} (median)`, value: round(reference, 1) },
      ratio: round(ratio(value, reference), 2),
    });
  }
  const labels = ['after start', ...SCALE.memoryCheckpoints.map((n) => `after ${n / 1000}k decisions`)];
  labels.forEach((label, i) => {
    rows.push({
      figure: 'node layer',
      metric: `extension RSS on the layer's Node.js ${NODE_RUNTIME.VERSION} ${label}`,
      value: round(rss.layer[i] / MB, 1),
      unit: 'MB',
      reference: { name: `on the ${runtimeNode}`, value: round(rss.runtime[i] / MB, 1) },
      ratio: round(ratio(rss.layer[i], rss.runtime[i]), 2),
    });
  });

  const sizes: Record<string, { unzipped: number; zipped: number | null }> = {};
  for (const architecture of [lambda.Architecture.X86_64, lambda.Architecture.ARM_64]) {
    const dir = stagedNodeLayer(architecture);
    const unzipped = treeBytes(dir);
    const zipped = zipAvailable() ? zippedBytes(dir, `node-layer-${architecture.name}`) : null;
    sizes[architecture.name] = { unzipped, zipped };
    rows.push({ figure: 'node layer', metric: `Node.js layer (${architecture.name}) zip`, value: round(zipped === null ? null : zipped / MB, 1), unit: 'MB' });
    rows.push({ figure: 'node layer', metric: `Node.js layer (${architecture.name}) unzipped`, value: round(unzipped / MB, 1), unit: 'MB' });
    rows.push({
      figure: 'node layer',
      metric: `left for the function's code and other layers (${architecture.name}), with both OPA layers`,
      value: round(LAMBDA_UNZIPPED_LIMIT_MB - (unzipped + treeBytes(onLayerTemplateDir())) / MB, 1),
      unit: 'MB',
      reference: { name: 'Lambda\'s unzipped limit for a function and its layers', value: LAMBDA_UNZIPPED_LIMIT_MB },
    });
  }
  // What stripping would save: only measurable for this machine's own architecture.
  const stripped = path.join(SCRATCH, 'node-stripped');
  const binary = path.join(stagedNodeLayer(lambda.Architecture.X86_64), NODE_RUNTIME.DIR, NODE_RUNTIME.BINARY);
  execFileSync('strip', ['-o', stripped, binary]);
  rows.push({
    figure: 'node layer',
    metric: 'x86_64 binary stripped (not shipped)',
    value: round(fs.statSync(stripped).size / MB, 1),
    unit: 'MB',
    reference: { name: 'as published, shipped', value: round(fs.statSync(binary).size / MB, 1) },
    ratio: round(ratio(fs.statSync(stripped).size, fs.statSync(binary).size), 2),
    note: 'a host strip cannot read the other architecture, and a host-dependent asset would change every deploy',
  });
  fs.rmSync(stripped, { force: true });
  return {
    rows,
    details: {
      starts: SCALE.coldStarts,
      onLayer: { register: summarize(starts.layer.register), ready: summarize(starts.layer.ready) },
      onRuntime: { register: summarize(starts.runtime.register), ready: summarize(starts.runtime.ready) },
      rssBytes: rss,
      sizes,
    },
  };
}

/** RSS of the extension after start and after each checkpoint. */
async function rssProfile(layer: Awaited<ReturnType<typeof synthesize>>): Promise<number[]> {
  const ext = await startExtension(layer);
  try {
    return await profile(ext.pid, ext.port);
  } finally {
    await ext.stop();
  }
}

/** The OPA layer's template (launcher and runtime): the part of the OPA layer every function carries. */
function onLayerTemplateDir(): string {
  return path.resolve(__dirname, '..', 'lib', 'runtime');
}
