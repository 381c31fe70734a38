/**
 * The built layer under AWS's own lifecycle code: the Runtime Interface Emulator (RIE) runs the
 * extension from `/opt/extensions` (the layer bind-mounted at `/opt` in a private mount namespace)
 * beside a handler run by an official runtime interface client, `aws-lambda-ric` (Node.js) or
 * `awslambdaric` (Python). A second oracle beside the tests under `emulator/` (test/e2e/).
 *
 * A Python 3.13 function also carries the Node.js layer (both unpacked at /opt, as Lambda does) and
 * gets no node on its PATH: the extension runs on the layer's binary, also on a machine whose own
 * libatomic is hidden (the binary needs it; the layer brings one).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OpaBundle } from '../../src';
import { NODE_RUNTIME } from '../../src/layer-contract';
import { buildRbacBundle } from '../e2e/fixtures/rbac-bundle';
import { freePort, mergeLayers, pathWithoutNode, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';
import { RecordingServer } from '../support/recording-server';
import { assertInstalled, NODE_RIC, PYTHON_RIC, RieProcess, sandboxArgs } from '../support/rie';

const FIXTURES = path.join(__dirname, 'fixtures');
const INVOCATIONS = 50;
/** RIE's Shutdown window after SIGTERM (`defaultSigtermResetTimeoutMs`). */
const SHUTDOWN_WINDOW_MS = 2000;

/** What RIE runs: the folder mounted at /opt, the function's environment, the machine's files hidden. */
interface Sandbox {
  readonly layerDir: string;
  readonly environment: Record<string, string>;
  readonly hiddenFiles?: readonly string[];
}

const PYTHON = (): string[] => [PYTHON_RIC, '-m', 'awslambdaric', 'decide.handler'];
const CLIENTS = [
  ['Node.js', 'aws-lambda-ric', NODE_RIC, 'npm ci', (): string[] => ['node', NODE_RIC, 'decide.handler'], (): Sandbox => layer],
  ['Python', 'awslambdaric', PYTHON_RIC, 'npx projen rie:install', PYTHON, (): Sandbox => layer],
  ['Python 3.13 (Node.js layer, no node on PATH)', 'awslambdaric', PYTHON_RIC, 'npx projen rie:install', PYTHON, (): Sandbox => python],
  ['Python 3.13 (Node.js layer, no node on PATH, the machine\'s libatomic hidden)', 'awslambdaric', PYTHON_RIC, 'npx projen rie:install', PYTHON,
    (): Sandbox => ({ ...python, hiddenFiles: systemLibatomic() })],
] as const;

/** The machine's own libatomic.so.1 files, as the dynamic loader's cache lists them. */
function systemLibatomic(): string[] {
  const cache = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  const files = [...cache.matchAll(/libatomic\.so\.1 \([^)]*\) => (\S+)/g)].map((m) => fs.realpathSync(m[1]));
  return [...new Set(files)];
}

/** Who may do what under the RBAC fixture: alice is admin, bob a viewer. */
const CASES = [
  { input: { user: 'alice', action: 'write' }, allowed: true },
  { input: { user: 'bob', action: 'read' }, allowed: true },
  { input: { user: 'bob', action: 'write' }, allowed: false },
  { input: { user: 'eve', action: 'read' }, allowed: false },
];

let logs: RecordingServer;
let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let rie: RieProcess | undefined;
const dirs: string[] = [];
/** The Python 3.13 function's layers, merged as at /opt, and a PATH without node. */
let pythonLayer: SynthesizedLayer;
let python: Sandbox;
let opt: { dir: string; dispose(): void };
let noNode: { path: string; dispose(): void };

beforeAll(async () => {
  logs = new RecordingServer();
  await logs.listen();
  bundleFile = writeTempBundle(await buildRbacBundle(['app/rbac/allow']), 'authz.tar.gz');
  const props = { bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort(), decisionLogs: { url: logs.url } };
  layer = synthesizeLayer(props);
  pythonLayer = synthesizeLayer(props, lambda.Runtime.PYTHON_3_13);
  opt = mergeLayers(pythonLayer.layerDirs);
  noNode = pathWithoutNode();
  python = { layerDir: opt.dir, environment: { ...pythonLayer.environment, PATH: noNode.path } };
}, 120_000);

afterAll(async () => {
  opt?.dispose();
  noNode?.dispose();
  pythonLayer?.dispose();
  layer?.dispose();
  bundleFile?.dispose();
  await logs?.close();
});

