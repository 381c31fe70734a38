/**
 * The launcher (`extensions/opa` of the synthesized layer) finds the runtime beside it however it
 * is started: Lambda starts it by its absolute path (used as it is, without a subshell), a test
 * or a shell may start it by a relative path or from its own folder. With no Extensions API to
 * answer, the extension then starts and fails its registration, saying so in its JSON log; a
 * launcher that got the path wrong would leave node's "Cannot find module" instead.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { OpaBundle } from '../../src';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';

let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };

beforeAll(async () => {
  bundleFile = writeTempBundle(await buildRbacBundle(['app/rbac/allow']), 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort() });
}, 120_000);

afterAll(() => {
  layer?.dispose();
  bundleFile?.dispose();
});

test.each([
  ['its absolute path', (dir: string) => ({ command: path.join(dir, 'extensions', 'opa'), cwd: '/' })],
  ['a path relative to the working directory', (dir: string) => ({ command: path.join('extensions', 'opa'), cwd: dir })],
  ['./opa from its own folder', (dir: string) => ({ command: './opa', cwd: path.join(dir, 'extensions') })],
])('WHEN the launcher is started by %s THEN it runs the layer\'s runtime, which tries to register', async (_, how) => {
  const { command, cwd } = how(layer.layerDir);
  const closed = await freePort();

  const run = spawnSync(command, [], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${closed}` },
  });

  expect(run.stderr).not.toMatch(/Cannot find module/);
  expect(run.status).toBe(1);
  const failure = run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.msg === 'extension init failed');
  expect(failure).toMatchObject({ errorType: 'Extension.RegistrationFailed' });
}, 60_000);
