/** Counts and durations of the bench; `BENCH_QUICK=1` scales them down for a smoke run. */
export const QUICK = process.env.BENCH_QUICK === '1';

export const SCALE = {
  /** Sequential decisions per latency target. */
  latencyRequests: QUICK ? 2_000 : 20_000,
  /** Warm-up requests before any timed loop. */
  warmup: QUICK ? 200 : 1_000,
  /** Seconds per throughput concurrency level. */
  throughputSeconds: QUICK ? 1 : 10,
  throughputConcurrency: [1, 4, 16] as const,
  /** Process starts per cold-start figure. */
  coldStarts: QUICK ? 5 : 20,
  /** INVOKEs per overhead figure. */
  invokes: QUICK ? 30 : 200,
  /** Decisions before the memory readings (the 10k and 100k). */
  memoryCheckpoints: QUICK ? [1_000, 10_000] : [10_000, 100_000],
  /** Sequential decisions per scaling step. */
  scalingRequests: QUICK ? 100 : 1_000,
  /** Sequential decisions per decision-log mode. */
  decisionLogRequests: QUICK ? 1_000 : 5_000,
};

/** Hard limit of any single request loop, whatever its count. */
export const LOOP_TIME_LIMIT_MS = QUICK ? 20_000 : 180_000;
