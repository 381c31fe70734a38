/**
 * Instructions per decision, counted by valgrind's cachegrind rather than timed: a count does not
 * move with load from elsewhere on the machine, so it shows changes of a few percent that the
 * timed figures cannot. Each server runs under cachegrind twice, taking `n1` and then `n2`
 * sequential decisions from the same keep-alive client; start-up and warm-up are in both runs, so
 * (I(n2) - I(n1)) / (n2 - n1) is what one decision costs once the code is warm. The whole process
 * is counted (V8's compiler and GC threads too).
 *
 * Three servers (bench/lib/decision-server.ts): the extension's decision path outside Lambda (the
 * runtime's PolicyServer and PolicyEngine); the bare Node server of the latency figures; and that
 * bare server evaluating the policy on each request's input with the same engine, which tells
 * the policy's evaluation from the rest of what the extension adds.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { QUICK } from './lib/config';
import { BenchBundles, DECISION_PATH, RBAC_BODY, SCRATCH } from './lib/fixtures';
import { KeepAliveClient } from './lib/http-client';
import { BARE_SERVER, cleanEnv, printedPort } from './lib/processes';
import { FigureResult, Row, round } from './lib/results';
import { ratio } from './lib/stats';

/** Decisions of the short and the long run: far enough into the run that the code is warm. */
const COUNTS: readonly [number, number] = QUICK ? [1_000, 2_000] : [8_000, 14_000];

const VALGRIND_ARGS = ['--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null',
  // V8 writes the machine code it compiles: valgrind must look for code written anywhere.
  '--smc-check=all-non-file'];

export function valgrindAvailable(): boolean {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The instructions the process `args` (under valgrind) executed, read from valgrind's log once it exits. */
async function counted(args: readonly string[], drive: (child: ChildProcess) => Promise<void>): Promise<number> {
  const log = path.join(SCRATCH, `cachegrind-${process.pid}-${Date.now()}.log`);
  const child = spawn('valgrind', [...VALGRIND_ARGS, `--log-file=${log}`, process.execPath, ...args],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await drive(child);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
  const text = fs.readFileSync(log, 'utf8');
  fs.rmSync(log, { force: true });
  const refs = /I\s+refs:\s+([\d,]+)/.exec(text);
  if (!refs) throw new Error(`cachegrind gave no count: ${text.slice(-500)}`);
  return Number(refs[1].replace(/,/g, ''));
}

/** Instructions of one decision over HTTP by the server `args`. */
async function perDecision(args: readonly string[]): Promise<number> {
  const run = (count: number): Promise<number> => counted(args, async (child) => {
    const client = new KeepAliveClient({ port: await printedPort(child, 'the server under valgrind', 120_000), path: DECISION_PATH });
    try {
      const samples = await client.sequential(RBAC_BODY, count, 600_000);
      if (samples.length !== count) throw new Error(`only ${samples.length} of ${count} decisions were answered in time`);
    } finally {
      client.close();
    }
  });
  const [n1, n2] = COUNTS;
  return ((await run(n2)) - (await run(n1))) / (n2 - n1);
}

export async function instructions(bundles: BenchBundles): Promise<FigureResult> {
  if (!valgrindAvailable()) {
    return { rows: [{ figure: 'instructions', metric: 'extension per decision', value: null, unit: 'instructions', note: 'valgrind is not installed (Debian/Ubuntu: apt-get install -y valgrind)' }] };
  }
  const script = path.join(SCRATCH, 'decision-server.js');
  buildSync({ entryPoints: [path.join(__dirname, 'lib', 'decision-server.ts')], bundle: true, platform: 'node', target: 'node20', minify: true, outfile: script, logLevel: 'warning' });
  const extension = await perDecision([script, bundles.wasmFile, 'extension']);
  const bare = await perDecision(['-e', BARE_SERVER]);
  const evaluating = await perDecision([script, bundles.wasmFile, 'evaluating', DECISION_PATH.replace('/v1/data/', '')]);
  const reference = { name: 'bare Node server, per decision', value: round(bare, 0) };
  const counts = `cachegrind, (I(${COUNTS[1]}) - I(${COUNTS[0]})) / ${COUNTS[1] - COUNTS[0]} sequential decisions`;
  const rows: Row[] = [
    {
      figure: 'instructions',
      metric: 'extension\'s decision path, per decision over HTTP',
      value: round(extension, 0),
      unit: 'instructions',
      reference,
      ratio: round(ratio(extension, bare), 2),
      note: `${counts}; the runtime's server and engine, outside the emulator`,
    },
    {
      figure: 'instructions',
      metric: 'bare Node server evaluating the policy on the input, per decision',
      value: round(evaluating, 0),
      unit: 'instructions',
      reference,
      ratio: round(ratio(evaluating, bare), 2),
      note: `the evaluation alone adds ${fmtCount(evaluating - bare)} instructions (OPA's Wasm and the engine's JavaScript around it)`,
    },
    {
      figure: 'instructions',
      metric: 'extension beyond the evaluation: reading the input, the answer, the server',
      value: round(extension - evaluating, 0),
      unit: 'instructions',
      reference,
      ratio: round(ratio(extension - evaluating, bare), 3),
      note: 'the extension\'s decision path less the evaluating bare server',
    },
  ];
  return { rows, details: { counts: COUNTS, perDecision: { extension, bare, evaluating } } };
}

function fmtCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
