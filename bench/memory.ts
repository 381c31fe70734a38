/**
 * Memory: RSS (VmRSS) of the extension's Node process after start and after 10k and 100k decisions,
 * against a bare Node server and OPA's server taking the same decisions. The load runs at
 * concurrency 4 to keep the run short; RSS is read 200 ms after the load stops.
 */
import { SCALE } from './lib/config';
import { BenchBundles, DECISION_PATH, RBAC_BODY, startExtension, synthesize } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { rssBytes, sleep, startBareServer, startOpaServer } from './lib/processes';
import { FigureResult, MB, Row, round } from './lib/results';
import { ratio } from './lib/stats';

const CONCURRENCY = 4;
/** The smallest memory size Lambda offers, which the README's recommendation is checked against. */
const SMALLEST_LAMBDA_MB = 128;
/** The smallest memory size the README recommends for a function with the extension ("What it costs"). */
const RECOMMENDED_LAMBDA_MB = 192;

/** RSS after start, then after each checkpoint's total of decisions. */
export async function profile(pid: number, port: number): Promise<number[]> {
  await sleep(200);
  const readings = [rssBytes(pid)];
  const client = new KeepAliveClient({ port, path: DECISION_PATH }, CONCURRENCY);
  try {
    let done = 0;
    for (const checkpoint of SCALE.memoryCheckpoints) {
      const { count } = await client.closedLoop(RBAC_BODY, CONCURRENCY, Number.MAX_SAFE_INTEGER, checkpoint - done);
      done += count;
      if (done < checkpoint) throw new Error(`only ${done} of ${checkpoint} decisions within the loop's time limit`);
      await sleep(200);
      readings.push(rssBytes(pid));
    }
  } finally {
    client.close();
  }
  return readings;
}

export async function memory(bundles: BenchBundles): Promise<FigureResult> {
  const layer = await synthesize(bundles.wasmFile);
  let extension: number[];
  try {
    const ext = await startExtension(layer);
    try {
      extension = await profile(ext.pid, ext.port);
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
  }
  const bareServer = await startBareServer();
  let bare: number[];
  try {
    bare = await profile(bareServer.pid, bareServer.port);
  } finally {
    await bareServer.stop();
  }
  const opaServer = await startOpaServer(bundles.regoFile);
  let opa: number[];
  try {
    opa = await profile(opaServer.pid, opaServer.port);
  } finally {
    await opaServer.stop();
  }

  const labels = ['after start', ...SCALE.memoryCheckpoints.map((n) => `after ${n / 1000}k decisions`)];
  const rows: Row[] = [];
  const last = labels.length - 1;
  labels.forEach((label, i) => {
    const r = ratio(extension[i], bare[i]);
    rows.push({
      figure: 'memory',
      metric: `extension RSS ${label}`,
      value: round(extension[i] / MB, 1),
      unit: 'MB',
      reference: { name: `bare Node server RSS ${label}`, value: round(bare[i] / MB, 1) },
      ratio: round(r, 2),
      ...(i === last ? { target: '≤ 1.15×', meetsTarget: r === null ? null : r <= 1.15 } : {}),
    });
  });
  labels.forEach((label, i) => {
    rows.push({
      figure: 'memory',
      metric: `extension RSS ${label}`,
      value: round(extension[i] / MB, 1),
      unit: 'MB',
      reference: { name: `opa run --server RSS ${label}`, value: round(opa[i] / MB, 1) },
      ratio: round(ratio(extension[i], opa[i]), 2),
    });
  });
  const [a, b] = SCALE.memoryCheckpoints;
  const growth = extension[2] - extension[1];
  rows.push({
    figure: 'memory',
    metric: `extension RSS growth ${a / 1000}k → ${b / 1000}k`,
    value: round(growth / MB, 2),
    unit: 'MB',
    reference: { name: `bare Node server growth ${a / 1000}k → ${b / 1000}k`, value: round((bare[2] - bare[1]) / MB, 2) },
    target: '≤ 1 MB',
    meetsTarget: growth <= 1 * MB,
  });
  for (const size of [SMALLEST_LAMBDA_MB, RECOMMENDED_LAMBDA_MB]) {
    rows.push({
      figure: 'memory',
      metric: `left to the function in a ${size} MB Lambda, extension RSS after ${b / 1000}k decisions taken`,
      value: round(size - extension[last] / MB, 1),
      unit: 'MB',
      reference: { name: `bare Node server RSS after ${b / 1000}k decisions (about what a Node.js handler needs)`, value: round(bare[last] / MB, 1) },
      ratio: round(ratio(size - extension[last] / MB, bare[last] / MB), 2),
      note: `${size === RECOMMENDED_LAMBDA_MB ? 'the smallest size the README recommends; ' : ''}Lambda counts the extension's memory against the function's`,
    });
  }
  return { rows, details: { concurrency: CONCURRENCY, checkpoints: SCALE.memoryCheckpoints, rssBytes: { extension, bare, opa } } };
}
