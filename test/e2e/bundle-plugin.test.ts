/**
 * The bundle plugin in the built layer, under the local Lambda emulator: bundles come from a real
 * bundle server on loopback (and an S3-style endpoint that verifies SigV4), every INVOKE triggers
 * a download (minimum_trigger_threshold 0), and the function asks decisions while and after a
 * download fails. Kept to a handful of emulator runs: each fault row costs three invokes.
 */
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { LambdaEmulator } from '../../emulator/src';
import { buildAuthz, repack } from '../support/authz-bundles';
import { freePort, synthesizeLayer, SynthesizedLayer } from '../support/layer';
import { buildWasmBundle } from '../support/opa';
import { RecordingServer } from '../support/recording-server';
import { sigv4Problem } from '../support/sigv4-verifier';

const HMAC_SECRET = 'e2e-signing-secret';
const SIZE_LIMIT = 200_000;
const CREDENTIALS = { accessKeyId: 'AKIAE2EBUNDLES', secretAccessKey: 'e2e/secret+key', sessionToken: 'e2e-session-token' };
/**
 * Faulty responses are held this long, so the function's decision is asked while the download is
 * under way. The service's response_header_timeout_seconds (0.6 s) and the trigger_timeout (1 s)
 * leave 350 ms either side, so that a loaded machine does not turn one fault into another.
 */
const HOLD_MS = 250;

/** A handler that asks `authz/revision` over HTTP and says when it got the answer. */
const HANDLER_SOURCE = `
exports.handler = async (event) => {
  const res = await fetch(process.env.OPA_URL + '/v1/data/' + (event.path || 'authz/revision'), {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: event.input || {} }),
  });
  return { status: res.status, body: await res.json(), at: Date.now() };
};
`;

interface Answer {
  readonly status: number;
  readonly body: { result?: unknown };
  readonly at: number;
}

let layer: SynthesizedLayer;
let tmp: string;
let handlerFile: string;
let server: RecordingServer;
let emulator: LambdaEmulator | undefined;
let bundles: Record<string, Buffer>;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-bundles-'));
  handlerFile = path.join(tmp, 'handler.js');
  fs.writeFileSync(handlerFile, HANDLER_SOURCE);
  layer = synthesizeLayer({ port: await freePort() });
  const [r1, r2, other, badSignature, overlapping, big] = await Promise.all([
    buildAuthz('r1'),
    buildAuthz('r2'),
    buildWasmBundle({ modules: { 'other.rego': 'package other\n\nhello := "world"\n' }, manifest: { roots: ['other'] }, entrypoints: ['other/hello'], revision: 'o1' }),
    buildAuthz('bad-sig', { signing: { key: 'not-the-configured-secret', algorithm: 'HS256' } }),
    buildAuthz('overlap', { roots: ['authz', 'other/inner'] }),
    buildAuthz('big', { files: { 'authz/data.json': JSON.stringify({ blob: 'x'.repeat(SIZE_LIMIT) }) } }),
  ]);
  bundles = { r1, r2, other, badSignature, overlapping, big };
});

afterAll(() => {
  layer?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  server = new RecordingServer();
  await server.listen();
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await server?.close();
});

/** A copy of the layer whose config.json adds `extra` (services, bundles, keys...) to what the construct wrote. */
function layerWithConfig(extra: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'layer-'));
  fs.cpSync(layer.layerDir, dir, { recursive: true });
  const file = path.join(dir, 'opa-extension', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  const plugins = { ...config.plugins, lambda_extension: { ...config.plugins?.lambda_extension, minimum_trigger_threshold: 0, trigger_timeout: 1 } };
  fs.writeFileSync(file, JSON.stringify({ ...config, ...extra, plugins }));
  return dir;
}

function emulate(layerDir: string): LambdaEmulator {
  emulator = new LambdaEmulator({ layerDir, handler: { file: handlerFile }, environment: layer.environment, credentials: CREDENTIALS, region: 'eu-west-1' });
  return emulator;
}

async function ask(emu: LambdaEmulator, event: Record<string, unknown> = {}): Promise<Answer> {
  const res = await emu.invoke(event);
  expect(res.error).toBeUndefined();
  return res.result as Answer;
}

