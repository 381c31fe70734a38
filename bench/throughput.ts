/** Throughput: decisions/s at concurrency 1, 4, 16 for a fixed time, extension vs the bare server. */
import { SCALE } from './lib/config';
import { BenchBundles, DECISION_PATH, RBAC_BODY, startExtension, synthesize } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { startBareServer } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
import { ratio } from './lib/stats';

async function rates(port: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const concurrency of SCALE.throughputConcurrency) {
    const client = new KeepAliveClient({ port, path: DECISION_PATH }, concurrency);
    try {
      await client.closedLoop(RBAC_BODY, concurrency, 500, SCALE.warmup);
      const { count, elapsedMs } = await client.closedLoop(RBAC_BODY, concurrency, SCALE.throughputSeconds * 1000);
      out.set(concurrency, count / (elapsedMs / 1000));
    } finally {
      client.close();
    }
  }
  return out;
}

export async function throughput(bundles: BenchBundles): Promise<FigureResult> {
  const layer = await synthesize(bundles.wasmFile);
  let extension: Map<number, number>;
  try {
    const ext = await startExtension(layer);
    try {
      extension = await rates(ext.port);
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
  }
  const bareServer = await startBareServer();
  let bare: Map<number, number>;
  try {
    bare = await rates(bareServer.port);
  } finally {
    await bareServer.stop();
  }
  const rows: Row[] = SCALE.throughputConcurrency.map((c) => {
    const r = ratio(extension.get(c), bare.get(c));
    return {
      figure: 'throughput',
      metric: `extension, concurrency ${c}`,
      value: round(extension.get(c), 0),
      unit: 'decisions/s',
      reference: { name: `bare Node server, concurrency ${c}`, value: round(bare.get(c), 0) },
      ratio: round(r, 2),
      // A function asks one decision at a time: concurrency 1 is the figure with a target.
      ...(c === 1 ? { target: '≥ 0.9×', meetsTarget: r === null ? null : r >= 0.9 } : {}),
    };
  });
  return {
    rows,
    details: { seconds: SCALE.throughputSeconds, extension: Object.fromEntries(extension), bare: Object.fromEntries(bare) },
  };
}
