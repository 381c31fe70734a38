import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IConstruct } from 'constructs';
import { NODE_RUNTIME } from '../layer-contract';

/**
 * The Node.js binary of `OpaNodeRuntimeLayer`: found in the npm package of its architecture, checked,
 * and laid out as the layer unpacks at /opt (`opa-node/bin/node`, `opa-node/LICENSE`,
 * `opa-node/lib/libatomic.so.1` and its copyright file).
 *
 * The package is resolved from the folder the CDK app runs in (`process.cwd()`), then from this
 * library's own folder. The app's folder is where a Python, Java or Go user installs it: their app
 * runs this library inside jsii's Node.js process, whose working directory is the app's.
 */

/**
 * CDK context key: a folder to resolve the package from instead (its `node_modules`, or a parent's),
 * for an app whose packages live elsewhere (a monorepo), and for tests.
 */
export const NODE_PACKAGES_CONTEXT = 'opa-lambda-extension:nodePackagesDir';

/** libatomic.so.1 per architecture, fetched by `scripts/fetch-libatomic.sh`; found from both `src/` (tests) and `lib/` (the package). */
const LIBATOMIC_DIR = path.join(__dirname, '..', '..', 'lib', 'node-layer');
const LIBATOMIC = 'libatomic.so.1';
const LIBATOMIC_LICENSE = `${LIBATOMIC}.copyright`;

/** The package's `cpu` value, in the message that explains `--force`. */
const NPM_CPU: Readonly<Record<string, string>> = { x86_64: 'x64', arm64: 'arm64' };

const REQUIRED_MAJOR = NODE_RUNTIME.VERSION.split('.')[0];

/** The layer's folder and its asset hash. */
export interface NodeBinaryAsset {
  readonly dir: string;
  /** From the layout, the architecture, the installed version and libatomic's bytes: the same on every host. */
  readonly assetHash: string;
  /** The installed Node.js version. */
  readonly version: string;
}

/** A Node.js package that is missing or of another major: the message says how to install the right one. */
export class NodeBinaryError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'NodeBinaryError';
  }
}

/** The command that installs the package for `architecture` in a CDK app's folder. */
export function installCommand(architecture: string): string {
  return `npm install --save-dev --force ${NODE_RUNTIME.PACKAGES[architecture]}@${NODE_RUNTIME.VERSION}`;
}

/**
 * Why the binary for `architecture` cannot be had (a sentence with the command that fixes it), or
 * undefined when it can.
 */
export function nodeBinaryProblem(scope: IConstruct, architecture: string): string | undefined {
  try {
    findPackage(scope, architecture);
    return undefined;
  } catch (e) {
    if (e instanceof NodeBinaryError) return e.message;
    throw e;
  }
}

/** Staged layer folders, by package folder and architecture: one per process, reused by every stack. */
const staged = new Map<string, NodeBinaryAsset>();

/** The layer's contents for `architecture`; throws a {@link NodeBinaryError} when the package is missing or wrong. */
export function nodeBinaryAsset(scope: IConstruct, architecture: string): NodeBinaryAsset {
  const pkg = findPackage(scope, architecture);
  const key = `${pkg.dir}\0${architecture}`;
  const known = staged.get(key);
  if (known && fs.existsSync(known.dir)) return known;
  const libDir = path.join(LIBATOMIC_DIR, architecture);
  const libatomic = path.join(libDir, LIBATOMIC);
  if (!fs.existsSync(libatomic)) {
    throw new Error(`${libatomic} is missing: fetch it with \`bash scripts/fetch-libatomic.sh\` (the build runs it after compile)`);
  }
  // Links to the package's files: CDK copies their targets when it stages the asset, so the 150 MB
  // binary is copied once, into cdk.out.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-node-layer-'));
  const root = path.join(dir, NODE_RUNTIME.DIR);
  const links: Array<[string, string]> = [
    [path.join(pkg.dir, 'bin', 'node'), NODE_RUNTIME.BINARY],
    [path.join(pkg.dir, 'LICENSE'), NODE_RUNTIME.LICENSE],
    [libatomic, path.join(NODE_RUNTIME.LIB_DIR, LIBATOMIC)],
    [path.join(libDir, LIBATOMIC_LICENSE), path.join(NODE_RUNTIME.LIB_DIR, LIBATOMIC_LICENSE)],
  ];
  for (const [target, name] of links) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.symlinkSync(target, path.join(root, name));
  }
  const assetHash = crypto.createHash('sha256')
    .update(JSON.stringify({ layout: NODE_RUNTIME, architecture, version: pkg.version }))
    .update(fs.readFileSync(libatomic))
    .digest('hex');
  const asset = { dir, assetHash, version: pkg.version };
  staged.set(key, asset);
  return asset;
}

interface FoundPackage {
  readonly dir: string;
  readonly version: string;
}

function findPackage(scope: IConstruct, architecture: string): FoundPackage {
  const name = NODE_RUNTIME.PACKAGES[architecture];
  if (name === undefined) {
    throw new NodeBinaryError(`architecture must be one of ${Object.keys(NODE_RUNTIME.PACKAGES).join(', ')}, got ${architecture}`);
  }
  const configured: unknown = scope.node.tryGetContext(NODE_PACKAGES_CONTEXT);
  const from = typeof configured === 'string' ? [path.resolve(configured)] : [process.cwd(), path.join(__dirname, '..', '..')];
  const needed = `the Node.js binary for ${architecture} functions whose runtime has no node, from the npm package ${name} `
    + `(Node.js ${REQUIRED_MAJOR}.x, this library is tested with ${NODE_RUNTIME.VERSION})`;
  const install = `Install it in the CDK app's folder with \`${installCommand(architecture)}\` (--force: the package declares `
    + `os "linux" and cpu "${NPM_CPU[architecture]}", which npm otherwise refuses on a host of another kind; there, later installs `
    + 'from the lock file need `npm ci --force` too)';
  let manifest: string;
  try {
    manifest = require.resolve(`${name}/package.json`, { paths: from });
  } catch {
    throw new NodeBinaryError(`${needed} is not installed (looked from ${from.join(', ')}). ${install}`);
  }
  const dir = path.dirname(manifest);
  const version = String(JSON.parse(fs.readFileSync(manifest, 'utf8')).version);
  if (version.split('.')[0] !== REQUIRED_MAJOR) {
    throw new NodeBinaryError(`${needed} is installed at ${dir} in version ${version}. ${install}`);
  }
  for (const file of ['bin/node', 'LICENSE']) {
    if (!fs.existsSync(path.join(dir, file))) {
      throw new NodeBinaryError(`${needed} is installed at ${dir} without its ${file}. ${install}`);
    }
  }
  return { dir, version };
}
