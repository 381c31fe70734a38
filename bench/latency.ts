/**
 * Decision latency: sequential POSTs from a keep-alive client to the extension under the emulator,
 * to a bare Node server, to OPA's server (same policy and data), taking turns in blocks
 * (lib/turns.ts), and in-process opa-wasm evaluate.
 */
import { SCALE } from './lib/config';
import { BenchBundles, DECISION_PATH, RBAC_BODY, RBAC_INPUT, startExtension, synthesize } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { mainThreadCpuNs, startBareServer, startOpaServer } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
import { latencyPairs, LatencySummary, pairSpread, ratio, summarize } from './lib/stats';
import { ROUNDS, takeTurns } from './lib/turns';
import { readBundle } from '../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../runtime/src/engine/policy-engine';

/** The targets, as ratios to the bare Node server. */
export const LATENCY_TARGETS: Partial<Record<keyof LatencySummary, number>> = { p50: 1.2, p99: 1.3 };

/** Sequential latency of `port` for `count` decisions after a warm-up. */
export async function measureSequential(port: number, body: string | Buffer, count: number, path = DECISION_PATH): Promise<LatencySummary> {
  const client = new KeepAliveClient({ port, path });
  try {
    await client.sequential(body, Math.min(SCALE.warmup, count));
    return summarize(await client.sequential(body, count));
  } finally {
    client.close();
  }
}

/** The servers a latency figure compares. */
type Server = 'extension' | 'bare' | 'opa';

export async function latency(bundles: BenchBundles): Promise<FigureResult> {
  const n = SCALE.latencyRequests;
  const layer = await synthesize(bundles.wasmFile);
  const running: Array<{ stop(): Promise<void> }> = [];
  const clients: Partial<Record<Server, KeepAliveClient>> = {};
  let turns: Record<Server, number[][]>;
  /** Main-thread CPU of each Node server over its turns, in ns (OPA's Go server runs on many threads: not counted). */
  const cpuNs: Record<Server, number> = { extension: 0, bare: 0, opa: 0 };
  try {
    const ext = await startExtension(layer);
    running.push(ext);
    const bareServer = await startBareServer();
    running.push(bareServer);
    const opaServer = await startOpaServer(bundles.regoFile);
    running.push(opaServer);
    const ports: Record<Server, number> = { extension: ext.port, bare: bareServer.port, opa: opaServer.port };
    const pids: Partial<Record<Server, number>> = { extension: ext.pid, bare: bareServer.pid };
    for (const server of Object.keys(ports) as Server[]) {
      clients[server] = new KeepAliveClient({ port: ports[server], path: DECISION_PATH });
      await clients[server].sequential(RBAC_BODY, SCALE.warmup);
    }
    // The three servers take turns in blocks of n / ROUNDS decisions (lib/turns.ts).
    turns = await takeTurns(['extension', 'bare', 'opa'] as const, ROUNDS, async (server) => {
      const pid = pids[server];
      const before = pid === undefined ? 0 : mainThreadCpuNs(pid);
      const samples = await clients[server]!.sequential(RBAC_BODY, Math.ceil(n / ROUNDS));
      if (pid !== undefined) cpuNs[server] += mainThreadCpuNs(pid) - before;
      return samples;
    });
  } finally {
    for (const client of Object.values(clients)) client.close();
    for (const server of running.reverse()) await server.stop();
    layer.dispose();
  }
  const extension = summarize(turns.extension.flat());
  const bare = summarize(turns.bare.flat());
  const opa = summarize(turns.opa.flat());

  const engine = new PolicyEngine();
  engine.activate(await readBundle('rbac', bundles.wasm));
  const check = engine.evaluate('app/rbac/allow', RBAC_INPUT);
  if (check.result !== true) throw new Error(`in-process evaluate answered ${JSON.stringify(check)}, expected true`);
  const samples: number[] = [];
  for (let i = 0; i < SCALE.warmup; i++) engine.evaluate('app/rbac/allow', RBAC_INPUT);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    engine.evaluate('app/rbac/allow', RBAC_INPUT);
    samples.push(performance.now() - t0);
  }
  const inProcess = summarize(samples);

  const rows: Row[] = [];
  const quantiles: Array<[keyof LatencySummary, string]> = [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']];
  for (const [key, label] of quantiles) {
    const r = ratio(extension[key], bare[key]);
    rows.push({
      figure: 'latency',
      metric: `extension ${label}`,
      value: round(extension[key]),
      unit: 'ms',
      reference: { name: `bare Node server ${label}`, value: round(bare[key]) },
      ratio: round(r, 2),
      ...(LATENCY_TARGETS[key] === undefined ? {} : { target: `≤ ${LATENCY_TARGETS[key]}×`, meetsTarget: r === null ? null : r <= LATENCY_TARGETS[key]! }),
      note: pairSpread(latencyPairs(turns.extension, turns.bare, key)),
    });
  }
  // CPU per decision is what the latency ratios come from, and it moves far less with load from
  // elsewhere than the latencies do.
  const cpuPerDecisionUs = (server: Server) => cpuNs[server] / 1000 / turns[server].flat().length;
  rows.push({
    figure: 'latency',
    metric: 'extension CPU per decision (main thread)',
    value: round(cpuPerDecisionUs('extension'), 1),
    unit: 'µs',
    reference: { name: 'bare Node server CPU per decision (main thread)', value: round(cpuPerDecisionUs('bare'), 1) },
    ratio: round(ratio(cpuPerDecisionUs('extension'), cpuPerDecisionUs('bare')), 2),
    note: 'from /proc/<pid>/task/<pid>/schedstat over the same turns',
  });
  for (const [key, label] of quantiles) {
    rows.push({
      figure: 'latency',
      metric: `extension ${label}`,
      value: round(extension[key]),
      unit: 'ms',
      reference: { name: `opa run --server ${label}`, value: round(opa[key]) },
      ratio: round(ratio(extension[key], opa[key]), 2),
    });
  }
  for (const [key, label] of quantiles) {
    rows.push({
      figure: 'latency',
      metric: `in-process opa-wasm evaluate ${label}`,
      value: round(inProcess[key], 4),
      unit: 'ms',
      note: 'PolicyEngine.evaluate from runtime/src/engine, no HTTP',
    });
  }
  return { rows, details: { requests: n, extension, bare, opa, inProcess, cpuPerDecisionUs: { extension: cpuPerDecisionUs('extension'), bare: cpuPerDecisionUs('bare') } } };
}
