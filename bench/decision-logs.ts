/**
 * Decision logs: sequential decision p50 with console logging (one JSON line per decision on
 * stdout) and with a service (uploads to a loopback sink), against logging off. Uploads happen in
 * trigger rounds, so one INVOKE after the loop makes the service mode ship what it buffered.
 */
import * as http from 'node:http';
import { OpaExtensionLayerProps } from '../src';
import { measureSequential } from './latency';
import { SCALE } from './lib/config';
import { BenchBundles, RBAC_BODY, startExtension, synthesize } from './lib/fixtures';
import { FigureResult, Row, round } from './lib/results';
import { LatencySummary } from './lib/stats';

/** A loopback decision-log service: accepts every POST and counts them. */
async function startSink(): Promise<{ url: string; posts: () => number; bytes: () => number; close: () => Promise<void> }> {
  let posts = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (d: Buffer) => { bytes += d.length; });
    req.on('end', () => {
      posts++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    posts: () => posts,
    bytes: () => bytes,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function run(bundles: BenchBundles, props: Partial<OpaExtensionLayerProps>): Promise<{ latency: LatencySummary; outputLines: number }> {
  const layer = await synthesize(bundles.wasmFile, props);
  try {
    const ext = await startExtension(layer);
    try {
      const latency = await measureSequential(ext.port, RBAC_BODY, SCALE.decisionLogRequests);
      const res = await ext.emulator.invoke({ flush: true });
      if (res.error) throw new Error(`invoke failed: ${res.error.errorType}: ${res.error.errorMessage}`);
      return { latency, outputLines: ext.emulator.output.filter((l) => l.source !== 'runtime').length };
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
  }
}

export async function decisionLogs(bundles: BenchBundles): Promise<FigureResult> {
  const off = await run(bundles, {});
  const consoleMode = await run(bundles, { decisionLogs: { console: true } });
  const sink = await startSink();
  let service: Awaited<ReturnType<typeof run>>;
  let uploads: { posts: number; bytes: number };
  try {
    service = await run(bundles, { decisionLogs: { url: sink.url } });
    uploads = { posts: sink.posts(), bytes: sink.bytes() };
  } finally {
    await sink.close();
  }
  const ref = { name: 'p50, logging off', value: round(off.latency.p50) };
  const rows: Row[] = [
    { figure: 'decision logs', metric: 'p50, console logging', value: round(consoleMode.latency.p50), unit: 'ms', reference: ref, ratio: round(consoleMode.latency.p50 / off.latency.p50, 2) },
    {
      figure: 'decision logs',
      metric: 'p50, service logging (loopback sink)',
      value: round(service.latency.p50),
      unit: 'ms',
      reference: ref,
      ratio: round(service.latency.p50 / off.latency.p50, 2),
      note: `${uploads.posts} upload(s), ${uploads.bytes} bytes gzip received`,
    },
  ];
  return { rows, details: { requests: SCALE.decisionLogRequests, off, console: consoleMode, service, uploads } };
}
