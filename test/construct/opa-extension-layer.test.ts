import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { BundleInitFailure, OpaBundle, OpaExtensionLayer } from '../../src';
import { buildAuthz } from '../support/authz-bundles';
import { newFunction } from '../support/construct-helpers';
import { buildWasmBundle } from '../support/opa';

let workDir: string;
let bundleFile: string;
let secondFile: string;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-construct-test-'));
  // Embedded bundles are checked at synth with the extension's engine: they must be real ones.
  bundleFile = path.join(workDir, 'authz.tar.gz');
  fs.writeFileSync(bundleFile, await buildAuthz('rev-1'));
  secondFile = path.join(workDir, 'second.tar.gz');
  fs.writeFileSync(secondFile, await buildWasmBundle({
    modules: { 'second.rego': 'package second\n\nallow := true\n' }, entrypoints: ['second/allow'], manifest: { roots: ['second'] },
  }));
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

function newStack(): Stack {
  return new Stack(new App(), 'Stack');
}

/** The folder CDK staged for the layer: layers are asset folders copied into the assembly. */
function layerConfig(stack: Stack, layer: OpaExtensionLayer): unknown {
  return JSON.parse(fs.readFileSync(path.join(layerContents(stack, layer), 'opa-extension', 'config.json'), 'utf8'));
}

function layerContents(stack: Stack, layer: OpaExtensionLayer): string {
  const assembly = (stack.node.root as App).synth();
  const cfn = layer.node.defaultChild as lambda.CfnLayerVersion;
  const content = Stack.of(layer).resolve(cfn.content) as { s3Key: string };
  const hash = content.s3Key.replace(/\.zip$/, '');
  return path.join(assembly.directory, `asset.${hash}`);
}

/** The whole policy a function's role gets for a bundle in the `Policies` bucket: read that object, nothing more. */
function policyToReadKey(key: string): Record<string, unknown> {
  const bucketArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Policies'), 'Arn'] };
  return {
    PolicyDocument: {
      Statement: [{ Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [bucketArn, `/${key}`]] } }],
    },
  };
}

