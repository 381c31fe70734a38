/**
 * Archives that smuggle unsigned files past a bundle's signature, each built from a bundle signed
 * by the pinned OPA. Every one of them was activated (and persisted) by the extension while it read
 * an archive twice, once to verify and once to activate; OPA refuses them. The bundle plugin must
 * refuse each, keep the previous signed revision answering, and persist nothing.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readBundleArchive } from '../../../../runtime/src/engine/bundle-archive';
import { PolicyEngine } from '../../../../runtime/src/engine/policy-engine';
import { BundlePlugin } from '../../../../runtime/src/plugins/bundle/bundle-plugin';
import { parseBundlePluginConfig } from '../../../../runtime/src/plugins/bundle/config';
import { parseKeys } from '../../../../runtime/src/plugins/bundle/keys';
import { ServiceClient } from '../../../../runtime/src/services/service-client';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { buildAuthz } from '../../../support/authz-bundles';
import { END_OF_ARCHIVE, paxRecords, tarBlocks, TarEntry } from '../../../support/bundle-archive';
import { RecordingServer } from '../../../support/recording-server';

const SECRET = 'attack-test-signing-secret';
const SIGNING = { key: SECRET, algorithm: 'HS256' as const };
/** The signed revisions carry data (`opa build` merges it into the root data.json), which case C and F would drop. */
const BLOCKLIST = { 'authz/data.json': JSON.stringify({ blocked: ['mallory'] }) };

/** The entries of a `.tar.gz`, in archive order. */
async function entriesOf(archive: Buffer): Promise<TarEntry[]> {
  const files = await readBundleArchive('fixture', archive, { maxFileBytes: 2 ** 30, maxTotalBytes: 2 ** 30 });
  return files.map((f) => ({ path: f.path, data: f.data }));
}

function gzip(...parts: Buffer[]): Buffer {
  return gzipSync(Buffer.concat(parts));
}

describe('GIVEN a signed bundle active and persisted, and signing required', () => {
  let signedR1: Buffer;
  let signed: TarEntry[];
  let evil: TarEntry[];
  let server: RecordingServer;
  let dir: string;

  beforeAll(async () => {
    const [r1, r2, unsigned] = await Promise.all([
      buildAuthz('r1', { files: BLOCKLIST, signing: SIGNING }),
      buildAuthz('r2', { files: BLOCKLIST, signing: SIGNING }),
      buildAuthz('evil'),
    ]);
    signedR1 = r1;
    signed = await entriesOf(r2);
    evil = await entriesOf(unsigned);
  });

  beforeEach(async () => {
    server = new RecordingServer();
    await server.listen();
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundle-attacks-'));
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Each row: the hostile archive, and the reason the plugin gives. OPA 1.22.2's own refusal is in the comment. */
  const attacks: Array<[string, () => Buffer, RegExp]> = [
    // OPA: "bundle missing .signatures.json" (Go reads the directory as empty, then the hidden bundle).
    ['A: a directory whose declared size hides a complete unsigned bundle', () => gzip(
      tarBlocks([{ path: 'authz/', type: 'Directory', data: Buffer.concat([tarBlocks(evil), END_OF_ARCHIVE]) }, ...signed]), END_OF_ARCHIVE),
    /^bundle authz: directory "authz\/" declares a size$/],
    // OPA: "invalid tar header".
    ['B: an unsigned module after a single zero block', () => gzip(
      tarBlocks(signed), Buffer.alloc(512), tarBlocks([{ path: 'backdoor.wasm', data: evil.find((e) => e.path === 'policy.wasm')!.data }]), END_OF_ARCHIVE),
    /^bundle authz: invalid tar header at offset \d+: data after a single zero block$/],
    // OPA: "file x/../data.json not included in bundle signature".
    ['C: the signed data.json renamed x/../data.json, so it would mount elsewhere', () => gzip(
      tarBlocks(signed.map((e) => (e.path === 'data.json' ? { ...e, path: 'x/../data.json' } : e))), END_OF_ARCHIVE),
    /^bundle authz: tar entry path "x\/..\/data.json" is not clean/],
    // Go applies the pax size to the FIFO (a header-only type): the hidden bytes become entries.
    ['E: a pax size=0 record on a FIFO whose header size covers a hidden bundle', () => gzip(
      tarBlocks([...signed, { path: 'PaxHeader', type: 'ExtendedHeader', data: paxRecords({ size: '0' }) },
        { path: 'fifo', type: 'FIFO', data: Buffer.concat([tarBlocks(evil), END_OF_ARCHIVE]) }]), END_OF_ARCHIVE),
    /^bundle authz: tar entry "fifo" has type FIFO \(6\)/],
    // OPA skips type 7 and then finds a signed file missing: "specified in bundle signatures but not found".
    ['F: the signed data.json stored as a contiguous file (type 7)', () => gzip(
      tarBlocks(signed.map((e) => (e.path === 'data.json' ? { ...e, type: 'ContiguousFile' as const } : e))), END_OF_ARCHIVE),
    /^bundle authz: tar entry "data.json" has type ContiguousFile \(7\)/],
    ['an unsigned file added beside the signed ones', () => gzip(tarBlocks([...signed, { path: 'authz/extra/data.json', data: '{"x": 1}' }]), END_OF_ARCHIVE),
      /^bundle authz: file authz\/extra\/data.json not included in bundle signature$/],
    ['data after the end-of-archive marker', () => gzip(tarBlocks(signed), END_OF_ARCHIVE, tarBlocks(evil), END_OF_ARCHIVE),
      /^bundle authz: data after the end-of-archive marker$/],
  ];

  test.each(attacks)('WHEN the service serves %s THEN it is refused, the signed revision keeps answering and nothing is persisted', async (_name, attack, reason) => {
    // GIVEN: r1, signed, downloaded, activated and persisted.
    let body = signedR1;
    server.handler = (_req, res: ServerResponse) => { res.writeHead(200, { etag: `"${body.length}"` }).end(body); };
    const opaConfig = {
      services: { acme: { url: server.url } },
      keys: { hmac: { algorithm: 'HS256', key: SECRET } },
      bundles: { authz: { signing: { keyid: 'hmac' }, persist: true } },
      persistence_directory: dir,
    };
    const services = parseServices(opaConfig.services);
    const keys = parseKeys(opaConfig.keys);
    const engine = new PolicyEngine();
    const plugin = new BundlePlugin({
      config: parseBundlePluginConfig(opaConfig, services, keys)!,
      services: new Map([...services].map(([name, s]) => [name, new ServiceClient(s, () => { throw new Error('no AWS credentials here'); })])),
      keys,
      engine,
    });
    await plugin.trigger(AbortSignal.timeout(5_000));
    expect(engine.evaluate('authz/revision').result).toBe('r1');
    const persisted = path.join(dir, 'bundles', 'authz', 'bundle.tar.gz');
    expect((await readFile(persisted)).equals(signedR1)).toBe(true);

    // WHEN
    body = attack();
    const result = plugin.trigger(AbortSignal.timeout(5_000));

    // THEN
    await expect(result).rejects.toThrow(reason);
    expect(engine.evaluate('authz/revision').result).toBe('r1');
    expect(plugin.statuses().authz).toMatchObject({ active_revision: 'r1', code: 'bundle_error' });
    expect((await readFile(persisted)).equals(signedR1)).toBe(true);
  });
});
