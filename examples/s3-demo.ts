/**
 * The second demo: the S3 example app (s3-app.ts) run locally, with loopback stand-ins for S3 and
 * the log service.
 *
 * 1. Compiles the example policy with the pinned OPA and serves it from a stand-in for S3 that
 *    refuses any request whose SigV4 signature does not verify (test/support/sigv4-verifier.ts).
 * 2. Synthesizes the app and points the function's bundle and decision-log URLs at the stand-ins.
 * 3. Runs the function under the local Lambda emulator with fake credentials, prints each decision,
 *    then, after SHUTDOWN, the decision-log events the extension uploaded.
 * Exits 1 if a decision is wrong, a signature is refused, or a decision is missing from the logs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { BUNDLE_KEY, BucketPolicyStack } from './s3-app';
import { LambdaEmulator } from '../emulator/src';
import { readSynthesizedFunction } from '../emulator/src/cloud-assembly';
import { RecordingServer } from '../test/support/recording-server';
import { sigv4Problem } from '../test/support/sigv4-verifier';

const ROOT = path.resolve(__dirname, '..');
const OPA = path.join(ROOT, '.tools', 'bin', 'opa');
const OUT_DIR = path.join(__dirname, 'cdk.out.s3');
const REGION = 'eu-west-1';
/** The ETag the S3 stand-in gives the bundle. */
const BUNDLE_ETAG = '"demo-1"';
const CREDENTIALS = { accessKeyId: 'AKIADEMOEXAMPLE', secretAccessKey: 'demo/secret+key', sessionToken: 'demo-session-token' };

const CASES = [
  { event: { user: 'alice', action: 'approve', resource: 'invoice' }, allowed: true },
  { event: { user: 'bob', action: 'approve', resource: 'invoice' }, allowed: false },
];

async function main(): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-s3-demo-'));
  const s3 = new RecordingServer();
  const logs = new RecordingServer();
  let failures = 0;
  try {
    step('compile the policy and serve it from a loopback S3 that verifies SigV4');
    const bundleFile = path.join(work, 'bundle.tar.gz');
    execFileSync(OPA, ['build', '-t', 'wasm', '-e', 'app/authz/allow', '-o', bundleFile,
      'examples/policy/authz.rego', 'examples/policy/data.json'], { cwd: ROOT, stdio: 'inherit' });
    const bundle = fs.readFileSync(bundleFile);
    s3.handler = (req, res, body) => {
      const problem = sigv4Problem(req, body, { ...CREDENTIALS, region: REGION, service: 's3' });
      if (problem) {
        failures++;
        console.log(`  [s3] refused ${req.method} ${req.url}: ${problem}`);
        res.writeHead(403).end(problem);
      } else if (req.url !== `/policy-bucket/${BUNDLE_KEY}`) {
        console.log(`  [s3] ${req.method} ${req.url}: signature verified, no such key`);
        res.writeHead(404).end();
      } else if (req.headers['if-none-match'] === BUNDLE_ETAG) {
        // As S3 does: the extension polls with the ETag of its active bundle, an unchanged one costs a 304.
        console.log(`  [s3] ${req.method} ${req.url}: signature verified, not modified (304)`);
        res.writeHead(304, { etag: BUNDLE_ETAG }).end();
      } else {
        console.log(`  [s3] ${req.method} ${req.url}: signature verified, ${bundle.length} bytes`);
        res.writeHead(200, { 'content-type': 'application/gzip', 'etag': BUNDLE_ETAG }).end(bundle);
      }
    };
    await s3.listen();
    await logs.listen();

    step('synthesize the S3 example app');
    fs.rmSync(OUT_DIR, { recursive: true, force: true });
    const app = new App({ outdir: OUT_DIR });
    const stack = new BucketPolicyStack(app, 'OpaS3Example', { env: { region: REGION } });
    app.synth();
    const fn = readSynthesizedFunction(OUT_DIR, stack.artifactId);
    if (!fn.codeDir) throw new Error(`${fn.logicalId} has inline code; the demo runs an asset folder`);
    // In AWS these are the bucket's regional endpoint and the log service; here, the stand-ins.
    const environment = {
      ...fn.environment,
      OPA_AUTHZ_BUCKET_URL: `${s3.url}/policy-bucket`,
      OPA_DECISION_LOGS_URL: logs.url,
    };
    console.log(`  environment: ${JSON.stringify(environment)}`);

    step('run it under the local Lambda emulator');
    const emulator = new LambdaEmulator({
      layerDir: fn.layerDirs[0],
      handler: { file: path.join(fn.codeDir, 'index.js'), export: 'handler' },
      environment,
      functionName: 'OpaS3Example-Handler',
      region: REGION,
      credentials: CREDENTIALS,
      timeout: fn.timeoutMs,
    });
    try {
      const init = await emulator.start();
      if (!init.ok) {
        console.error(`  init failed: ${init.errorType}: ${init.errorMessage}`);
        return 1;
      }
      for (const c of CASES) {
        const res = await emulator.invoke(c.event);
        const got = (res.result as { allowed?: boolean } | undefined)?.allowed;
        const ok = !res.error && got === c.allowed;
        if (!ok) failures++;
        console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${c.event.user} ${c.event.action} ${c.event.resource} → ${res.error ? `error ${res.error.errorType}: ${res.error.errorMessage}` : got ? 'allowed' : 'denied'}`);
      }
      // SHUTDOWN flushes the decision logs before the deadline.
      await emulator.shutdown();
    } finally {
      await emulator.close();
    }

    step('decision-log events uploaded to the log service');
    const events = logs.requests.filter((r) => r.url === '/logs').flatMap((r) => (Array.isArray(r.json) ? r.json : []) as Array<Record<string, unknown>>);
    for (const e of events) {
      console.log(`  ${JSON.stringify({ decision_id: e.decision_id, path: e.path, input: e.input, result: e.result, bundles: e.bundles, labels: e.labels })}`);
    }
    for (const c of CASES) {
      if (!events.some((e) => JSON.stringify(e.input) === JSON.stringify(c.event) && e.result === c.allowed)) {
        failures++;
        console.log(`  FAIL no uploaded event for ${JSON.stringify(c.event)} with result ${c.allowed}`);
      }
    }
  } finally {
    await s3.close();
    await logs.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(failures === 0 ? '\nevery decision was as expected, and logged' : `\n${failures} unexpected result(s)`);
  return failures === 0 ? 0 : 1;
}

function step(title: string): void {
  console.log(`\n== ${title}`);
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
