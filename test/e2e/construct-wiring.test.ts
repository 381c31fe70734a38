/**
 * What the construct writes is what the extension reads: a layer synthesized with a bundle from a
 * bundle server (bearer token from the function's environment) and decision logs to a service,
 * run under the emulator with both services on loopback. No config is written by hand here.
 */
import * as http from 'node:http';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { freePort, synthesizeLayer, SynthesizedLayer } from '../support/layer';
import { buildWasmBundle } from '../support/opa';
import { RecordingServer } from '../support/recording-server';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };
const TOKEN = 'e2e-bundle-token';

let bundleServer: http.Server;
let bundleRequests: Array<{ url?: string; authorization?: string }>;
let logs: RecordingServer;
let layer: SynthesizedLayer;
let emulator: LambdaEmulator | undefined;

beforeAll(async () => {
  const archive = await buildWasmBundle({
    modules: { 'gate.rego': 'package gate\n\ndefault open := false\n\nopen if input.key == data.key\n' },
    data: { key: 'sesame' },
    entrypoints: ['gate/open'],
    revision: 'served-1',
  });
  bundleRequests = [];
  bundleServer = http.createServer((req, res) => {
    bundleRequests.push({ url: req.url, authorization: req.headers.authorization });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    if (req.url !== '/v1/bundles/gate.tar.gz') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/gzip', 'etag': '"served-1"' }).end(archive);
  });
  await new Promise<void>((resolve) => bundleServer.listen(0, '127.0.0.1', resolve));
  logs = new RecordingServer();
  const logUrl = await logs.listen();
  const { port } = bundleServer.address() as { port: number };
  layer = synthesizeLayer({
    bundle: OpaBundle.fromUrl(`http://127.0.0.1:${port}`, 'v1/bundles/gate.tar.gz', { bearerToken: '${BUNDLE_TOKEN}' }),
    decisionLogs: { url: logUrl },
    port: await freePort(),
  });
});

afterAll(async () => {
  await emulator?.close();
  layer?.dispose();
  await logs?.close();
  await new Promise((resolve) => bundleServer?.close(resolve));
});

test('GIVEN a layer with OpaBundle.fromUrl and decisionLogs WHEN the function asks a decision and the environment shuts down THEN the bundle came with the token and the decision was logged', async () => {
  emulator = new LambdaEmulator({ layerDir: layer.layerDir, handler: HANDLER, environment: { ...layer.environment, BUNDLE_TOKEN: TOKEN } });

  expect(await emulator.start()).toMatchObject({ ok: true });
  const open = await emulator.invoke({ path: 'gate/open', input: { key: 'sesame' } });
  const shut = await emulator.invoke({ path: 'gate/open', input: { key: 'guess' } });
  const shutdown = await emulator.shutdown();

  expect(bundleRequests[0]).toEqual({ url: '/v1/bundles/gate.tar.gz', authorization: `Bearer ${TOKEN}` });
  expect((open.result as { body: unknown }).body).toMatchObject({ result: true });
  expect((shut.result as { body: unknown }).body).toMatchObject({ result: false });
  expect(shutdown.extensions[0]).toMatchObject({ exitCode: 0, killed: false });
  const events = logs.events();
  expect(events.map((e) => e.decision_id)).toEqual([
    (open.result as { body: { decision_id: string } }).body.decision_id,
    (shut.result as { body: { decision_id: string } }).body.decision_id,
  ]);
  expect(events[0]).toMatchObject({ path: 'gate/open', input: { key: 'sesame' }, result: true, bundles: { gate: { revision: 'served-1' } } });
});
