/**
 * The Node.js layer (functions whose runtime has no node): the extension started on the layer's
 * Node.js binary (a Python 3.13 function's two layers, unpacked side by side as at /opt) against
 * the same extension on the runtime's own node (a Node.js function's layer, run with the node
 * running this bench), alternating starts: spawn → /register and → first /event/next (median of
 * SCALE.coldStarts each), RSS after start and after the memory checkpoints' decisions; and the
 * Node.js layer's size per architecture, zipped and unzipped, with the room it leaves a function
 * under Lambda's 250 MB unzipped limit for a function and all its layers. The decision figures
 * (p50, p99, decisions/s one at a time) compare the extension on the layer's binary with the bare
 * Node server on that same binary, taking turns as in the latency and throughput figures.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LATENCY_TARGETS } from './latency';
import { SCALE } from './lib/config';
import { BenchBundles, DECISION_PATH, LayerUnderTest, RBAC_BODY, SCRATCH, startExtension, synthesize } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { NodeBinary, startBareServer } from './lib/processes';
import { FigureResult, MB, Row, round } from './lib/results';
import { decisionsPerSecond, latencyPairs, LatencySummary, median, pairSpread, ratePairs, ratio, summarize } from './lib/stats';
import { ROUNDS, takeTurns } from './lib/turns';
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
  let rss: { runtime: number[]; layer: number[]; bareOnLayer: number[] };
  let decisions: Awaited<ReturnType<typeof decisionsOnLayerBinary>>;
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
    rss = { runtime: await rssProfile(onRuntime), layer: await rssProfile(onLayer), bareOnLayer: await bareRssProfile(onLayer) };
    decisions = await decisionsOnLayerBinary(onLayer);
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

  const onBinary = `on the layer's Node.js ${NODE_RUNTIME.VERSION}`;
  const last = rss.layer.length - 1;
  const rssRatio = ratio(rss.layer[last], rss.bareOnLayer[last]);
  rows.push({
    figure: 'node layer',
    metric: `extension RSS ${onBinary} ${labels[last]}`,
    value: round(rss.layer[last] / MB, 1),
    unit: 'MB',
    reference: { name: `bare Node server ${onBinary} ${labels[last]}`, value: round(rss.bareOnLayer[last] / MB, 1) },
    ratio: round(rssRatio, 2),
    target: '≤ 1.15×',
    meetsTarget: rssRatio === null ? null : rssRatio <= 1.15,
  });
  for (const [key, label] of [['p50', 'p50'], ['p99', 'p99']] as const) {
    const r = ratio(decisions.latency.extension[key], decisions.latency.bare[key]);
    rows.push({
      figure: 'node layer',
      metric: `extension ${onBinary}: decision ${label}`,
      value: round(decisions.latency.extension[key]),
      unit: 'ms',
      reference: { name: `bare Node server ${onBinary} ${label}`, value: round(decisions.latency.bare[key]) },
      ratio: round(r, 2),
      target: `≤ ${LATENCY_TARGETS[key]}×`,
      meetsTarget: r === null ? null : r <= LATENCY_TARGETS[key]!,
      note: decisions.spread[key],
    });
  }
  const rateRatio = ratio(decisions.rate.extension, decisions.rate.bare);
  rows.push({
    figure: 'node layer',
    metric: `extension ${onBinary}: decisions/s, concurrency 1`,
    value: round(decisions.rate.extension, 0),
    unit: 'decisions/s',
    reference: { name: `bare Node server ${onBinary}, concurrency 1`, value: round(decisions.rate.bare, 0) },
    ratio: round(rateRatio, 2),
    target: '≥ 0.9×',
    meetsTarget: rateRatio === null ? null : rateRatio >= 0.9,
    note: decisions.spread.rate,
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
      decisionsOnLayerBinary: decisions,
      sizes,
    },
  };
}

/**
 * The extension on the layer's Node.js binary and the bare Node server on the same binary, taking
 * turns: sequential decisions (latency), then one-at-a-time closed loops (decisions/s).
 */
async function decisionsOnLayerBinary(layer: LayerUnderTest): Promise<{
  latency: Record<'extension' | 'bare', LatencySummary>;
  rate: Record<'extension' | 'bare', number>;
  /** How each ratio varies from one pair of turns to the next. */
  spread: Record<'p50' | 'p99' | 'rate', string>;
}> {
  const ext = await startExtension(layer);
  const running: Array<{ stop(): Promise<void> }> = [ext];
  const clients: KeepAliveClient[] = [];
  try {
    const bare = await startBareServer(layerNode(layer));
    running.push(bare);
    const servers = ['extension', 'bare'] as const;
    const client = {
      extension: new KeepAliveClient({ port: ext.port, path: DECISION_PATH }),
      bare: new KeepAliveClient({ port: bare.port, path: DECISION_PATH }),
    };
    clients.push(client.extension, client.bare);
    for (const server of servers) await client[server].sequential(RBAC_BODY, SCALE.warmup);
    const latency = await takeTurns(servers, ROUNDS, (server) => client[server].sequential(RBAC_BODY, Math.ceil(SCALE.latencyRequests / ROUNDS)));
    const turnMs = (SCALE.throughputSeconds * 1000) / ROUNDS;
    const loops = await takeTurns(servers, ROUNDS, (server) => client[server].closedLoop(RBAC_BODY, 1, turnMs));
    return {
      latency: { extension: summarize(latency.extension.flat()), bare: summarize(latency.bare.flat()) },
      rate: { extension: decisionsPerSecond(loops.extension), bare: decisionsPerSecond(loops.bare) },
      spread: {
        p50: pairSpread(latencyPairs(latency.extension, latency.bare, 'p50')),
        p99: pairSpread(latencyPairs(latency.extension, latency.bare, 'p99')),
        rate: pairSpread(ratePairs(loops.extension, loops.bare)),
      },
    };
  } finally {
    for (const client of clients) client.close();
    for (const server of running.reverse()) await server.stop();
  }
}

/** The Node.js layer's binary, with the library folder its launcher adds. */
function layerNode(layer: LayerUnderTest): NodeBinary {
  const dir = path.join(layer.layerDir, NODE_RUNTIME.DIR);
  return { path: path.join(dir, NODE_RUNTIME.BINARY), env: { LD_LIBRARY_PATH: path.join(dir, NODE_RUNTIME.LIB_DIR) } };
}

/** RSS of the bare Node server on the layer's binary after start and after each checkpoint. */
async function bareRssProfile(layer: LayerUnderTest): Promise<number[]> {
  const bare = await startBareServer(layerNode(layer));
  try {
    return await profile(bare.pid, bare.port);
  } finally {
    await bare.stop();
  }
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
