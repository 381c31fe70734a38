/**
 * The demo under AWS's own lifecycle code: the same example app as `npx projen demo`, run by AWS's
 * Runtime Interface Emulator (RIE) with the official Node.js runtime interface client
 * (`aws-lambda-ric`), the layer bind-mounted at /opt in a private mount namespace (root needed;
 * the machine's /opt is never written).
 *
 * Prints RIE's `INIT REPORT` line (the Init phase as rapid measures it: the extension's start and
 * registration, the runtime's start and the handler's init), each decision, and how the
 * environment ended on SIGTERM; exits 1 if any decision is not the expected one.
 */
import { CASES, prepareExample, step } from './demo-app';
import { initReportLine, NODE_RIC, RieProcess } from '../test/support/rie';

async function main(): Promise<number> {
  const fn = prepareExample();

  step('run it under AWS\'s Runtime Interface Emulator, with aws-lambda-ric');
  const rie = await RieProcess.start({
    layerDir: fn.layerDirs[0],
    command: ['node', NODE_RIC, fn.handler],
    taskRoot: fn.codeDir,
    environment: fn.environment,
    timeoutSeconds: fn.timeoutMs / 1000,
  });
  let failures = 0;
  try {
    step('invoke (RIE starts the extension and the runtime on the first one)');
    for (const c of CASES) {
      const t0 = performance.now();
      const res = await rie.invoke(c.event);
      const got = (res.json as { allowed?: boolean } | undefined)?.allowed;
      const ok = res.status === 200 && got === c.allowed;
      if (!ok) failures++;
      console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${c.event.user} ${c.event.action} ${c.event.resource} → `
        + `${res.status !== 200 ? `HTTP ${res.status} ${res.body}` : got ? 'allowed' : 'denied'}  (${(performance.now() - t0).toFixed(1)} ms)`);
    }
    console.log(`  ${initReportLine(rie.lines()) ?? 'no INIT REPORT line: the Init phase did not end'}`);

    step('SIGTERM (as `docker stop`): RIE runs the Shutdown phase');
    const exit = await rie.stop();
    const shutdown = rie.jsonLines().find((l) => l.msg === 'shutdown');
    console.log(`  the extension got SHUTDOWN (reason ${String(shutdown?.reason)}); RIE exited with code ${exit.exitCode} after ${exit.durationMs.toFixed(0)} ms`);
    if (exit.exitCode !== 0 || !shutdown) failures++;

    step('the extension\'s log (one JSON object per line, as CloudWatch receives it)');
    for (const line of rie.jsonLines()) console.log(`  ${JSON.stringify(line)}`);
  } finally {
    await rie.kill();
  }
  console.log(failures === 0 ? '\nevery decision was as expected' : `\n${failures} unexpected result(s)`);
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
