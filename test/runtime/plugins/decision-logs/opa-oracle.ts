/**
 * OPA itself as the oracle: runs `opa run --server` (the pinned CLI) on the same Rego with console
 * decision logs, asks it the same decisions, and returns the decision log events it printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { withTempDir } from '../../../support/opa';
import { startOpaServer } from '../../../support/opa-server';

export interface OracleRequest {
  readonly path: string;
  readonly input: unknown;
}

export async function opaDecisionLogs(modules: Record<string, string>, requests: readonly OracleRequest[]): Promise<Array<Record<string, unknown>>> {
  return withTempDir(async (dir) => {
    for (const [file, rego] of Object.entries(modules)) fs.writeFileSync(path.join(dir, file), rego);
    const opa = await startOpaServer({ paths: [dir], args: ['--set', 'decision_logs.console=true'] });
    try {
      for (const r of requests) {
        const res = await fetch(`${opa.url}/v1/data/${r.path}`, {
          method: 'POST', body: JSON.stringify({ input: r.input }), signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
      }
    } finally {
      await opa.stop();
    }
    return opa.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'Decision Log');
  });
}
