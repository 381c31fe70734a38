import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { nodePackagesContext } from './construct-helpers';
import { readSynthesizedFunction } from '../../emulator/src/cloud-assembly';
import { OpaExtensionLayer, OpaExtensionLayerProps } from '../../src';

export interface SynthesizedLayer {
  /** The layer folder in cdk.out, laid out as Lambda unpacks it at /opt. */
  readonly layerDir: string;
  /** Every layer folder of the function, in its order: the OPA layer, then the Node.js layer if it has one. */
  readonly layerDirs: string[];
  /** The function's environment as the construct set it (OPA_URL). */
  readonly environment: Record<string, string>;
  /** The stack's synthesized template, for `Template.fromJSON`. */
  readonly template: Record<string, unknown>;
  /** Removes the cloud assembly. */
  dispose(): void;
}

/**
 * Synthesizes a stack with the layer on a function, as a user's app would, and returns the layer
 * folder from the cloud assembly: end-to-end tests run exactly what `cdk deploy` would upload.
 * `props` may be made in the stack (for props that take constructs: a secret, a bucket).
 */
export function synthesizeLayer(
  props: OpaExtensionLayerProps | ((stack: Stack) => OpaExtensionLayerProps),
  runtime: lambda.Runtime = lambda.Runtime.NODEJS_20_X,
): SynthesizedLayer {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-cdk-out-'));
  // A function of a runtime without node gets the Node.js layer, from the test copy of its package.
  const app = new App({ outdir, context: nodePackagesContext() });
  const stack = new Stack(app, 'E2E');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime,
    handler: 'index.handler',
    code: lambda.Code.fromInline(runtime.family === lambda.RuntimeFamily.PYTHON ? 'def handler(event, context):\n  return {}\n' : 'exports.handler = async () => ({})'),
  });
  fn.addLayers(new OpaExtensionLayer(stack, 'Opa', typeof props === 'function' ? props(stack) : props));
  const errors = app.synth().getStackArtifact(stack.artifactId).messages.filter((m) => m.level === 'error');
  if (errors.length > 0) {
    fs.rmSync(outdir, { recursive: true, force: true });
    // As `cdk synth` would: an app with errors is not deployed, so it is not run either.
    throw new Error(`synth reported errors:\n${errors.map((m) => `${m.id}: ${String(m.entry.data)}`).join('\n')}`);
  }
  const synthesized = readSynthesizedFunction(outdir, stack.artifactId);
  return {
    layerDir: synthesized.layerDirs[0],
    layerDirs: synthesized.layerDirs,
    environment: synthesized.environment,
    template: JSON.parse(fs.readFileSync(path.join(outdir, `${stack.artifactId}.template.json`), 'utf8')),
    dispose: () => fs.rmSync(outdir, { recursive: true, force: true }),
  };
}

/**
 * A port nobody listens on right now, for an extension that must bind a fixed port. It is taken
 * below the kernel's ephemeral range: a port from that range (what `listen(0)` hands out) may be
 * given to any outgoing connection between this check and the extension's bind, and once was.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralPortRange();
  const first = Math.max(1024, low - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = first + Math.floor(Math.random() * (low - first));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${first}-${low - 1} after 100 tries`);
}

/** The kernel's range of ports for outgoing connections and `listen(0)` (Linux's default when unreadable). */
function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // not Linux: its default range
  }
  return [32768, 60999];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Writes a bundle archive to a temp file, for OpaBundle.fromAsset. */
export function writeTempBundle(archive: Buffer, name = 'bundle.tar.gz'): { file: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-bundle-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, archive);
  return { file, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The layers unpacked into one folder, as Lambda extracts every layer of a function into /opt:
 * real folders, each file a link to the layer's own (the 150 MB Node.js binary is not copied).
 * Folders must be real: the launcher finds `../opa-node` from its own folder.
 */
export function mergeLayers(layerDirs: readonly string[]): { dir: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-opt-'));
  const link = (from: string, to: string): void => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      const source = path.join(from, entry.name);
      const target = path.join(to, entry.name);
      if (entry.isDirectory()) {
        fs.mkdirSync(target, { recursive: true });
        link(source, target);
      } else {
        fs.symlinkSync(source, target);
      }
    }
  };
  for (const layerDir of layerDirs) link(layerDir, dir);
  return { dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A PATH without node: a folder of links to every program on this process's PATH but `node`, so
 * that an extension that fell back to PATH's node could not start.
 */
export function pathWithoutNode(): { path: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-path-'));
  const linked = new Set(['node', 'nodejs']);
  for (const entry of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!entry || !fs.existsSync(entry)) continue;
    for (const name of fs.readdirSync(entry)) {
      if (linked.has(name)) continue;
      linked.add(name);
      fs.symlinkSync(path.join(entry, name), path.join(dir, name));
    }
  }
  return { path: dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
