/** One line of the results table. */
export interface Row {
  /** The figure: `latency`, `throughput`, ... */
  readonly figure: string;
  /** What was measured, e.g. `extension p50`. */
  readonly metric: string;
  /** null when it could not be measured (see `note`). */
  readonly value: number | null;
  readonly unit: string;
  readonly reference?: { readonly name: string; readonly value: number | null };
  /** value / reference.value */
  readonly ratio?: number | null;
  /** The project's target, reported, never asserted. */
  readonly target?: string;
  /** For a target: whether the figure meets it (null when not measured). */
  readonly meetsTarget?: boolean | null;
  readonly note?: string;
}

/** A figure's measurement: its rows plus anything worth keeping in results.json. */
export interface FigureResult {
  readonly rows: Row[];
  readonly details?: Record<string, unknown>;
}

export const MB = 1024 * 1024;
export const KB = 1024;

export function round(value: number | null | undefined, digits = 3): number | null {
  if (value == null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
