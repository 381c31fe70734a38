/**
 * Exactness, end to end: the built layer under the emulator (launched as Lambda launches it, with
 * the launcher's flags, on the runtime's node and on the Node.js layer's) and `opa run --server` (the pinned OPA, the Rego build of the same
 * sources) get the same requests, and must give the same answers. These rows need what only the
 * built layer has: the stack the launcher gives the Wasm engine for input nested up to OPA's
 * limit, bodies larger than the in-process differential test's, and the packages the bundle
 * compiles on first use (`yaml`). The in-process rows are in test/runtime/server/opa-differential.test.ts.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { RawRequest, send } from '../support/http-client';
import { freePort, mergeLayers, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';
import { buildWasmBundle } from '../support/opa';
import { buildRegoBundle, OpaServer, startOpaServer } from '../support/opa-server';

const EXACT_REGO = `package app.exact

echo := input

is_big if input.n == 9007199254740993

from_yaml := yaml.unmarshal(input.y)
`;
const SOURCES = { modules: { 'exact.rego': EXACT_REGO }, revision: 'rev-exact', manifest: { roots: ['app'] } };

const nested = (levels: number): string => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const echo = (body: string): RawRequest => ({ method: 'POST', path: '/v1/data/app/exact/echo', body, headers: { 'Content-Type': 'application/json' } });

interface Row {
  readonly name: string;
  readonly request: RawRequest;
  /** Compare the text (numbers as written); otherwise the parsed bodies (OPA indents its errors). */
  readonly text: boolean;
  readonly status: number;
}

const rows: Row[] = [
  { name: 'an integer beyond 2^53', request: echo('{"input": {"n": 9007199254740993}}'), text: true, status: 200 },
  { name: 'an integer beyond 2^53 compared in the policy', request: { ...echo('{"input": {"n": 9007199254740993}}'), path: '/v1/data/app/exact/is_big' }, text: true, status: 200 },
  { name: 'a 30-digit integer', request: echo('{"input": 123456789012345678901234567890}'), text: true, status: 200 },
  { name: '1e400', request: echo('{"input": 1e400}'), text: true, status: 200 },
  { name: 'a long decimal', request: echo('{"input": 0.1000000000000000000000000001}'), text: true, status: 200 },
  { name: 'a lone surrogate', request: echo('{"input": "\\ud800"}'), text: false, status: 200 },
  { name: 'input nested 5,000 levels', request: echo(`{"input": ${nested(5000)}}`), text: true, status: 200 },
  { name: 'a body nested 10,000 levels, OPA\'s limit', request: echo(`{"input": ${nested(9999)}}`), text: true, status: 200 },
  { name: 'a body nested 10,001 levels', request: echo(`{"input": {"a": ${nested(9999)}}}`), text: false, status: 400 },
  { name: 'the yaml builtin', request: { ...echo('{"input": {"y": "b: [x, 2]"}}'), path: '/v1/data/app/exact/from_yaml' }, text: true, status: 200 },
];

let bundleFile: { file: string; dispose(): void };
let opa: OpaServer;
let dir: string;

beforeAll(async () => {
  const [wasm, rego] = await Promise.all([buildWasmBundle({ ...SOURCES, entrypoints: ['app/exact/echo', 'app/exact/is_big', 'app/exact/from_yaml'] }), buildRegoBundle(SOURCES)]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-exactness-'));
  fs.writeFileSync(path.join(dir, 'exact.tar.gz'), rego);
  opa = await startOpaServer({ cwd: dir, paths: ['exact.tar.gz'] });
  bundleFile = writeTempBundle(wasm, 'exact.tar.gz');
}, 120_000);

afterAll(async () => {
  await opa?.stop();
  bundleFile?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// The launcher's flags on both binaries it may start: the runtime's own node (a Node.js function)
// and the Node.js layer's (a Python function's two layers, unpacked side by side as at /opt).
describe.each([
  ['the runtime\'s node', lambda.Runtime.NODEJS_20_X],
  ['the Node.js layer\'s binary', lambda.Runtime.PYTHON_3_13],
])('GIVEN the built layer, the extension on %s, and OPA with the same policy', (_, runtime) => {
  let layer: SynthesizedLayer;
  let opt: { dir: string; dispose(): void };
  let emulator: LambdaEmulator;
  let extensionUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port }, runtime);
    opt = mergeLayers(layer.layerDirs);
    emulator = new LambdaEmulator({ layerDir: opt.dir, handler: { file: path.join(__dirname, 'fixtures', 'decision-handler.js') }, environment: layer.environment });
    expect(await emulator.start()).toMatchObject({ ok: true });
    extensionUrl = `http://127.0.0.1:${port}`;
  }, 120_000);

  afterAll(async () => {
    await emulator?.close();
    opt?.dispose();
    layer?.dispose();
  });

  test.each(rows)('WHEN $name THEN the extension answers what OPA answers', async ({ request, text, status }) => {
    const theirs = await send(opa.url, request, new http.Agent());
    const ours = await send(extensionUrl, request, new http.Agent());

    expect(theirs.status).toBe(status);
    expect(ours.status).toBe(status);
    if (text) expect(ours.text.trimEnd()).toBe(theirs.text.trimEnd());
    else expect(ours.body).toEqual(theirs.body);
  });
});
