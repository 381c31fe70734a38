/**
 * OPA itself as the oracle: runs `opa run --server` (the pinned CLI) on the same Rego with console
 * decision logs, asks it the same decisions, and returns the decision log events it printed.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { freePort } from '../../../support/layer';
import { OPA_BIN, withTempDir } from '../../../support/opa';

export interface OracleRequest {
  readonly path: string;
  readonly input: unknown;
}

export async function opaDecisionLogs(modules: Record<string, string>, requests: readonly OracleRequest[]): Promise<Array<Record<string, unknown>>> {
  return withTempDir(async (dir) => {
    for (const [file, rego] of Object.entries(modules)) fs.writeFileSync(path.join(dir, file), rego);
    const port = await freePort();
    const child = spawn(OPA_BIN, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--set', 'decision_logs.console=true', '--log-level', 'error', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => { output += d.toString('utf8'); });
    child.stderr!.on('data', (d: Buffer) => { output += d.toString('utf8'); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitHealthy(`http://127.0.0.1:${port}/health`, child);
      for (const r of requests) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/data/${r.path}`, {
          method: 'POST', body: JSON.stringify({ input: r.input }), signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
      }
    } finally {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'Decision Log');
  });
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null) throw new Error(`opa exited early with ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('opa did not become healthy within 30 s');
}