afterEach(async () => {
  await rie?.kill();
  rie = undefined;
  logs.requests.length = 0;
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(CLIENTS)('GIVEN the layer under RIE with a %s handler run by %s', (_, __, client, installer, command, sandbox) => {
  test(`WHEN the handler asks a decision at init and on each of ${INVOCATIONS} invokes, then RIE gets SIGTERM THEN every decision is right and the extension flushes its decision logs and exits within the deadline`, async () => {
    assertInstalled(client, installer);
    const { layerDir, environment, hiddenFiles } = sandbox();
    rie = await RieProcess.start({ layerDir, command: command(), taskRoot: FIXTURES, environment, hiddenFiles });

    const results = [];
    for (let i = 0; i < INVOCATIONS; i++) results.push(await rie.invoke({ input: CASES[i % CASES.length].input }));
    const logsBeforeStop = logs.events().length;
    const exit = await rie.stop();

    // The decision asked by the init code: RIE starts the runtime only after the extension registered.
    expect(results[0].json).toMatchObject({ atInit: { status: 200, body: { result: true } } });
    results.forEach((res, i) => {
      expect({ i, status: res.status, decision: (res.json as { decision?: unknown }).decision })
        .toEqual({ i, status: 200, decision: { status: 200, body: expect.objectContaining({ result: CASES[i % CASES.length].allowed }) } });
    });
    // RIE's INIT REPORT covers the extension's start and the handler's init decision.
    expect(rie.initDurationMs()).toBeGreaterThan(0);

    // SIGTERM: RIE resets the sandbox ("SandboxTerminated"), the extension gets SHUTDOWN, flushes, exits 0.
    expect(exit).toMatchObject({ exitCode: 0, signal: null });
    expect(exit.durationMs).toBeLessThan(SHUTDOWN_WINDOW_MS);
    const extensionLog = rie.jsonLines();
    expect(extensionLog.find((l) => l.msg === 'shutdown')).toMatchObject({ reason: 'SandboxTerminated' });
    expect(extensionLog.map((l) => l.msg)).toContain('plugins stopped');
    // The fast start registered with RIE's own Extensions API over its bare socket, before the
    // rest of the extension was loaded (a fallback would listen, then register).
    const msgs = extensionLog.map((l) => l.msg);
    expect(msgs.indexOf('extension registered')).toBeGreaterThanOrEqual(0);
    expect(msgs.indexOf('extension registered')).toBeLessThan(msgs.indexOf('server listening'));
    expect(rie.lines().filter((l) => /did not exit after deadline|Killing it/.test(l))).toEqual([]);

    // Every decision reached the log service: the first INVOKE's round sent some, SHUTDOWN the rest.
    const events = logs.events();
    expect(events.length).toBeGreaterThan(logsBeforeStop);
    expect(events).toHaveLength(INVOCATIONS + 1);
    expect(events.filter((e) => (e.input as { at?: string }).at === 'init')).toHaveLength(1);
    expect(new Set(events.map((e) => e.decision_id)).size).toBe(INVOCATIONS + 1);
  });
});

describe('GIVEN a layer whose embedded bundle is corrupt, under RIE', () => {
  test('WHEN the function is invoked THEN the extension reports Extension.BundleActivationFailed on /init/error and exits non-zero, and the invoke fails with 502', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-rie-corrupt-'));
    dirs.push(dir);
    fs.cpSync(layer.layerDir, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'opa-extension', 'bundles', 'authz.tar'), 'this is not a tar archive');
    rie = await RieProcess.start({ layerDir: dir, command: ['node', NODE_RIC, 'decide.handler'], taskRoot: FIXTURES, environment: layer.environment });

    const res = await rie.invoke({ input: CASES[0].input });

    // RIE answers the failed init with 502 and an empty body: it does not put the init error in the
    // invoke's answer (its lazy re-init then fails too, on the already-known extension name).
    expect(res.status).toBe(502);
    // The extension named its failure...
    expect(rie.jsonLines().find((l) => l.msg === 'extension init failed')).toMatchObject({
      level: 'error',
      errorType: 'Extension.BundleActivationFailed',
      error: { message: expect.stringMatching(/bundle authz/) },
    });
    // ...rapid accepted its /init/error (it stores the sandbox's first fatal error only then) and saw it exit 1...
    const lines = rie.lines();
    expect(lines.some((l) => l.includes('First fatal error stored in appctx: Extension.InitError'))).toBe(true);
    expect(lines.some((l) => /Process extension-opa-\d+ exited: exit status 1/.test(l))).toBe(true);
    // ...and ended the Init phase with an error, so the handler's answer never came.
    expect(lines.some((l) => l.includes('INIT RTDONE(status: error)'))).toBe(true);
  });
});

describe('GIVEN the Python function\'s layers and no node on PATH, under RIE\'s namespaces', () => {
  const binary = (): string => `/opt/${NODE_RUNTIME.DIR}/${NODE_RUNTIME.BINARY}`;
  const run = (hiddenFiles: readonly string[], command: string[]): ReturnType<typeof spawnSync> =>
    spawnSync('unshare', sandboxArgs(opt.dir, hiddenFiles, command), { encoding: 'utf8', env: { PATH: noNode.path }, timeout: 20_000 });

  test('WHEN the machine\'s libatomic is hidden THEN the layer\'s node cannot start without the launcher\'s LD_LIBRARY_PATH: the libatomic row above ran on the layer\'s copy', () => {
    const hidden = systemLibatomic();
    expect(hidden.length).toBeGreaterThan(0);

    const bare = run(hidden, [binary(), '-e', '0']);
    const withLayerLib = run(hidden, ['env', `LD_LIBRARY_PATH=/opt/${NODE_RUNTIME.DIR}/${NODE_RUNTIME.LIB_DIR}`, binary(), '-p', 'process.version']);

    expect({ status: bare.status, stderr: String(bare.stderr) }).toEqual({ status: 127, stderr: expect.stringContaining('libatomic.so.1') });
    expect({ status: withLayerLib.status, stdout: String(withLayerLib.stdout).trim() }).toEqual({ status: 0, stdout: `v${NODE_RUNTIME.VERSION}` });
  });

  test('WHEN the launcher runs with no node on PATH and no Node.js layer THEN it cannot start node: the Python rows above did not use PATH\'s node', () => {
    const launcher = run([], [`${layer.layerDir}/extensions/opa`]);

    expect({ status: launcher.status, stderr: String(launcher.stderr) }).toEqual({ status: 127, stderr: expect.stringMatching(/node: not found/) });
  });
});