describe('OpaExtensionLayer', () => {
  test('GIVEN a function WHEN fn.addLayers(layer) THEN the function has the layer and OPA_URL, and its own env is kept', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', { environment: { APP_MODE: 'prod' } });
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromAsset(bundleFile) });

    fn.addLayers(opa);

    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Layers: [{ Ref: stack.getLogicalId(opa.node.defaultChild as lambda.CfnLayerVersion) }],
      Environment: { Variables: Match.objectEquals({ APP_MODE: 'prod', OPA_URL: 'http://127.0.0.1:8181' }) },
    });
  });

  test('GIVEN a function WHEN opa.addToFunction(fn) THEN the layer and OPA_URL are added once, however often it is called', () => {
    const stack = newStack();
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa', { port: 8282 });

    opa.addToFunction(fn);
    opa.addToFunction(fn);

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Layers: [{ Ref: Match.anyValue() }],
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8282' }) },
    });
    expect(opa.url).toBe('http://127.0.0.1:8282');
  });

  test('GIVEN the user set OPA_URL WHEN the layer is added THEN the user value is kept', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', { environment: { OPA_URL: 'http://127.0.0.1:9999' } });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    fn.addLayers(opa);

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:9999' }) },
    });
  });

  test('GIVEN a function without the layer THEN it gets no OPA_URL', () => {
    const stack = newStack();
    newFunction(stack, 'Other');
    const withOpa = newFunction(stack, 'WithOpa');
    withOpa.addLayers(new OpaExtensionLayer(stack, 'Opa'));

    const bare = Template.fromStack(stack).findResources('AWS::Lambda::Function', {
      Properties: { Layers: Match.absent(), Environment: Match.absent() },
    });
    expect(Object.keys(bare)).toEqual([expect.stringMatching(/^Other/)]);
  });

  test('THEN the layer lists the runtimes it serves (Node.js 20+ and, with the Node.js layer, the Amazon Linux 2023 ones) on both architectures', () => {
    const stack = newStack();
    new OpaExtensionLayer(stack, 'Opa');

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs20.x', 'nodejs22.x', 'python3.12', 'python3.13', 'java21', 'dotnet8', 'dotnet9', 'ruby3.3', 'ruby3.4', 'provided.al2023'],
      CompatibleArchitectures: ['x86_64', 'arm64'],
      Description: 'Open Policy Agent Lambda extension',
    });
  });

  test('GIVEN a Python 3.11 function WHEN the layer is added THEN it is refused, naming the runtime and the one to use', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Py', { runtime: lambda.Runtime.PYTHON_3_11 });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    expect(() => opa.addToFunction(fn)).toThrow(/^Stack\/Py: runtime python3\.11 runs on Amazon Linux 2 \(glibc 2\.26\), .* use python3\.12 or newer$/);
  });

  test('THEN the layer holds the launcher, the runtime, the config and the embedded bundles in the layout Lambda unpacks at /opt', () => {
    const stack = newStack();
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      bundles: [OpaBundle.fromAsset(bundleFile), OpaBundle.fromAsset(secondFile)],
      labels: { team: 'payments' },
      defaultDecision: '/app/main',
      minimumTriggerThreshold: Duration.seconds(10),
      triggerTimeout: Duration.seconds(3),
      pluginStartPriority: ['bundle', 'status'],
      pluginStopPriority: ['status', 'bundle'],
    });

    const dir = layerContents(stack, opa);

    expect(fs.readdirSync(path.join(dir, 'extensions'))).toEqual(['opa']);
    expect(fs.statSync(path.join(dir, 'extensions', 'opa')).mode.toString(8)).toMatch(/755$/);
    expect(fs.existsSync(path.join(dir, 'opa-extension', 'index.js'))).toBe(true);
    // Small bundles are inflated at synth, so that init reads them without gunzip.
    expect(fs.readdirSync(path.join(dir, 'opa-extension', 'bundles')).sort()).toEqual(['authz.tar', 'second.tar']);
    expect(fs.readFileSync(path.join(dir, 'opa-extension', 'bundles', 'authz.tar')).equals(zlib.gunzipSync(fs.readFileSync(bundleFile)))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'opa-extension', 'bundles', 'second.tar')).equals(zlib.gunzipSync(fs.readFileSync(secondFile)))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'opa-extension', 'config.json'), 'utf8'))).toEqual({
      labels: { team: 'payments' },
      default_decision: '/app/main',
      plugins: {
        lambda_extension: {
          port: 8181,
          minimum_trigger_threshold: 10,
          trigger_timeout: 3,
          plugin_start_priority: ['bundle', 'status'],
          plugin_stop_priority: ['status', 'bundle'],
        },
      },
    });
  });

  test('GIVEN a bundle that inflates to more than 4 MiB THEN the layer embeds the archive as given, still compressed (Lambda counts a layer unzipped)', async () => {
    const big = path.join(workDir, 'big.tar.gz');
    fs.writeFileSync(big, await buildAuthz('rev-big', { files: { 'authz/filler/data.json': JSON.stringify({ text: 'x'.repeat(5 * 1024 * 1024) }) } }));
    expect(fs.statSync(big).size).toBeLessThan(1024 * 1024);
    const stack = newStack();
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromAsset(big, { name: 'authz' }) });

    const dir = layerContents(stack, opa);

    expect(fs.readdirSync(path.join(dir, 'opa-extension', 'bundles'))).toEqual(['authz.tar.gz']);
    expect(fs.readFileSync(path.join(dir, 'opa-extension', 'bundles', 'authz.tar.gz')).equals(fs.readFileSync(big))).toBe(true);
  });

  test('GIVEN no options THEN config.json holds only the port, so the extension defaults apply', () => {
    const stack = newStack();
    const opa = new OpaExtensionLayer(stack, 'Opa');

    const dir = layerContents(stack, opa);

    expect(JSON.parse(fs.readFileSync(path.join(dir, 'opa-extension', 'config.json'), 'utf8'))).toEqual({
      plugins: { lambda_extension: { port: 8181 } },
    });
  });

  test('GIVEN an unknown plugin name in a priority THEN synth warns that it is skipped', () => {
    const stack = newStack();
    new OpaExtensionLayer(stack, 'Opa', { pluginStartPriority: ['bundle', 'bundel'] });

    Annotations.fromStack(stack).hasWarning('/Stack/Opa', Match.stringLikeRegexp('plugin "bundel" is not one of discovery, bundle, decision_logs, status'));
  });

  test.each([
    ['port 0', { port: 0 }, 'Stack/Opa: port must be a whole number from 1 to 65535 other than 9001 (Lambda\'s Runtime API), got 0'],
    ['port 9001', { port: 9001 }, 'got 9001'],
    ['port 70000', { port: 70000 }, 'got 70000'],
    ['triggerTimeout 1.5 s', { triggerTimeout: Duration.millis(1500) }, 'Stack/Opa: triggerTimeout must be a whole number of seconds from 1 to 900, got 1 second 500 millis'],
    ['triggerTimeout 20 min', { triggerTimeout: Duration.minutes(20) }, 'got 20 minutes'],
    ['minimumTriggerThreshold 0.5 s', { minimumTriggerThreshold: Duration.millis(500) }, 'Stack/Opa: minimumTriggerThreshold must be a whole number of seconds from 0 to 86400, got 500 millis'],
  ])('GIVEN %s THEN synth fails with a message naming the prop and the value', (_, props, message) => {
    const stack = newStack();
    expect(() => new OpaExtensionLayer(stack, 'Opa', props)).toThrow(message);
  });

  test('GIVEN a bundle file that does not exist THEN the error names the file', () => {
    const stack = newStack();
    const missing = path.join(workDir, 'missing.tar.gz');
    expect(() => new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromAsset(missing) }))
      .toThrow(`Stack/Opa: bundle: OpaBundle.fromAsset(${JSON.stringify(missing)}): no bundle file or directory at ${missing}`);
  });

  test('GIVEN two bundles with one name THEN synth fails naming it', () => {
    const stack = newStack();
    expect(() => new OpaExtensionLayer(stack, 'Opa', { bundles: [OpaBundle.fromAsset(bundleFile), OpaBundle.fromAsset(bundleFile)] }))
      .toThrow('Stack/Opa: two bundles are named "authz"');
  });

  test('GIVEN a bucket key that is a deploy-time value and no name THEN synth fails asking for a name', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const key = new CfnParameter(stack, 'Key').valueAsString;
    expect(() => new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, key) }))
      .toThrow('Stack: OpaBundle.fromBucket: give the bundle a name when its path is a token');
  });

  test('GIVEN a bundle name with a slash THEN synth fails naming it', () => {
    const stack = newStack();
    expect(() => new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromAsset(bundleFile, { name: '../evil' }) }))
      .toThrow('bundle name must use only letters, digits, \'.\', \'_\' and \'-\', got "../evil"');
  });
});

