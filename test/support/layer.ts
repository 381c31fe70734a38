import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { readSynthesizedFunction } from '../../emulator/src/cloud-assembly';
import { OpaExtensionLayer, OpaExtensionLayerProps } from '../../src';

export interface SynthesizedLayer {
  /** The layer folder in cdk.out, laid out as Lambda unpacks it at /opt. */
  readonly layerDir: string;
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
export function synthesizeLayer(props: OpaExtensionLayerProps | ((stack: Stack) => OpaExtensionLayerProps)): SynthesizedLayer {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-cdk-out-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'E2E');
  const fn = new lambda.Function(stack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_20_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  fn.addLayers(new OpaExtensionLayer(stack, 'Opa', typeof props === 'function' ? props(stack) : props));
  app.synth();
  const synthesized = readSynthesizedFunction(outdir, stack.artifactId);
  return {
    layerDir: synthesized.layerDirs[0],
    environment: synthesized.environment,
    template: JSON.parse(fs.readFileSync(path.join(outdir, `${stack.artifactId}.template.json`), 'utf8')),
    dispose: () => fs.rmSync(outdir, { recursive: true, force: true }),
  };
}

/** A port nobody listens on right now, for an extension that must bind a fixed port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Writes a bundle archive to a temp file, for OpaBundle.fromAsset. */
export function writeTempBundle(archive: Buffer, name = 'bundle.tar.gz'): { file: string; dispose(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-bundle-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, archive);
  return { file, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
