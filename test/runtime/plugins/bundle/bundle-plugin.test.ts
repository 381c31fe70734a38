import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AwsCredentials } from '../../../../runtime/src/config/env';
import { PluginState } from '../../../../runtime/src/contracts/plugin';
import { PolicyEngine } from '../../../../runtime/src/engine/policy-engine';
import { ExtensionError } from '../../../../runtime/src/errors';
import { BundlePlugin } from '../../../../runtime/src/plugins/bundle/bundle-plugin';
import { parseBundlePluginConfig } from '../../../../runtime/src/plugins/bundle/config';
import { parseKeys } from '../../../../runtime/src/plugins/bundle/keys';
import { ServiceClient } from '../../../../runtime/src/services/service-client';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { buildAuthz, repack } from '../../../support/authz-bundles';
import { buildWasmBundle } from '../../../support/opa';
import { RecordingServer } from '../../../support/recording-server';
import { sigv4Problem } from '../../../support/sigv4-verifier';

const HMAC_SECRET = 'bundle-signing-secret';
const SIZE_LIMIT = 200_000; // policy.wasm is about 135 kB
const CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDBUNDLES', secretAccessKey: 'secret/key+example', sessionToken: 'session-token-example', region: 'eu-central-1' };

interface Setup {
  readonly plugin: BundlePlugin;
  readonly engine: PolicyEngine;
  /** Every activation the plugin asks of the engine. */
  readonly activations: jest.SpyInstance;
}

/** Builds the plugin from OPA-shaped config, as main.ts does, with the real engine. */
function setup(opaConfig: Record<string, unknown>, credentials: () => AwsCredentials = () => CREDENTIALS): Setup {
  const services = parseServices(opaConfig.services);
  const keys = parseKeys(opaConfig.keys);
  const config = parseBundlePluginConfig(opaConfig, services, keys)!;
  const engine = new PolicyEngine();
  const activations = jest.spyOn(engine, 'activate');
  const clients = new Map([...services].map(([name, s]) => [name, new ServiceClient(s, credentials)]));
  const plugin = new BundlePlugin({ config, services: clients, keys, engine });
  return { plugin, engine, activations };
}

