/**
 * What every figure runs: the RBAC test policy compiled by the pinned OPA, a layer synthesized by
 * the construct (what `cdk deploy` would upload) and the extension running under the emulator.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { firstDecision } from './http-client';
import { findExtensionPid } from './processes';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle, OpaExtensionLayerProps } from '../../src';
import { freePort, mergeLayers, synthesizeLayer } from '../../test/support/layer';
import { OPA_BIN, buildWasmBundle, readPolicy } from '../../test/support/opa';

export const RBAC_REGO = readPolicy('rbac.rego');
export const RBAC_DATA = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'support', 'policies', 'rbac-data.json'), 'utf8')) as object;
export const ENTRYPOINTS = ['app/rbac/allow', 'app/rbac/reasons'];
/** The decision every latency figure asks. */
export const DECISION_PATH = '/v1/data/app/rbac/allow';
export const RBAC_INPUT = { user: 'alice', action: 'read', type: 'document' };
export const RBAC_BODY = JSON.stringify({ input: RBAC_INPUT });

/** A scratch directory for the whole run, removed by {@link disposeScratch}. */
export const SCRATCH = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-bench-'));

export function disposeScratch(): void {
  fs.rmSync(SCRATCH, { recursive: true, force: true });
}

export interface BenchBundles {
  /** `opa build -t wasm`: what the extension runs (and in-process opa-wasm). */
  readonly wasmFile: string;
  readonly wasm: Buffer;
  /**
   * `opa build` (rego target) of the same sources: the pinned OPA is built without a Wasm engine
   * ("engine not found" on a wasm bundle), so OPA's server gets the same policy and data as Rego.
   */
  readonly regoFile: string;
}

let counter = 0;

/** Builds the RBAC policy with `data` (default: the test fixture) both ways. */
export async function buildBundles(data: object = RBAC_DATA): Promise<BenchBundles> {
  const id = ++counter;
  const wasm = await buildWasmBundle({ modules: { 'rbac.rego': RBAC_REGO }, entrypoints: ENTRYPOINTS, data, revision: `bench-${id}` });
  const wasmFile = path.join(SCRATCH, `rbac-${id}.wasm.tar.gz`);
  fs.writeFileSync(wasmFile, wasm);
  const src = path.join(SCRATCH, `rbac-${id}-src`);
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'rbac.rego'), RBAC_REGO);
  fs.writeFileSync(path.join(src, 'data.json'), JSON.stringify(data));
  const regoFile = path.join(SCRATCH, `rbac-${id}.rego.tar.gz`);
  execFileSync(OPA_BIN, ['build', ...ENTRYPOINTS.flatMap((e) => ['-e', e]), '-o', regoFile, '.'], { cwd: src, stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  fs.rmSync(src, { recursive: true, force: true });
  return { wasmFile, wasm, regoFile };
}

/** A handler that does nothing: the figures time the extension, not the function. */
function noopHandler(): string {
  const file = path.join(SCRATCH, 'handler', 'index.js');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'exports.handler = async () => ({ ok: true });\n');
  }
  return file;
}

export interface LayerUnderTest {
  readonly layerDir: string;
  readonly port: number;
  readonly environment: Record<string, string>;
  dispose(): void;
}

/**
 * Synthesizes a layer with the bundle at `bundleFile` embedded, on its own port, for a function of
 * `runtime`; one without node also gets the Node.js layer, unpacked beside it as at /opt.
 */
export async function synthesize(bundleFile: string, props: Partial<OpaExtensionLayerProps> = {}, runtime?: lambda.Runtime): Promise<LayerUnderTest> {
  const port = await freePort();
  const layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile, { name: 'rbac' }), port, ...props }, runtime);
  if (layer.layerDirs.length === 1) return { layerDir: layer.layerDir, port, environment: layer.environment, dispose: () => layer.dispose() };
  const opt = mergeLayers(layer.layerDirs);
  return {
    layerDir: opt.dir,
    port,
    environment: layer.environment,
    dispose: () => {
      opt.dispose();
      layer.dispose();
    },
  };
}

export interface RunningExtension {
  readonly emulator: LambdaEmulator;
  readonly port: number;
  /** ms from the launcher's spawn to its /register. */
  readonly registerMs: number;
  /** ms from the launcher's spawn to the first /event/next. */
  readonly readyMs: number;
  /**
   * ms from the launcher's spawn to the first decision answered `true`, asked over and over from
   * the spawn on (with `probeDecision`), as a function's init code would ask it.
   */
  readonly firstDecisionMs?: number;
  /** The extension's Node process. */
  readonly pid: number;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** @default 10_000 */
  readonly initTimeout?: number;
  /** Ask {@link DECISION_PATH} from the spawn on until it answers `true`. @default false */
  readonly probeDecision?: boolean;
}

/** Starts the layer's extension under the emulator and waits for the end of init. */
export async function startExtension(layer: LayerUnderTest, options: StartOptions = {}): Promise<RunningExtension> {
  const initTimeout = options.initTimeout ?? 10_000;
  // The emulator's clock starts when it is constructed: its event times are read against this.
  const origin = performance.now();
  const emulator = new LambdaEmulator({
    layerDir: layer.layerDir,
    handler: { file: noopHandler() },
    environment: layer.environment,
    timeout: 10_000,
    initTimeout,
  });
  const probe = options.probeDecision ? firstDecision(layer.port, DECISION_PATH, RBAC_BODY, initTimeout) : undefined;
  // Awaited once init is done; a failure before then must not count as unhandled.
  probe?.catch(() => undefined);
  try {
    const init = await emulator.start();
    const answeredAt = await probe;
    if (!init.ok) {
      const log = emulator.output.map((l) => `[${l.source}] ${l.line}`).join('\n');
      throw new Error(`init failed: ${init.errorType}: ${init.errorMessage}\n${log}`);
    }
    const durations = Object.values(init.durations);
    if (durations.length !== 1) throw new Error(`expected one extension, got ${durations.length}`);
    const pid = findExtensionPid(layer.layerDir);
    const spawnedAt = emulator.events.find((e) => e.type === 'spawn' && e.source !== 'runtime')?.t;
    return {
      emulator,
      port: layer.port,
      registerMs: durations[0].register,
      readyMs: durations[0].ready,
      firstDecisionMs: answeredAt === undefined || spawnedAt === undefined ? undefined : answeredAt - origin - spawnedAt,
      pid,
      stop: async () => {
        try {
          await emulator.shutdown();
        } finally {
          await emulator.close();
        }
      },
    };
  } catch (err) {
    await emulator.close();
    throw err;
  }
}
