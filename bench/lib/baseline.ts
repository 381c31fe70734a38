/**
 * The closing note of RESULTS.md: each figure with a target next to its value in the baseline run
 * (`bench/baseline.json`, the run before the work of issue 13, kept as it was written), matched
 * by figure, measure and reference. Ratios compare across runs; absolute values only within one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Row } from './results';

const BASELINE = path.join(__dirname, '..', 'baseline.json');

interface Baseline {
  readonly machine: { readonly date: string; readonly cpu: string; readonly cores: number; readonly loadAverage?: number };
  readonly rows: readonly Row[];
}

const key = (r: Row): string => `${r.figure}|${r.metric}|${r.reference?.name ?? ''}`;

/** Markdown lines of the before/after table; empty when there is no baseline. */
export function beforeAfter(rows: readonly Row[], fmt: (v: number | null | undefined) => string): string[] {
  if (!fs.existsSync(BASELINE)) return [];
  const baseline = JSON.parse(fs.readFileSync(BASELINE, 'utf8')) as Baseline;
  const before = new Map(baseline.rows.map((r) => [key(r), r]));
  const cell = (r: Row | undefined): string => (r?.value == null ? '—' : `${fmt(r.value)} ${r.unit}${r.ratio == null ? '' : ` (${fmt(r.ratio)}×)`}`);
  const lines = rows.filter((r) => r.target).map((r) => {
    const b = before.get(key(r));
    return `| ${r.figure} | ${r.metric} | ${r.reference?.name ?? '—'} | ${cell(b)} | ${cell(r)} | ${r.target} ${r.meetsTarget ? '✓' : '✗'} |`;
  });
  return [
    '## Before and after',
    '',
    `Before: \`bench/baseline.json\`, the run of ${baseline.machine.date} on ${baseline.machine.cpu}, ${baseline.machine.cores} cores`
      + `${baseline.machine.loadAverage === undefined ? '' : ` (load average ${baseline.machine.loadAverage})`}, before the start-up, memory and exactness work. `
      + 'Ratios are to references measured in the same run, so they compare across runs; absolute values do not when the load differs.',
    '',
    '| figure | measure | reference | before (ratio) | after (ratio) | target |',
    '|---|---|---|---|---|---|',
    ...lines,
    '',
  ];
}