/** Every trigger is raced against a deadline, as the scheduler's round is. */
function round(ms = 5_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

function revisionOf(engine: PolicyEngine): unknown {
  return engine.evaluate('authz/revision').result;
}

function serve(res: ServerResponse, archive: Buffer, etag: string): void {
  res.writeHead(200, { 'content-type': 'application/gzip', 'etag': etag, 'content-length': String(archive.length) }).end(archive);
}

describe('BundlePlugin', () => {
  let server: RecordingServer;
  let dir: string;
  let r1: Buffer;
  let r2: Buffer;

  beforeAll(async () => {
    [r1, r2] = await Promise.all([buildAuthz('r1'), buildAuthz('r2')]);
  });

  beforeEach(async () => {
    server = new RecordingServer();
    await server.listen();
    dir = await mkdtemp(path.join(os.tmpdir(), 'bundle-plugin-'));
  });

  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('conditional downloads and credentials', () => {
    test('GIVEN an active bundle with an ETag WHEN the server answers 304 THEN the bundle stays active and is not activated again', async () => {
      // GIVEN
      server.handler = (req, res) => {
        if (req.headers['if-none-match'] === '"r1"') res.writeHead(304, { etag: '"r1"' }).end();
        else serve(res, r1, '"r1"');
      };
      const { plugin, engine, activations } = setup({ services: { acme: { url: server.url } }, bundles: { authz: {} }, persistence_directory: dir });
      await plugin.trigger(round());
      const firstDownload = plugin.statuses().authz.last_successful_download;
      // WHEN
      await plugin.trigger(round());
      // THEN
      expect(server.requests.map((r) => [r.url, r.headers['if-none-match']])).toEqual([['/bundles/authz', undefined], ['/bundles/authz', '"r1"']]);
      expect(activations).toHaveBeenCalledTimes(1);
      expect(revisionOf(engine)).toBe('r1');
      const status = plugin.statuses().authz;
      expect(status.last_successful_download).toBe(firstDownload);
      expect(status.last_successful_request).toBe(status.last_request);
      expect(status.code).toBeUndefined();
    });

    test('GIVEN bearer credentials WHEN the bundle is downloaded THEN the server checks the header and the bundle activates', async () => {
      // GIVEN
      server.handler = (req, res) => {
        if (req.headers.authorization !== 'Bearer opa-token') res.writeHead(401).end();
        else serve(res, r1, '"r1"');
      };
      const { plugin, engine } = setup({
        services: { acme: { url: server.url, credentials: { bearer: { token: 'opa-token' } } } },
        bundles: { authz: { service: 'acme', resource: 'bundles/authz' } },
      });
      // WHEN
      await plugin.trigger(round());
      // THEN
      expect(revisionOf(engine)).toBe('r1');
      expect(engine.evaluate('authz/allow', { user: 'alice' }).result).toBe(true);
    });

    test('GIVEN a wrong bearer token WHEN the bundle is downloaded THEN the 401 is in the status with its http_code', async () => {
      // GIVEN
      server.handler = (req, res) => { res.writeHead(req.headers.authorization === 'Bearer right' ? 200 : 401).end(); };
      const { plugin, engine } = setup({ services: { acme: { url: server.url, credentials: { bearer: { token: 'wrong' } } } }, bundles: { authz: {} } });
      // WHEN
      const result = plugin.trigger(round());
      // THEN
      await expect(result).rejects.toThrow('server replied with Unauthorized');
      expect(plugin.statuses().authz).toMatchObject({ code: 'bundle_error', message: 'server replied with Unauthorized', http_code: 401 });
      expect(engine.isActive('authz')).toBe(false);
    });

    test('GIVEN an S3 bucket that verifies SigV4 WHEN the bundle is downloaded with the Lambda credentials THEN it activates', async () => {
      // GIVEN
      const expected = { ...CREDENTIALS, service: 's3' };
      server.handler = (req, res, body) => {
        const problem = sigv4Problem(req, body, expected);
        if (problem) res.writeHead(403).end(problem);
        else if (req.url === '/opa-bundles/authz/bundle.tar.gz') serve(res, r1, '"etag-1"');
        else res.writeHead(404).end();
      };
      const { plugin, engine } = setup({
        services: { s3: { url: `${server.url}/opa-bundles`, credentials: { s3_signing: { environment_credentials: {} } } } },
        bundles: { authz: { service: 's3', resource: 'authz/bundle.tar.gz' } },
      });
      // WHEN
      await plugin.trigger(round());
      // THEN
      expect(revisionOf(engine)).toBe('r1');
      expect(server.requests[0].headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
    });

    test('GIVEN an S3 bucket and a wrong secret key WHEN the bundle is downloaded THEN the bucket refuses it and the status has the 403', async () => {
      // GIVEN
      server.handler = (req, res, body) => {
        const problem = sigv4Problem(req, body, { ...CREDENTIALS, service: 's3' });
        if (problem) res.writeHead(403).end(problem);
        else serve(res, r1, '"etag-1"');
      };
      const { plugin, engine } = setup({
        services: { s3: { url: `${server.url}/opa-bundles`, credentials: { s3_signing: { environment_credentials: {} } } } },
        bundles: { authz: { resource: 'authz/bundle.tar.gz' } },
      }, () => ({ ...CREDENTIALS, secretAccessKey: 'wrong' }));
      // WHEN
      const result = plugin.trigger(round());
      // THEN
      await expect(result).rejects.toThrow('server replied with Forbidden');
      expect(plugin.statuses().authz).toMatchObject({ http_code: 403 });
      expect(engine.isActive('authz')).toBe(false);
    });
  });

  describe('fault matrix: the old revision keeps answering, the status shows the error, a later good download wins', () => {
    type Fault = (req: IncomingMessage, res: ServerResponse) => void;
    const faults: Record<string, { fault: () => Promise<Fault>; message: RegExp; httpCode?: number; deadlineMs?: number }> = {
      '500': { fault: async () => (_req, res) => { res.writeHead(500).end('oops'); }, message: /^server replied with Internal Server Error$/, httpCode: 500 },
      '404': { fault: async () => (_req, res) => { res.writeHead(404).end(); }, message: /^server replied with Not Found$/, httpCode: 404 },
      'no response headers within response_header_timeout_seconds': {
        fault: async () => () => { /* never answers */ },
        message: /^service acme: no response headers within 0.3s$/,
      },
      'a body slower than the round deadline': {
        fault: async () => (_req, res) => { res.writeHead(200, { 'content-length': String(r2.length) }); res.write(r2.subarray(0, 100)); },
        message: /^bundle authz: download cancelled: /,
        deadlineMs: 800,
      },
      'connection reset mid-body': {
        fault: async () => (req, res) => {
          res.writeHead(200, { 'content-length': String(r2.length) });
          res.write(r2.subarray(0, 1000), () => setTimeout(() => req.socket.destroy(), 10));
        },
        message: /^service acme: response from \/bundles\/authz cut short after \d+ bytes$/,
      },
      'truncated gzip': {
        fault: async () => (_req, res) => serve(res, r2.subarray(0, Math.floor(r2.length / 2)), '"trunc"'),
        message: /^bundle authz: bundle is not a valid gzip archive: unexpected end of file$/,
      },
      'not a tar': {
        fault: async () => (_req, res) => serve(res, gzipSync('this is not a tar archive'), '"not-tar"'),
        message: /^bundle authz: bundle is not a tar archive/,
      },
      'missing policy.wasm': {
        fault: async () => { const b = await repack(r2, { 'policy.wasm': undefined }); return (_req, res) => serve(res, b, '"no-wasm"'); },
        message: /^bundle authz: holds no Wasm module/,
      },
      'a manifest entrypoint the wasm does not export': {
        fault: async () => {
          const b = await repack(r2, { '.manifest': JSON.stringify({ revision: 'r2', roots: ['authz'], wasm: [{ entrypoint: 'authz/missing', module: '/policy.wasm' }] }) });
          return (_req, res) => serve(res, b, '"no-entry"');
        },
        message: /authz\/missing/,
      },
      'wasm that does not load': {
        fault: async () => { const b = await repack(r2, { 'policy.wasm': Buffer.from('\0asm not really') }); return (_req, res) => serve(res, b, '"bad-wasm"'); },
        message: /^bundle authz: .*WebAssembly/,
      },
      'a bad signature': {
        fault: async () => {
          const b = await buildAuthz('r2', { signing: { key: 'not-the-configured-secret', algorithm: 'HS256' } });
          return (_req, res) => serve(res, b, '"bad-sig"');
        },
        message: /^bundle authz: bundle signature verification failed: signature verification failed$/,
      },
      'roots overlapping another bundle': {
        fault: async () => { const b = await buildAuthz('r2', { roots: ['authz', 'other/inner'] }); return (_req, res) => serve(res, b, '"overlap"'); },
        message: /overlapping roots.*\[authz, other\]/,
      },
      'a file over size_limit_bytes': {
        fault: async () => {
          const b = await buildAuthz('r2', { files: { 'authz/data.json': JSON.stringify({ blob: 'x'.repeat(SIZE_LIMIT) }) } });
          return (_req, res) => serve(res, b, '"big"');
        },
        message: /^bundle authz: bundle file 'data.json' size \(\d+ bytes\) exceeds configured size_limit_bytes \(200000 bytes\)$|^bundle authz: bundle file 'authz\/data.json' size/,
      },
    };

    let other: Buffer;
    beforeAll(async () => {
      other = await buildWasmBundle({ modules: { 'other.rego': 'package other\n\nhello := "world"\n' }, manifest: { roots: ['other'] }, entrypoints: ['other/hello'], revision: 'o1' });
    });

    test.each(Object.entries(faults))('GIVEN revision r1 serving WHEN the download fails with %s THEN r1 still answers, then r2 activates', async (_name, row) => {
      // GIVEN: r1 active, and another bundle whose roots a faulty bundle may overlap.
      let authz: Fault = (_req, res) => serve(res, r1, '"r1"');
      const during: unknown[] = [];
      server.handler = (req, res) => {
        if (req.url === '/bundles/other') {
          if (req.headers['if-none-match'] === '"o1"') res.writeHead(304).end();
          else serve(res, other, '"o1"');
          return;
        }
        authz(req, res);
      };
      const { plugin, engine } = setup({
        services: { acme: { url: server.url, response_header_timeout_seconds: 0.3 } },
        keys: { default: { algorithm: 'HS256', key: HMAC_SECRET } },
        bundles: { authz: { size_limit_bytes: SIZE_LIMIT }, other: {} },
      });
      await plugin.trigger(round());
      expect(revisionOf(engine)).toBe('r1');
      const activated = plugin.statuses().authz.last_successful_activation;

      // WHEN: the fault; a decision is asked while the server is handling the download.
      const fault = await row.fault();
      authz = (req, res) => {
        during.push(revisionOf(engine));
        fault(req, res);
      };
      const result = plugin.trigger(round(row.deadlineMs));

      // THEN
      await expect(result).rejects.toThrow(row.message);
      expect(during).toEqual(['r1']);
      expect(revisionOf(engine)).toBe('r1');
      expect(engine.evaluate('authz/allow', { user: 'alice' }).result).toBe(true);
      expect(engine.evaluate('other/hello').result).toBe('world');
      const status = plugin.statuses().authz;
      expect(status).toMatchObject({ name: 'authz', code: 'bundle_error', active_revision: 'r1', last_successful_activation: activated });
      expect(status.message).toMatch(row.message);
      expect(status.http_code).toBe(row.httpCode);
      expect(plugin.status().state).toBe(PluginState.OK);

      // WHEN: the server is fixed
      authz = (_req, res) => serve(res, r2, '"r2"');
      await plugin.trigger(round());

      // THEN
      expect(revisionOf(engine)).toBe('r2');
      const fixed = plugin.statuses().authz;
      expect(fixed).toMatchObject({ active_revision: 'r2' });
      expect(fixed.code).toBeUndefined();
      expect(fixed.message).toBeUndefined();
      expect(fixed.http_code).toBeUndefined();
    });
  });

  describe('signed bundles', () => {
    test('GIVEN signing with an HS256 key WHEN a bundle signed by opa build is downloaded THEN it activates', async () => {
      // GIVEN
      const signed = await buildAuthz('r1', { signing: { key: HMAC_SECRET, algorithm: 'HS256', claims: { scope: 'write' } } });
      server.handler = (_req, res) => serve(res, signed, '"s1"');
      const { plugin, engine } = setup({
        services: { acme: { url: server.url } },
        keys: { hmac: { algorithm: 'HS256', key: HMAC_SECRET, scope: 'write' } },
        bundles: { authz: { signing: { keyid: 'hmac' } } },
      });
      // WHEN
      await plugin.trigger(round());
      // THEN
      expect(revisionOf(engine)).toBe('r1');
    });

    test('GIVEN signing is configured WHEN an unsigned bundle is downloaded THEN it is refused', async () => {
      // GIVEN
      server.handler = (_req, res) => serve(res, r1, '"r1"');
      const { plugin, engine } = setup({
        services: { acme: { url: server.url } },
        keys: { hmac: { algorithm: 'HS256', key: HMAC_SECRET } },
        bundles: { authz: { signing: { keyid: 'hmac' } } },
      });
      // WHEN
      const result = plugin.trigger(round());
      // THEN
      await expect(result).rejects.toThrow('bundle authz: bundle missing .signatures.json file');
      expect(engine.isActive('authz')).toBe(false);
    });
  });

  describe('persistence', () => {
    test('GIVEN persist: true and a downloaded bundle WHEN a cold start finds the service down THEN the persisted revision serves', async () => {
      // GIVEN: a first environment downloads and persists r1.
      server.handler = (_req, res) => serve(res, r1, '"r1"');
      const opaConfig = { services: { acme: { url: server.url } }, bundles: { authz: { persist: true } }, persistence_directory: dir };
      const first = setup(opaConfig);
      await first.plugin.trigger(round());
      expect(existsSync(path.join(dir, 'bundles', 'authz', 'bundle.tar.gz'))).toBe(true);
      await server.close();

      // WHEN: a cold start, with the service unreachable.
      const cold = setup(opaConfig);
      await cold.plugin.start(round());
      const result = cold.plugin.trigger(round());

      // THEN
      await expect(result).rejects.toThrow(/ECONNREFUSED/);
      expect(revisionOf(cold.engine)).toBe('r1');
      expect(cold.plugin.statuses().authz).toMatchObject({ active_revision: 'r1', code: 'bundle_error' });
      expect(cold.plugin.status().state).toBe(PluginState.OK);
      expect(() => cold.plugin.assertInitActivated()).not.toThrow();
      server = new RecordingServer(); // afterEach stops a server
      await server.listen();
    });

    test('GIVEN a persisted bundle that no longer verifies WHEN the plugin starts THEN it is not activated and the status says why', async () => {
      // GIVEN
      await rm(path.join(dir, 'bundles'), { recursive: true, force: true });
      const file = path.join(dir, 'bundles', 'authz', 'bundle.tar.gz');
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, r1.subarray(0, 100));
      server.handler = (_req, res) => { res.writeHead(503).end(); };
      const opaConfig = { services: { acme: { url: server.url } }, bundles: { authz: { persist: true } }, persistence_directory: dir };
      const { plugin, engine } = setup(opaConfig);
      // WHEN
      await plugin.start(round());
      // THEN
      expect(engine.isActive('authz')).toBe(false);
      expect(plugin.statuses().authz.message).toMatch(/^bundle authz: bundle is not a valid gzip archive/);
    });

    test('GIVEN persist: false WHEN a bundle activates THEN nothing is written', async () => {
      // GIVEN
      server.handler = (_req, res) => serve(res, r1, '"r1"');
      const { plugin } = setup({ services: { acme: { url: server.url } }, bundles: { authz: {} }, persistence_directory: dir });
      // WHEN
      await plugin.trigger(round());
      // THEN
      expect(existsSync(path.join(dir, 'bundles'))).toBe(false);
    });
  });

  describe('init and readiness', () => {
    test('GIVEN on_init_failure left at its default WHEN the bundle cannot be fetched at init THEN init fails with Extension.BundleActivationFailed', async () => {
      // GIVEN
      server.handler = (_req, res) => { res.writeHead(500).end(); };
      const { plugin } = setup({ services: { acme: { url: server.url } }, bundles: { authz: {} } });
      await plugin.start(round());
      await plugin.trigger(round()).catch(() => undefined);
      // WHEN
      let error: unknown;
      try {
        plugin.assertInitActivated();
      } catch (err) {
        error = err;
      }
      // THEN
      expect(error).toBeInstanceOf(ExtensionError);
      expect((error as ExtensionError).errorType).toBe('Extension.BundleActivationFailed');
      expect((error as Error).message).toBe('bundle authz: not activated during init: authz (server replied with Internal Server Error)');
      expect(plugin.status()).toEqual({ state: PluginState.NOT_READY, message: 'waiting for bundles to activate: authz' });
      expect(plugin.allActivated()).toBe(false);
    });

    test('GIVEN on_init_failure: start_not_ready WHEN the bundle cannot be fetched at init THEN init goes on NOT_READY, and a later trigger makes it OK', async () => {
      // GIVEN
      server.handler = (_req, res) => { res.writeHead(500).end(); };
      const { plugin, engine } = setup({ services: { acme: { url: server.url } }, bundles: { authz: { on_init_failure: 'start_not_ready' } } });
      await plugin.start(round());
      await plugin.trigger(round()).catch(() => undefined);
      // WHEN
      plugin.assertInitActivated();
      // THEN
      expect(plugin.status().state).toBe(PluginState.NOT_READY);
      server.handler = (_req, res) => serve(res, r1, '"r1"');
      await plugin.trigger(round());
      expect(plugin.status()).toEqual({ state: PluginState.OK });
      expect(plugin.allActivated()).toBe(true);
      expect(revisionOf(engine)).toBe('r1');
    });

    test('GIVEN a new plugin WHEN nothing was downloaded yet THEN the statuses hold OPA\'s zero times', () => {
      // GIVEN
      const { plugin } = setup({ services: { acme: { url: server.url } }, bundles: { authz: {} } });
      // THEN
      expect(plugin.statuses()).toEqual({
        authz: {
          name: 'authz',
          last_successful_activation: '0001-01-01T00:00:00Z',
          last_successful_download: '0001-01-01T00:00:00Z',
          last_successful_request: '0001-01-01T00:00:00Z',
          last_request: '0001-01-01T00:00:00Z',
        },
      });
    });

    test('GIVEN a trigger in progress WHEN the plugin stops THEN the download is abandoned and stop returns promptly', async () => {
      // GIVEN
      server.handler = () => { /* never answers */ };
      const { plugin } = setup({ services: { acme: { url: server.url } }, bundles: { authz: {} } });
      const result = plugin.trigger(round(10_000));
      await new Promise((r) => setTimeout(r, 50));
      // WHEN
      const started = Date.now();
      await plugin.stop(round(2_000));
      // THEN
      await expect(result).rejects.toThrow('bundle authz: download cancelled: the bundle plugin is stopping');
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });
});
