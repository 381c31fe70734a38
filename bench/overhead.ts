/**
 * Per-invoke overhead, when no trigger is due (threshold 30 s, the first INVOKE left out) and when
 * every INVOKE runs a trigger round with nothing to do (threshold 0 s, embedded bundle only):
 * - INVOKE delivered to the extension → its next /event/next, from the emulator's lifecycle record
 *   (the definition: the extension's own work per INVOKE, its Extensions API round trip
 *   included);
 * - the emulator's `extensionOverheadMs`: runtime answered → extension back in /event/next, i.e.
 *   what the extension adds to the Invoke phase (0 when it is back before the handler answers).
 */
import { Duration } from 'aws-cdk-lib';
import { SCALE } from './lib/config';
import { BenchBundles, startExtension, synthesize } from './lib/fixtures';
import { FigureResult, Row, round } from './lib/results';
import { LatencySummary, summarize } from './lib/stats';
import type { LifecycleEvent } from '../emulator/src';

interface Overheads {
  readonly invokeToNext: LatencySummary;
  readonly afterResponse: LatencySummary;
}

/** For each INVOKE delivered to `extension` with a request id in `ids`: ms until its next /event/next. */
function invokeToNext(events: readonly LifecycleEvent[], extension: string, ids: ReadonlySet<string>): number[] {
  const out: number[] = [];
  let deliveredAt: number | undefined;
  for (const e of events) {
    if (e.source !== extension) continue;
    if (e.type === 'event-delivered' && e.eventType === 'INVOKE' && e.requestId !== undefined && ids.has(e.requestId)) {deliveredAt = e.t;} else if (e.type === 'next' && deliveredAt !== undefined) {
      out.push(e.t - deliveredAt);
      deliveredAt = undefined;
    }
  }
  return out;
}

async function overheads(bundles: BenchBundles, thresholdSeconds: number): Promise<Overheads> {
  const layer = await synthesize(bundles.wasmFile, { minimumTriggerThreshold: Duration.seconds(thresholdSeconds) });
  try {
    const ext = await startExtension(layer);
    try {
      const after: number[] = [];
      const ids = new Set<string>();
      // The first INVOKE always triggers a round: left out of both figures.
      for (let i = 0; i <= SCALE.invokes; i++) {
        const res = await ext.emulator.invoke({ i });
        if (res.error) throw new Error(`invoke failed: ${res.error.errorType}: ${res.error.errorMessage}`);
        if (i === 0) continue;
        after.push(res.extensionOverheadMs);
        ids.add(res.requestId);
      }
      const names = [...new Set(ext.emulator.events.filter((e) => e.type === 'register').map((e) => e.source))];
      if (names.length !== 1) throw new Error(`expected one registered extension, got ${names.join(', ')}`);
      const samples = invokeToNext(ext.emulator.events, names[0], ids);
      if (samples.length !== ids.size) throw new Error(`found ${samples.length} INVOKE → next pairs for ${ids.size} INVOKEs`);
      return { invokeToNext: summarize(samples), afterResponse: summarize(after) };
    } finally {
      await ext.stop();
    }
  } finally {
    layer.dispose();
  }
}

export async function overhead(bundles: BenchBundles): Promise<FigureResult> {
  const idle = await overheads(bundles, 30);
  const emptyRound = await overheads(bundles, 0);
  const rows: Row[] = [];
  for (const [label, s] of [['no trigger due', idle], ['empty trigger round (threshold 0 s)', emptyRound]] as const) {
    rows.push({ figure: 'per-invoke overhead', metric: `${label}: INVOKE delivered → next /event/next p50`, value: round(s.invokeToNext.p50), unit: 'ms' });
    rows.push({ figure: 'per-invoke overhead', metric: `${label}: INVOKE delivered → next /event/next p99`, value: round(s.invokeToNext.p99), unit: 'ms' });
    rows.push({
      figure: 'per-invoke overhead',
      metric: `${label}: added after the handler's answer p50`,
      value: round(s.afterResponse.p50),
      unit: 'ms',
      note: 'emulator extensionOverheadMs; 0 = back in /event/next before the handler answered',
    });
  }
  return { rows, details: { invokes: SCALE.invokes, noTrigger: idle, emptyRound } };
}
