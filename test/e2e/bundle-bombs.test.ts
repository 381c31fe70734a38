/**
 * Decompression bombs served to the built layer under the local Lambda emulator. Each one inflates
 * to about a gigabyte from a download of about a megabyte; the extension reads an archive once, as
 * a stream, with `size_limit_bytes` capping every file and the whole archive, so its peak RSS (read
 * from /proc) stays within {@link PEAK_RSS_BOUND_BYTES} of what it reached at init, and decisions on
 * the active revision are answered while each bomb is read.
 */
import * as fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { LambdaEmulator } from '../../emulator/src';
import { buildAuthz } from '../support/authz-bundles';
import { gzipPieces, repeated, tarBlocks } from '../support/bundle-archive';
import { freePort, synthesizeLayer, SynthesizedLayer } from '../support/layer';
import { RecordingServer } from '../support/recording-server';

const MiB = 1024 * 1024;
const SIZE_LIMIT = 10 * MiB;
/**
 * How far the peak RSS may rise above the peak reached by init and a first download: one file at
 * the size limit held while it is read and joined (twice 10 MiB), inflate buffers, and V8's slack.
 * Reading a bomb whole would take it to gigabytes.
 */
const PEAK_RSS_BOUND_BYTES = 40 * MiB;

const HANDLER_SOURCE = `
exports.handler = async () => {
  const res = await fetch(process.env.OPA_URL + '/v1/data/authz/revision', { method: 'POST', body: '{"input": {}}' });
  return { status: res.status, body: await res.json() };
};
`;

let layer: SynthesizedLayer;
let tmp: string;
let server: RecordingServer;
let emulator: LambdaEmulator | undefined;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-bombs-'));
});

afterAll(() => {
  layer?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  await emulator?.close();
  await server?.close();
});

/** The extension's node process: the one whose command line runs this layer's runtime. */
function extensionPid(layerDir: string): number {
  const script = path.join(layerDir, 'opa-extension', 'index.js');
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => arg && path.resolve(arg) === script)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  throw new Error(`no process runs ${script}`);
}

/** VmHWM: the peak resident set size of a process so far, in bytes. */
function peakRss(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

test('GIVEN size_limit_bytes of 10 MiB WHEN the bundle service serves three decompression bombs THEN peak RSS stays within 40 MiB of init and the active revision answers throughout', async () => {
  // GIVEN: the bombs, each about 1 MB on the wire.
  const [r1, r2] = await Promise.all([buildAuthz('r1'), buildAuthz('r2')]);
  const zeros = Buffer.alloc(MiB);
  const bombs: Array<[string, Buffer, 'refused' | 'r2']> = [
    ['1 GiB of bytes that are not tar', await gzipPieces(repeated(Buffer.alloc(MiB, 'x'), 1024)), 'refused'],
    ['120 files of 8 MiB', await gzipPieces((function* () {
      for (let i = 0; i < 120; i++) {
        yield tarBlocks([{ path: `authz/f${i}/data.json`, size: 8 * MiB }]);
        yield* repeated(zeros, 8);
      }
    })()), 'refused'],
    ['a valid bundle followed by 1 GiB of zeros', await gzipPieces([gunzipSync(r2), ...repeated(zeros, 1024)]), 'r2'],
  ];
  let body = r1;
  server = new RecordingServer();
  server.handler = (_req, res: ServerResponse) => { res.writeHead(200, { etag: `"${body.length}"` }).end(body); };
  await server.listen();
  const port = await freePort();
  layer = synthesizeLayer({ port });
  const layerDir = fs.mkdtempSync(path.join(tmp, 'layer-'));
  fs.cpSync(layer.layerDir, layerDir, { recursive: true });
  const configFile = path.join(layerDir, 'opa-extension', 'config.json');
  const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  fs.writeFileSync(configFile, JSON.stringify({
    ...config,
    services: { acme: { url: server.url } },
    bundles: { authz: { service: 'acme', size_limit_bytes: SIZE_LIMIT } },
    plugins: { ...config.plugins, lambda_extension: { ...config.plugins?.lambda_extension, minimum_trigger_threshold: 0, trigger_timeout: 20 } },
  }));
  const handler = path.join(tmp, 'handler.js');
  fs.writeFileSync(handler, HANDLER_SOURCE);
  emulator = new LambdaEmulator({ layerDir, handler: { file: handler }, environment: layer.environment });
  expect(await emulator.start()).toMatchObject({ ok: true });
  const first = await emulator.invoke({});
  expect([first.error, first.result]).toEqual([undefined, { status: 200, body: { result: 'r1' } }]);
  const pid = extensionPid(layerDir);
  const baseline = peakRss(pid);

  for (const [name, bomb, outcome] of bombs) {
    // WHEN: the bomb is downloaded on this INVOKE, while the function and this test ask decisions.
    body = bomb;
    const allowed = outcome === 'r2' ? ['r1', 'r2'] : ['r1'];
    const polled: unknown[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/data/authz/revision`, { method: 'POST', body: '{"input": {}}' });
        polled.push(res.status === 200 ? ((await res.json()) as { result?: unknown }).result : res.status);
      }
    })();
    const during = await emulator.invoke({});
    polling = false;
    await poller;
    // THEN: every decision was answered by an active revision.
    const answer = during.result as { status: number; body: { result?: string } };
    expect([name, answer.status, allowed.includes(answer.body.result!)]).toEqual([name, 200, true]);
    expect(polled.length).toBeGreaterThan(0);
    expect([name, polled.filter((r) => !allowed.includes(r as string))]).toEqual([name, []]);
    // WHEN: the next invocation, after that round.
    body = outcome === 'r2' ? r2 : r1;
    const after = await emulator.invoke({});
    // THEN
    expect([name, after.result]).toEqual([name, { status: 200, body: { result: outcome === 'r2' ? 'r2' : 'r1' } }]);
    expect(peakRss(pid) - baseline).toBeLessThan(PEAK_RSS_BOUND_BYTES);
  }
  const refusals = emulator.jsonLines('opa').filter((l) => l.msg === 'bundle not activated').map((l) => String((l.error as { message?: string }).message));
  expect(refusals).toEqual([
    'bundle authz: bundle is not a tar archive (bad header checksum)',
    `bundle authz: bundle decompresses to more than ${SIZE_LIMIT} bytes (size_limit_bytes)`,
  ]);
  process.stdout.write(`peak RSS: ${(baseline / MiB).toFixed(1)} MiB after init, ${(peakRss(pid) / MiB).toFixed(1)} MiB after the bombs\n`);
}, 120_000);