function serve(res: ServerResponse, archive: Buffer, etag: string): void {
  res.writeHead(200, { 'etag': etag, 'content-length': String(archive.length) }).end(archive);
}

function held(fn: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => { setTimeout(() => fn(req, res), HOLD_MS); };
}

function errorsLogged(emu: LambdaEmulator): string[] {
  return emu.jsonLines('opa').filter((l) => l.msg === 'bundle not activated').map((l) => String((l.error as { message?: string } | undefined)?.message));
}

describe('GIVEN a layer whose bundle comes from a bundle server', () => {
  test('WHEN each fault of the matrix hits a download THEN the active revision answers during and after it, the error is reported, and the next good bundle activates', async () => {
    // GIVEN: r1 served at init, and another bundle whose roots a faulty bundle may overlap.
    let authz: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => serve(res, bundles.r1, '"r1"');
    let faultRespondedAt = Number.POSITIVE_INFINITY;
    server.handler = (req, res) => {
      if (req.url === '/bundles/other') {
        if (req.headers['if-none-match'] === '"o1"') res.writeHead(304).end();
        else serve(res, bundles.other, '"o1"');
      } else {
        authz(req, res);
      }
    };
    const emu = emulate(layerWithConfig({
      services: { acme: { url: server.url, response_header_timeout_seconds: 0.6, credentials: { bearer: { token: 'e2e-token' } } } },
      keys: { default: { algorithm: 'HS256', key: HMAC_SECRET } },
      bundles: { authz: { service: 'acme', size_limit_bytes: SIZE_LIMIT }, other: { service: 'acme' } },
    }));
    expect(await emu.start()).toMatchObject({ ok: true });
    expect((await ask(emu)).body).toEqual({ result: 'r1' });
    expect(server.requests.every((r) => r.headers.authorization === 'Bearer e2e-token')).toBe(true);

    type Fault = (req: IncomingMessage, res: ServerResponse) => void;
    const r2 = bundles.r2;
    const rows: Array<[string, Fault, RegExp]> = [
      ['500', (_req, res) => { res.writeHead(500).end(); }, /^server replied with Internal Server Error$/],
      ['404', (_req, res) => { res.writeHead(404).end(); }, /^server replied with Not Found$/],
      ['no response headers in time', () => { /* never answers */ }, /^service acme: no response headers within 0.6s$/],
      ['a body slower than the trigger timeout', (_req, res) => { res.writeHead(200, { 'content-length': String(r2.length) }); res.write(r2.subarray(0, 100)); }, /download cancelled/],
      ['connection reset mid-body', (req, res) => { res.writeHead(200, { 'content-length': String(r2.length) }); res.write(r2.subarray(0, 1000), () => req.socket.destroy()); }, /cut short/],
      ['truncated gzip', (_req, res) => serve(res, r2.subarray(0, Math.floor(r2.length / 2)), '"t"'), /not a valid gzip archive/],
      ['not a tar', (_req, res) => serve(res, gzipSync('not a tar'), '"n"'), /not a tar archive/],
      ['missing policy.wasm', async (_req, res) => serve(res, await repack(r2, { 'policy.wasm': undefined }), '"m"'), /holds no Wasm module/],
      ['entrypoint missing', async (_req, res) => serve(res, await repack(r2, { '.manifest': JSON.stringify({ revision: 'x', roots: ['authz'], wasm: [{ entrypoint: 'authz/gone', module: '/policy.wasm' }] }) }), '"e"'), /authz\/gone/],
      ['bad signature', (_req, res) => serve(res, bundles.badSignature, '"s"'), /bundle signature verification failed/],
      ['overlapping roots', (_req, res) => serve(res, bundles.overlapping, '"o"'), /overlapping roots/],
      ['over the size limit', (_req, res) => serve(res, bundles.big, '"b"'), /exceeds configured size_limit_bytes \(200000 bytes\)/],
    ];

    let revision = 'r1';
    for (const [name, fault, message] of rows) {
      // WHEN: the fault, held so the function's decision comes while the download is under way.
      faultRespondedAt = Number.POSITIVE_INFINITY;
      authz = held((req, res) => { faultRespondedAt = Date.now(); fault(req, res); });
      const during = await ask(emu);
      // THEN
      expect([name, during.status, during.body]).toEqual([name, 200, { result: revision }]);
      expect(during.at).toBeLessThan(faultRespondedAt);
      expect([name, errorsLogged(emu).at(-1)]).toEqual([name, expect.stringMatching(message)]);

      // WHEN: the next invocation, after the failed round (the fault persists, unheld).
      authz = fault;
      const after = await ask(emu);
      // THEN
      expect([name, after.status, after.body]).toEqual([name, 200, { result: revision }]);

      // WHEN: the server is fixed, with the other revision; the invocation after the round that downloads it asks.
      const next = revision === 'r1' ? 'r2' : 'r1';
      authz = (_req, res) => serve(res, bundles[next], `"${next}-${name}"`);
      await ask(emu);
      const fixed = await ask(emu);
      // THEN
      expect([name, fixed.body]).toEqual([name, { result: next }]);
      revision = next;
    }
    expect((await ask(emu, { path: 'other/hello' })).body).toEqual({ result: 'world' });
  });

  test('WHEN a cold start finds the service down and a persisted bundle THEN the persisted revision serves; without one, init fails closed', async () => {
    // GIVEN: a first environment downloads r2 and persists it.
    const persistence = path.join(tmp, 'persisted');
    const config = (url: string, extra: Record<string, unknown> = {}) => layerWithConfig({
      services: { acme: { url } },
      bundles: { authz: { service: 'acme', persist: true, ...extra } },
      persistence_directory: persistence,
    });
    server.handler = (_req, res) => serve(res, bundles.r2, '"r2"');
    const first = emulate(config(server.url));
    expect(await first.start()).toMatchObject({ ok: true });
    expect((await ask(first)).body).toEqual({ result: 'r2' });
    await first.shutdown();
    await first.close();
    const downUrl = server.url;
    await server.close();

    // WHEN: a cold start with the service down.
    const cold = emulate(config(downUrl));
    const init = await cold.start();
    // THEN
    expect(init).toMatchObject({ ok: true });
    expect((await ask(cold)).body).toEqual({ result: 'r2' });
    expect(errorsLogged(cold).at(-1)).toMatch(/ECONNREFUSED/);
    await cold.close();

    // WHEN: the same without a persisted copy.
    fs.rmSync(persistence, { recursive: true, force: true });
    const empty = emulate(config(downUrl));
    const failed = await empty.start();
    // THEN
    expect(failed).toMatchObject({ ok: false, errorType: 'Extension.BundleActivationFailed' });
    expect((failed as { errorMessage: string }).errorMessage).toMatch(/bundle authz: not activated during init: authz \(service acme: request to \/bundles\/authz failed: connect ECONNREFUSED/);
    await empty.close();

    // WHEN: the bundle may start not ready.
    const lenient = emulate(config(downUrl, { on_init_failure: 'start_not_ready' }));
    // THEN: init succeeds and a decision is undefined, not an error.
    expect(await lenient.start()).toMatchObject({ ok: true });
    expect(await ask(lenient)).toMatchObject({ status: 200, body: {} });
    server = new RecordingServer(); // afterEach stops one
    await server.listen();
  });

  test('WHEN the bundle is in an S3 bucket THEN it is downloaded with the function\'s credentials, signed with SigV4', async () => {
    // GIVEN
    server.handler = (req, res, body) => {
      const problem = sigv4Problem(req, body, { ...CREDENTIALS, region: 'eu-west-1', service: 's3' });
      if (problem) res.writeHead(403).end(problem);
      else serve(res, bundles.r1, '"r1"');
    };
    const emu = emulate(layerWithConfig({
      services: { s3: { url: `${server.url}/policy-bucket`, credentials: { s3_signing: { environment_credentials: {} } } } },
      bundles: { authz: { service: 's3', resource: 'bundles/authz.tar.gz' } },
    }));
    // WHEN
    const init = await emu.start();
    // THEN
    expect(init).toMatchObject({ ok: true });
    expect((await ask(emu)).body).toEqual({ result: 'r1' });
    expect(server.requests[0]).toMatchObject({ url: '/policy-bucket/bundles/authz.tar.gz', headers: expect.objectContaining({ 'x-amz-security-token': CREDENTIALS.sessionToken }) });
  });
});
