import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  BUNDLE_TOOL_FAILURE_STATUS, BundleToolFailure, CheckRequest, CheckSuccess, PackRequest, PackSuccess,
} from './bundle-tool-protocol';

/**
 * The synth-time bundle tool built by `bundle:runtime`, beside the layer template; found from both
 * `src/private` (tests) and `lib/private` (the published package).
 */
const TOOL = path.join(__dirname, '..', '..', 'lib', 'bundle-tool', 'index.js');
/** Reading and loading a bundle of a gigabyte (OPA's default size limit) takes well under this. */
const TOOL_TIMEOUT_MS = 5 * 60_000;

/** The tool's answer to a request: its result, or the problem it found with the input. */
export function runBundleTool(request: PackRequest): PackSuccess | BundleToolFailure;
export function runBundleTool(request: CheckRequest): CheckSuccess | BundleToolFailure;
export function runBundleTool(request: PackRequest | CheckRequest): PackSuccess | CheckSuccess | BundleToolFailure {
  if (!fs.existsSync(TOOL)) {
    throw new Error(`The bundle tool is missing at ${TOOL}; build it with \`npx projen bundle:runtime\``);
  }
  // The Node.js running the synth runs the tool: no shell, no PATH lookup.
  const run = spawnSync(process.execPath, [TOOL], {
    input: JSON.stringify(request),
    encoding: 'utf8',
    timeout: TOOL_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (run.error) throw new Error(`The bundle tool could not run: ${run.error.message}`);
  if (run.status === 0 || run.status === BUNDLE_TOOL_FAILURE_STATUS) {
    return JSON.parse(run.stdout) as PackSuccess | CheckSuccess | BundleToolFailure;
  }
  const status = run.status ?? run.signal;
  throw new Error(`The bundle tool failed (exit ${status}): ${run.stderr.trim() || run.stdout.trim() || 'no output'}`);
}
