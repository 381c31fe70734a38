/** Order statistics over latency samples (ms). */

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly mean: number;
}

/** The nearest-rank percentile `p` (0..100) of `sorted` (ascending); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(samples: readonly number[]): number {
  return percentile([...samples].sort((a, b) => a - b), 50);
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

/** `value / reference`, or null when either is not a positive finite number. */
export function ratio(value: number | null | undefined, reference: number | null | undefined): number | null {
  if (value == null || reference == null || !Number.isFinite(value) || !Number.isFinite(reference) || reference <= 0) return null;
  return value / reference;
}

/** One closed-loop turn: decisions completed in its time. */
export interface LoopTurn {
  readonly count: number;
  readonly elapsedMs: number;
}

/** Decisions per second over closed-loop turns: all the decisions over all the turns' time. */
export function decisionsPerSecond(turns: readonly LoopTurn[]): number {
  return turns.reduce((a, t) => a + t.count, 0) / (turns.reduce((a, t) => a + t.elapsedMs, 0) / 1000);
}

/** The ratio of quantile `key` in each pair of turns: each block of samples against the reference's of the same round. */
export function latencyPairs(blocks: readonly number[][], reference: readonly number[][], key: keyof LatencySummary): Array<number | null> {
  return blocks.map((block, i) => ratio(summarize(block)[key], summarize(reference[i])[key]));
}

/** The ratio of decisions per second in each pair of closed-loop turns. */
export function ratePairs(turns: readonly LoopTurn[], reference: readonly LoopTurn[]): Array<number | null> {
  return turns.map((turn, i) => ratio(decisionsPerSecond([turn]), decisionsPerSecond([reference[i]])));
}

/**
 * How a ratio varies from one pair of turns to the next (from {@link latencyPairs} or
 * {@link ratePairs}), as `min–max×, median×`; empty when no pair has a ratio. The figure itself is
 * over all the turns.
 */
export function pairSpread(ratios: ReadonlyArray<number | null>): string {
  const known = ratios.filter((r): r is number => r !== null);
  if (known.length === 0) return '';
  const fmt = (r: number): string => r.toFixed(2);
  return `per pair of turns (${known.length}): ${fmt(Math.min(...known))}–${fmt(Math.max(...known))}×, median ${fmt(median(known))}×`;
}
