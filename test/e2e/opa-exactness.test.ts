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
import { childOf } from '../../runtime/src/json-text';
import { OpaBundle, OpaExtensionLayerProps } from '../../src';
import { RawRequest, send } from '../support/http-client';
import { lambdaNodes } from '../support/lambda-nodes';
import { freePort, mergeLayers, synthesizeLayer } from '../support/layer';
import { buildWasmBundle } from '../support/opa';
import { buildRegoBundle, OpaServer, startOpaServer } from '../support/opa-server';
import { within } from '../support/within';

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

/** The built layer under the emulator and `opa run --server`, started side by side on the same sources. */
interface SideBySide {
  readonly extensionUrl: string;
  readonly opa: OpaServer;
  readonly emulator: LambdaEmulator;
  stop(): Promise<void>;
}

interface SideBySideOptions {
  readonly opaArgs?: string[];
  readonly layer?: Partial<OpaExtensionLayerProps>;
  /** The function's runtime: a Node.js one runs the extension on its own node, others on the Node.js layer's. */
  readonly runtime?: lambda.Runtime;
  /** The PATH of the emulator's processes, where the launcher finds a Node.js runtime's node. @default this process's */
  readonly path?: string;
}

async function startSideBySide(entrypoints: string[], options: SideBySideOptions = {}): Promise<SideBySide> {
  const [wasm, rego] = await Promise.all([buildWasmBundle({ ...SOURCES, entrypoints }), buildRegoBundle(SOURCES)]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-exactness-'));
  fs.writeFileSync(path.join(dir, 'exact.tar.gz'), rego);
  fs.writeFileSync(path.join(dir, 'exact.wasm.tar.gz'), wasm);
  const opa = await startOpaServer({ cwd: dir, paths: ['exact.tar.gz'], args: options.opaArgs });
  const port = await freePort();
  const layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(path.join(dir, 'exact.wasm.tar.gz'), { name: 'exact' }), port, ...options.layer }, options.runtime);
  // The function's layers unpacked side by side, as Lambda unpacks them at /opt.
  const opt = mergeLayers(layer.layerDirs);
  const environment = options.path === undefined ? layer.environment : { ...layer.environment, PATH: options.path };
  const emulator = new LambdaEmulator({ layerDir: opt.dir, handler: { file: path.join(__dirname, 'fixtures', 'decision-handler.js') }, environment });
  const stop = async () => {
    await emulator.close();
    await opa.stop();
    opt.dispose();
    layer.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const init = await emulator.start();
  if (!init.ok) {
    await stop();
    throw new Error(`the layer did not start: ${init.errorType}: ${init.errorMessage}`);
  }
  return { extensionUrl: `http://127.0.0.1:${port}`, opa, emulator, stop };
}

// The launcher's flags on every binary it may start: the runtime's own node (a Node.js function,
// each major Lambda runs) and the Node.js layer's (a Python function's two layers, unpacked side by
// side as at /opt).
describe.each([
  ...lambdaNodes().map((node): [string, lambda.Runtime, string | undefined] => [node.name, node.runtime, node.path]),
  ['the Node.js layer\'s binary', lambda.Runtime.PYTHON_3_13, undefined],
])('GIVEN the built layer, the extension on %s, and OPA with the same policy', (_, runtime, nodePath) => {
  let pair: SideBySide;

  beforeAll(async () => {
    pair = await startSideBySide(['app/exact/echo', 'app/exact/is_big', 'app/exact/from_yaml'], { runtime, path: nodePath });
  }, 120_000);

  afterAll(async () => {
    await pair?.stop();
  });

  test.each(rows)('WHEN $name THEN the extension answers what OPA answers', async ({ request, text, status }) => {
    const theirs = await send(pair.opa.url, request, new http.Agent());
    const ours = await send(pair.extensionUrl, request, new http.Agent());

    expect(theirs.status).toBe(status);
    expect(ours.status).toBe(status);
    if (text) expect(ours.text.trimEnd()).toBe(theirs.text.trimEnd());
    else expect(ours.body).toEqual(theirs.body);
  });
});

/** Inputs whose numbers JavaScript would write back differently: OPA logs each as written. */
const LOGGED_INPUTS = [
  '{"n": 9007199254740993}',
  '123456789012345678901234567890',
  '1e400',
  '0.1000000000000000000000000001',
  '[1.0, -0, 1E2, 2.50, 7]',
];

/** The console decision-log line that carries `decisionId`, once the process's output has it (stdout may trail the answer). */
async function loggedLine(lines: () => readonly string[], decisionId: string): Promise<Buffer> {
  const find = () => lines().find((l) => l.startsWith('{') && l.includes(`"decision_id":"${decisionId}"`));
  return within((async () => {
    let line = find();
    for (; line === undefined; line = find()) await new Promise((r) => setTimeout(r, 20));
    return Buffer.from(line, 'utf8');
  })(), 5_000, `the decision-log line of ${decisionId}`);
}

/** The text of `key` in a JSON line, as written. */
function memberText(line: Buffer, key: string): string | undefined {
  const span = childOf(line, key);
  return span && line.toString('utf8', span.start, span.end);
}

describe('GIVEN the built layer and OPA with the same policy, both logging decisions to the console', () => {
  let logs: SideBySide;

  beforeAll(async () => {
    logs = await startSideBySide(['app/exact/echo'], { opaArgs: ['--set', 'decision_logs.console=true'], layer: { decisionLogs: { console: true } } });
  }, 120_000);

  afterAll(async () => {
    await logs?.stop();
  });

  test.each(LOGGED_INPUTS)('WHEN the input is %s THEN the extension logs the input and the result with the numbers OPA logs', async (input) => {
    const request = echo(`{"input": ${input}}`);
    const theirs = await send(logs.opa.url, request, new http.Agent());
    const ours = await send(logs.extensionUrl, request, new http.Agent());
    const theirId = (theirs.body as { decision_id: string }).decision_id;
    const ourId = (ours.body as { decision_id: string }).decision_id;

    const theirLine = await loggedLine(() => logs.opa.output().split('\n'), theirId);
    const ourLine = await loggedLine(() => logs.emulator.output.filter((l) => l.source === 'opa').map((l) => l.line), ourId);
    expect(memberText(theirLine, 'input')).toBeDefined();
    expect(memberText(ourLine, 'input')).toBe(memberText(theirLine, 'input'));
    expect(memberText(ourLine, 'result')).toBe(memberText(theirLine, 'result'));
  });
});
