/**
 * The demo: what `cdk deploy` would ship, run locally.
 *
 * 1. Compiles the example policy (policy/authz.rego + data.json) to a Wasm bundle with the pinned OPA.
 * 2. Synthesizes the example CDK app (app.ts) into examples/cdk.out.
 * 3. Takes the function's code, its layer and its environment out of the cloud assembly.
 * 4. Runs them under the local Lambda emulator: the extension is spawned from the layer's
 *    `extensions/opa`, the handler asks it for decisions over HTTP.
 * 5. Prints each decision, the extension's lifecycle and the time from process start to ready;
 *    exits 1 if any decision is not the expected one.
 *
 * Steps 1-3 are shared with the demo under AWS's Runtime Interface Emulator (demo-rie.ts).
 */
import * as path from 'node:path';
import { CASES, prepareExample, splitHandler, step } from './demo-app';
import { LambdaEmulator } from '../emulator/src';

async function main(): Promise<number> {
  const fn = prepareExample();

  step('run it under the local Lambda emulator');
  const [file, exportName] = splitHandler(fn.handler);
  const emulator = new LambdaEmulator({
    layerDir: fn.layerDirs[0],
    handler: { file: path.join(fn.codeDir, file), export: exportName },
    environment: fn.environment,
    functionName: 'OpaExample-Handler',
    timeout: fn.timeoutMs,
  });
  let failures = 0;
  try {
    const init = await emulator.start();
    if (!init.ok) {
      console.error(`  init failed: ${init.errorType}: ${init.errorMessage}`);
      printOutput(emulator);
      return 1;
    }
    for (const [name, d] of Object.entries(init.durations)) {
      console.log(`  extension ${name}: registered after ${d.register.toFixed(0)} ms, ready (first /event/next) after ${d.ready.toFixed(0)} ms from process start`);
    }

    step('invoke');
    for (const c of CASES) {
      const res = await emulator.invoke(c.event);
      const got = (res.result as { allowed?: boolean } | undefined)?.allowed;
      const ok = !res.error && got === c.allowed;
      if (!ok) failures++;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${c.event.user} ${c.event.action} ${c.event.resource} → ${res.error ? `error ${res.error.errorType}: ${res.error.errorMessage}` : got ? 'allowed' : 'denied'}`
        + `  (${res.durationMs.toFixed(1)} ms, extension after-invoke ${res.extensionOverheadMs.toFixed(1)} ms)`);
    }

    step('shutdown');
    const shutdown = await emulator.shutdown();
    for (const x of shutdown.extensions) {
      console.log(`  extension ${x.name}: exit code ${x.exitCode}${x.killed ? ' (killed at the deadline)' : ''} after ${x.durationMs.toFixed(0)} ms`);
      if (x.exitCode !== 0 || x.killed) failures++;
    }

    step('the lifecycle, as the emulator saw it (ms since the emulator started)');
    for (const e of emulator.events) {
      if (e.source === 'emulator') continue;
      const detail = [e.eventType, e.errorType, e.exitCode !== undefined ? `exit ${e.exitCode}` : undefined].filter(Boolean).join(' ');
      console.log(`  ${e.t.toFixed(1).padStart(8)}  ${e.source.padEnd(8)} ${e.type}${detail ? ` (${detail})` : ''}`);
    }

    step('the extension\'s log (one JSON object per line, as CloudWatch receives it)');
    printOutput(emulator);
  } finally {
    await emulator.close();
  }
  console.log(failures === 0 ? '\nevery decision was as expected' : `\n${failures} unexpected result(s)`);
  return failures === 0 ? 0 : 1;
}

function printOutput(emulator: LambdaEmulator): void {
  for (const line of emulator.output) {
    if (line.source !== 'runtime') console.log(`  [${line.source}] ${line.line}`);
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
