/**
 * The synth-time bundle tool: the construct runs it as `node lib/bundle-tool/index.js` with one
 * request as JSON on stdin, and reads one result as JSON from stdout (the protocol is
 * `src/private/bundle-tool-protocol.ts`). It packs bundle directories and checks embedded bundles
 * with the extension's own reader and engine. A problem with the input ends the run with
 * BUNDLE_TOOL_FAILURE_STATUS and a failure result; anything else is a crash, reported on stderr.
 */
import * as fs from 'node:fs';
import { checkBundles, CheckError } from './check-bundles';
import { packDirectory, PackError } from './pack-directory';
import {
  BUNDLE_TOOL_FAILURE_STATUS, BundleToolFailure, BundleToolRequest, BundleToolResult,
} from '../../../src/private/bundle-tool-protocol';

async function run(request: BundleToolRequest): Promise<BundleToolResult> {
  switch (request.command) {
    case 'pack':
      return { ok: true, files: packDirectory(request.directory, request.output) };
    case 'check':
      return checkBundles(request);
    default:
      throw new Error(`unknown command ${JSON.stringify((request as { command?: unknown }).command)}`);
  }
}

function failure(err: unknown): BundleToolFailure | undefined {
  if (err instanceof CheckError) return { ok: false, bundles: err.bundles, message: err.message };
  if (err instanceof PackError) return { ok: false, bundles: [], message: err.message };
  // A file that cannot be read (permissions, a file removed while packing) is the user's to fix too.
  if (typeof (err as NodeJS.ErrnoException | null)?.code === 'string') return { ok: false, bundles: [], message: (err as Error).message };
  return undefined;
}

run(JSON.parse(fs.readFileSync(0, 'utf8')) as BundleToolRequest).then(
  (result) => {
    process.stdout.write(JSON.stringify(result) + '\n');
  },
  (err: unknown) => {
    const failed = failure(err);
    if (!failed) {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(JSON.stringify(failed) + '\n');
    process.exitCode = BUNDLE_TOOL_FAILURE_STATUS;
  },
);