describe('remote bundles, decision logs and status', () => {
  test('GIVEN OpaBundle.fromBucket THEN the config signs S3 requests, the URL comes from the environment and the role may read the key', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      bundle: OpaBundle.fromBucket(bucket, 'bundles/authz.tar.gz', { persist: true, onInitFailure: BundleInitFailure.START_NOT_READY }),
    });

    fn.addLayers(opa);

    expect(layerConfig(stack, opa)).toEqual({
      services: { s3_authz: { url: '${OPA_AUTHZ_BUCKET_URL}', credentials: { s3_signing: { environment_credentials: {} } } } },
      bundles: { authz: { service: 's3_authz', resource: 'bundles/authz.tar.gz', persist: true, on_init_failure: 'start_not_ready' } },
      plugins: { lambda_extension: { port: 8181 } },
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectEquals({
          OPA_URL: 'http://127.0.0.1:8181',
          OPA_AUTHZ_BUCKET_URL: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Policies'), 'RegionalDomainName'] }]] },
        }),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', policyToReadKey('bundles/authz.tar.gz'));
  });

  test('GIVEN OpaBundle.fromUrl with a bearer token reference THEN the token stays a reference and the URL is in the environment', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', { environment: { BUNDLE_TOKEN: 'from-the-user' } });
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      bundle: OpaBundle.fromUrl('https://bundles.example.com', 'v1/bundles/rbac.tar.gz', { bearerToken: '${BUNDLE_TOKEN}' }),
    });

    opa.addToFunction(fn);

    expect(layerConfig(stack, opa)).toMatchObject({
      services: { bundles_rbac: { url: '${OPA_RBAC_BUNDLE_URL}', credentials: { bearer: { token: '${BUNDLE_TOKEN}' } } } },
      bundles: { rbac: { service: 'bundles_rbac', resource: 'v1/bundles/rbac.tar.gz' } },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectEquals({ BUNDLE_TOKEN: 'from-the-user', OPA_URL: 'http://127.0.0.1:8181', OPA_RBAC_BUNDLE_URL: 'https://bundles.example.com' }),
      },
    });
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('GIVEN decision logs to a service and status on the console THEN both are configured and only the log URL is in the environment', () => {
    const stack = newStack();
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      decisionLogs: { url: 'https://logs.example.com', bearerToken: '${LOG_TOKEN}', console: true },
      status: { console: true },
    });

    fn.addLayers(opa);

    expect(layerConfig(stack, opa)).toEqual({
      services: { decision_logs: { url: '${OPA_DECISION_LOGS_URL}', credentials: { bearer: { token: '${LOG_TOKEN}' } } } },
      decision_logs: { console: true, service: 'decision_logs' },
      status: { console: true },
      plugins: { lambda_extension: { port: 8181 } },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8181', OPA_DECISION_LOGS_URL: 'https://logs.example.com' }) },
    });
  });

  test('GIVEN status to a service with a bearer token reference THEN the status service is configured and its URL is in the environment', () => {
    const stack = newStack();
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa', { status: { url: 'https://status.example.com', bearerToken: '${STATUS_TOKEN}' } });

    fn.addLayers(opa);

    expect(layerConfig(stack, opa)).toEqual({
      services: { status: { url: '${OPA_STATUS_URL}', credentials: { bearer: { token: '${STATUS_TOKEN}' } } } },
      status: { service: 'status' },
      plugins: { lambda_extension: { port: 8181 } },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8181', OPA_STATUS_URL: 'https://status.example.com' }) },
    });
  });

  test('GIVEN remote bundles, decision logs and status THEN each function with the layer gets every URL once and the bucket grant, and one without it gets neither', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Policies');
    const viaAddLayers = newFunction(stack, 'ViaAddLayers');
    const viaAddToFunction = newFunction(stack, 'ViaAddToFunction');
    newFunction(stack, 'Other');
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      bundles: [OpaBundle.fromBucket(bucket, 'authz.tar.gz'), OpaBundle.fromUrl('https://bundles.example.com', 'rbac.tar.gz')],
      decisionLogs: { url: 'https://logs.example.com' },
      status: { url: 'https://status.example.com' },
    });

    viaAddLayers.addLayers(opa);
    opa.addToFunction(viaAddToFunction);

    const template = Template.fromStack(stack);
    const withLayer = template.findResources('AWS::Lambda::Function', {
      Properties: {
        Environment: {
          Variables: Match.objectEquals({
            OPA_URL: 'http://127.0.0.1:8181',
            OPA_AUTHZ_BUCKET_URL: Match.anyValue(),
            OPA_RBAC_BUNDLE_URL: 'https://bundles.example.com',
            OPA_DECISION_LOGS_URL: 'https://logs.example.com',
            OPA_STATUS_URL: 'https://status.example.com',
          }),
        },
      },
    });
    expect(Object.keys(withLayer).sort()).toEqual([expect.stringMatching(/^ViaAddLayers/), expect.stringMatching(/^ViaAddToFunction/)]);
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { Layers: Match.absent(), Environment: Match.absent() }, 1);
    template.resourceCountIs('AWS::IAM::Policy', 2);
    template.resourcePropertiesCountIs('AWS::IAM::Policy', policyToReadKey('authz.tar.gz'), 2);
  });

  test('GIVEN the user set a variable the layer would set THEN the user value is kept', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', { environment: { OPA_DECISION_LOGS_URL: 'https://mine.example.com' } });
    const opa = new OpaExtensionLayer(stack, 'Opa', { decisionLogs: { url: 'https://logs.example.com' } });

    fn.addLayers(opa);

    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8181', OPA_DECISION_LOGS_URL: 'https://mine.example.com' }) },
    });
  });

  test.each([
    ['decision logs with neither console nor url', { decisionLogs: {} }, 'Stack/Opa: decisionLogs needs console: true or a url, got neither'],
    ['a status url without a scheme', { status: { url: 'status.example.com' } }, 'Stack/Opa: status.url must start with http:// or https://, got "status.example.com"'],
    ['a bundle URL without a scheme', { bundle: OpaBundle.fromUrl('bundles.example.com', 'b.tar.gz') }, 'Stack: OpaBundle.fromUrl: url must start with http:// or https://, got "bundles.example.com"'],
  ])('GIVEN %s THEN synth fails naming the prop and the value', (_, props, message) => {
    const stack = newStack();
    expect(() => new OpaExtensionLayer(stack, 'Opa', props)).toThrow(message);
  });

  test('GIVEN opaConfig THEN it is deep-merged over the generated config', () => {
    const stack = newStack();
    const opa = new OpaExtensionLayer(stack, 'Opa', {
      bundle: OpaBundle.fromUrl('https://bundles.example.com', 'authz.tar.gz'),
      opaConfig: {
        keys: { release: { algorithm: 'RS256', key: '${BUNDLE_PUBLIC_KEY}' } },
        bundles: { authz: { signing: { keyid: 'release' } } },
        plugins: { lambda_extension: { trigger_timeout: 3 } },
      },
    });

    expect(layerConfig(stack, opa)).toEqual({
      services: { bundles_authz: { url: '${OPA_AUTHZ_BUNDLE_URL}' } },
      bundles: { authz: { service: 'bundles_authz', resource: 'authz.tar.gz', signing: { keyid: 'release' } } },
      keys: { release: { algorithm: 'RS256', key: '${BUNDLE_PUBLIC_KEY}' } },
      plugins: { lambda_extension: { port: 8181, trigger_timeout: 3 } },
    });
  });

  test('GIVEN a deploy-time value in opaConfig THEN synth fails and says how to pass it', () => {
    const stack = newStack();
    const bucket = new s3.Bucket(stack, 'Logs');
    expect(() => new OpaExtensionLayer(stack, 'Opa', { opaConfig: { services: { logs: { url: bucket.bucketWebsiteUrl } } } }))
      .toThrow('Stack/Opa: opaConfig.services.logs.url is a deploy-time value, which the layer\'s config file cannot hold; write "${NAME}" there');
  });
});
