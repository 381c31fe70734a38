/**
 * Throughput: decisions/s at concurrency 1, 4, 16 for a fixed time, extension vs the bare server,
 * the two taking turns (lib/turns.ts).
 */
import { SCALE } from './lib/config';
import { BenchBundles, DECISION_PATH, RBAC_BODY, startExtension, synthesize } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { startBareServer } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
import { decisionsPerSecond, pairSpread, ratePairs, ratio } from './lib/stats';
import { ROUNDS, takeTurns } from './lib/turns';

/** The servers a throughput figure compares. */
const SERVERS = ['extension', 'bare'] as const;
type Server = typeof SERVERS[number];

/**
 * Decisions/s of each server at `concurrency`: the two take turns (lib/turns.ts), each turn a
 * closed loop of throughputSeconds / ROUNDS; completed decisions over the time of all its turns.
 * `spread`: how the ratio varies from one pair of turns to the next.
 */
async function rates(ports: Record<Server, number>, concurrency: number): Promise<Record<Server, number> & { spread: string }> {
  const connect = (server: Server): KeepAliveClient => new KeepAliveClient({ port: ports[server], path: DECISION_PATH }, concurrency);
  const clients: Record<Server, KeepAliveClient> = { extension: connect('extension'), bare: connect('bare') };
  try {
    for (const server of SERVERS) await clients[server].closedLoop(RBAC_BODY, concurrency, 500, SCALE.warmup);
    const turnMs = (SCALE.throughputSeconds * 1000) / ROUNDS;
    const turns = await takeTurns(SERVERS, ROUNDS, (server) => clients[server].closedLoop(RBAC_BODY, concurrency, turnMs));
    return {
      extension: decisionsPerSecond(turns.extension),
      bare: decisionsPerSecond(turns.bare),
      spread: pairSpread(ratePairs(turns.extension, turns.bare)),
    };
  } finally {
    for (const client of Object.values(clients)) client.close();
  }
}

export async function throughput(bundles: BenchBundles): Promise<FigureResult> {
  const layer = await synthesize(bundles.wasmFile);
  const extension = new Map<number, number>();
  const bare = new Map<number, number>();
  const spread = new Map<number, string>();
  try {
    const ext = await startExtension(layer);
    try {
      const bareServer = await startBareServer();
      try {
        for (const concurrency of SCALE.throughputConcurrency) {
          const r = await rates({ extension: ext.port, bare: bareServer.port }, concurrency);
          extension.set(concurrency, r.extension);
          bare.set(concurrency, r.bare);
          spread.set(concurrency, r.spread);
        }
      } finally {
        await bareServer.stop();
      }
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
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
      note: spread.get(c),
    };
  });
  return {
    rows,
    details: { seconds: SCALE.throughputSeconds, extension: Object.fromEntries(extension), bare: Object.fromEntries(bare) },
  };
}
