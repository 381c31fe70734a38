/**
 * What both demos share (`npx projen demo` under the project's emulator, `npx projen demo:rie`
 * under AWS's Runtime Interface Emulator): compile the example policy, synthesize the example app,
 * take the function out of the cloud assembly, and the decisions to ask.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { AuthorizedFunctionStack, BUNDLE_FILE } from './app';
import { readSynthesizedFunction, type SynthesizedFunction } from '../emulator/src/cloud-assembly';

const ROOT = path.resolve(__dirname, '..');
const OPA = path.join(ROOT, '.tools', 'bin', 'opa');
const OUT_DIR = path.join(__dirname, 'cdk.out');

export const CASES = [
  { event: { user: 'alice', action: 'approve', resource: 'invoice' }, allowed: true },
  { event: { user: 'bob', action: 'read', resource: 'invoice' }, allowed: true },
  { event: { user: 'bob', action: 'approve', resource: 'invoice' }, allowed: false },
  { event: { user: 'mallory', action: 'read', resource: 'invoice' }, allowed: false },
];

/** Compiles the policy with the pinned OPA, synthesizes the app into examples/cdk.out and returns its function. */
export function prepareExample(): SynthesizedFunction & { readonly codeDir: string } {
  step('compile the policy with the pinned OPA');
  execFileSync(OPA, ['build', '-t', 'wasm', '-e', 'app/authz/allow', '-e', 'app/authz/reasons',
    '--revision', `demo-${new Date().toISOString()}`, '-o', BUNDLE_FILE,
    path.join(__dirname, 'policy', 'authz.rego'), path.join(__dirname, 'policy', 'data.json')], { stdio: 'inherit' });

  step('synthesize the example app');
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  const app = new App({ outdir: OUT_DIR });
  const stack = new AuthorizedFunctionStack(app, 'OpaExample');
  app.synth();
  const fn = readSynthesizedFunction(OUT_DIR, stack.artifactId);
  console.log(`  function ${fn.logicalId}: handler ${fn.handler}, layer ${path.relative(ROOT, fn.layerDirs[0])}`);
  console.log(`  environment set by the construct: ${JSON.stringify(fn.environment)}`);
  if (!fn.codeDir) throw new Error(`${fn.logicalId} has inline code; the demo runs an asset folder`);
  return { ...fn, codeDir: fn.codeDir };
}

/** `index.handler` → [`index.js`, `handler`]. */
export function splitHandler(handler: string): [string, string] {
  const dot = handler.lastIndexOf('.');
  return [`${handler.slice(0, dot)}.js`, handler.slice(dot + 1)];
}

export function step(title: string): void {
  console.log(`\n== ${title}`);
}
