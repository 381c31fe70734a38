import { App, Aspects, Duration, IAspect, Stack, Stage } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import { OpaBundle, OpaExtensionAspect, OpaExtensionLayer } from '../../src';
import { annotation, functionProperties, newFunction, roleStatements } from '../support/construct-helpers';

function layerRef(opa: OpaExtensionLayer): unknown {
  return { Ref: Stack.of(opa).getLogicalId(opa.node.defaultChild as lambda.CfnLayerVersion) };
}

function otherLayers(scope: IConstruct, count: number): lambda.ILayerVersion[] {
  return Array.from({ length: count }, (_, i) => lambda.LayerVersion.fromLayerVersionArn(scope, `Other${i}`, `arn:aws:lambda:us-east-1:123456789012:layer:other${i}:1`));
}

function sortedJson(values: unknown[]): string[] {
  return values.map((v) => JSON.stringify(v)).sort();
}

/** An aspect that adds a layer to one function when it visits it. */
class AddLayerAspect implements IAspect {
  public constructor(private readonly fn: lambda.Function, private readonly layer: lambda.ILayerVersion) {}
  public visit(node: IConstruct): void {
    if (node === this.fn) this.fn.addLayers(this.layer);
  }
}

describe('fn.addLayers across stacks and stages', () => {
  test('GIVEN the layer and its S3 bundle in stack A and a function in stack B WHEN fn.addLayers(opa) THEN the function gets the layer, the environment and the grant through exports', () => {
    const app = new App();
    const shared = new Stack(app, 'Shared');
    const bucket = new s3.Bucket(shared, 'Policies');
    const opa = new OpaExtensionLayer(shared, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'bundles/authz.tar.gz') });
    const service = new Stack(app, 'Service');
    const fn = newFunction(service);

    fn.addLayers(opa);

    const props = functionProperties(fn);
    expect(props.Layers).toEqual([{ 'Fn::ImportValue': expect.stringMatching(/^Shared:ExportsOutputRefOpa/) }]);
    expect(props.Environment.Variables).toEqual({
      OPA_URL: 'http://127.0.0.1:8181',
      OPA_AUTHZ_BUCKET_URL: { 'Fn::Join': ['', ['https://', { 'Fn::ImportValue': expect.stringMatching(/^Shared:ExportsOutputFnGetAttPolicies.*RegionalDomainName/) }]] },
    });
    expect(roleStatements(fn)).toEqual([{
      Action: 's3:GetObject',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', [{ 'Fn::ImportValue': expect.stringMatching(/^Shared:ExportsOutputFnGetAttPolicies.*Arn/) }, '/bundles/authz.tar.gz']] },
    }]);
    expect(service.dependencies).toEqual([shared]);
    // The layer's own stack has no function, and grants nothing.
    Template.fromStack(shared).resourceCountIs('AWS::IAM::Policy', 0);
  });

  test('GIVEN the layer and a function in two stacks of a Stage WHEN fn.addLayers(opa) THEN the function is configured', () => {
    const app = new App();
    const stage = new Stage(app, 'Prod');
    const opa = new OpaExtensionLayer(new Stack(stage, 'Shared'), 'Opa', { port: 8282 });
    const fn = newFunction(new Stack(stage, 'Service'));

    fn.addLayers(opa);

    expect(functionProperties(fn).Environment).toEqual({ Variables: { OPA_URL: 'http://127.0.0.1:8282' } });
  });

  test('GIVEN two layers with one id in two stacks WHEN a function in each stack takes its own THEN neither is mistaken for the other', () => {
    const app = new App();
    const a = new Stack(app, 'A');
    const b = new Stack(app, 'B');
    const opaA = new OpaExtensionLayer(a, 'Opa', { port: 8181 });
    const opaB = new OpaExtensionLayer(b, 'Opa', { port: 8282 });
    const fnA = newFunction(a);
    const fnB = newFunction(b);

    fnA.addLayers(opaA);
    fnB.addLayers(opaB);

    expect(functionProperties(fnA).Environment).toEqual({ Variables: { OPA_URL: 'http://127.0.0.1:8181' } });
    expect(functionProperties(fnB).Environment).toEqual({ Variables: { OPA_URL: 'http://127.0.0.1:8282' } });
    Annotations.fromStack(a).hasNoError('*', Match.anyValue());
    Annotations.fromStack(b).hasNoError('*', Match.anyValue());
  });
});

describe('addToFunction and addToFunctions', () => {
  test('GIVEN two functions WHEN opa.addToFunctions(a, b) THEN both have the layer and OPA_URL', () => {
    const stack = new Stack(new App(), 'Stack');
    const a = newFunction(stack, 'A');
    const b = newFunction(stack, 'B');
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToFunctions(a, b);

    for (const fn of [a, b]) {
      expect(functionProperties(fn)).toMatchObject({ Layers: [layerRef(opa)], Environment: { Variables: { OPA_URL: 'http://127.0.0.1:8181' } } });
    }
  });

  test('GIVEN a function with another layer WHEN opa.addToFunction(fn) THEN the template has both layers', () => {
    const stack = new Stack(new App(), 'Stack');
    const fn = newFunction(stack);
    const [other] = otherLayers(stack, 1);
    fn.addLayers(other);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToFunction(fn);

    // With @aws-cdk/aws-lambda:recognizeLayerVersion, Function sorts its layers: order is not ours.
    expect(sortedJson(functionProperties(fn).Layers)).toEqual(sortedJson([other.layerVersionArn, layerRef(opa)]));
  });

  test('GIVEN a function with a layer that an OPA layer does not use WHEN another aspect adds a layer after the OPA layer\'s aspect saw the function THEN that layer is in the template', () => {
    const stack = new Stack(new App(), 'Stack');
    const fn = newFunction(stack);
    const [first, second] = otherLayers(stack, 2);
    fn.addLayers(first);
    new OpaExtensionLayer(stack, 'Opa');
    // Aspects of the function run after those inherited from the app, where the layer's aspect is.
    Aspects.of(fn).add(new AddLayerAspect(fn, second));

    expect(sortedJson(functionProperties(fn).Layers)).toEqual(sortedJson([first.layerVersionArn, second.layerVersionArn]));
  });
});

describe('attaching twice', () => {
  const bucketGrant = (): unknown[] => [{ Action: 's3:GetObject', Effect: 'Allow', Resource: expect.anything() }];

  test.each<[string, (opa: OpaExtensionLayer, fn: lambda.Function) => void]>([
    ['addToFunction twice', (opa, fn) => { opa.addToFunction(fn); opa.addToFunction(fn); }],
    ['fn.addLayers then addToFunction', (opa, fn) => { fn.addLayers(opa); opa.addToFunction(fn); }],
    ['addToFunction then the aspect of fn.addLayers', (opa, fn) => { opa.addToFunction(fn); }],
    ['addToFunction then fn.addLayers', (opa, fn) => { opa.addToFunction(fn); fn.addLayers(opa); }],
    ['fn.addLayers twice', (opa, fn) => { fn.addLayers(opa); fn.addLayers(opa); }],
    ['addToAllFunctions and addToFunction', (opa, fn) => { opa.addToAllFunctions(Stack.of(fn)); opa.addToFunction(fn); }],
    ['addToAllFunctions and fn.addLayers', (opa, fn) => { fn.addLayers(opa); opa.addToAllFunctions(Stack.of(fn)); }],
    ['addToAllFunctions on the app and on the stack', (opa, fn) => { opa.addToAllFunctions(fn.node.root); opa.addToAllFunctions(Stack.of(fn)); }],
  ])('GIVEN %s THEN the function has the layer once, each variable once and the grant once', (_, attach) => {
    const stack = new Stack(new App(), 'Stack');
    const bucket = new s3.Bucket(stack, 'Policies');
    // Longer than the trigger round, so that the function has no warning.
    const fn = newFunction(stack, 'Fn', { timeout: Duration.seconds(30) });
    const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromBucket(bucket, 'authz.tar.gz') });

    attach(opa, fn);

    const props = functionProperties(fn);
    expect(props.Layers).toEqual([layerRef(opa)]);
    expect(Object.keys(props.Environment.Variables).sort()).toEqual(['OPA_AUTHZ_BUCKET_URL', 'OPA_URL']);
    expect(roleStatements(fn)).toEqual(bucketGrant());
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('the environment: a value the user sets is never overridden', () => {
  /** Every variable the layer below sets, with the user's own value for it. */
  const USER_VALUES = {
    OPA_URL: 'http://127.0.0.1:9999',
    OPA_AUTHZ_BUCKET_URL: 'https://mine.s3.example.com',
    OPA_RBAC_BUNDLE_URL: 'https://mine.example.com',
    OPA_DECISION_LOGS_URL: 'https://mine-logs.example.com',
    OPA_STATUS_URL: 'https://mine-status.example.com',
  };

  function layerSettingEveryVariable(stack: Stack): OpaExtensionLayer {
    return new OpaExtensionLayer(stack, 'Opa', {
      bundles: [OpaBundle.fromBucket(new s3.Bucket(stack, 'Policies'), 'authz.tar.gz'), OpaBundle.fromUrl('https://bundles.example.com', 'rbac.tar.gz')],
      decisionLogs: { url: 'https://logs.example.com' },
      status: { url: 'https://status.example.com' },
    });
  }

  test.each<[string, (opa: OpaExtensionLayer, fn: lambda.Function) => void]>([
    ['fn.addLayers', (opa, fn) => fn.addLayers(opa)],
    ['addToFunction', (opa, fn) => opa.addToFunction(fn)],
    ['addToAllFunctions', (opa, fn) => opa.addToAllFunctions(fn)],
  ])('GIVEN the user set every variable in the function props WHEN %s THEN every user value is kept', (_, attach) => {
    const stack = new Stack(new App(), 'Stack');
    const fn = newFunction(stack, 'Fn', { environment: { ...USER_VALUES, APP_MODE: 'prod' } });

    attach(layerSettingEveryVariable(stack), fn);

    expect(functionProperties(fn).Environment.Variables).toEqual({ ...USER_VALUES, APP_MODE: 'prod' });
  });

  test.each<[string, (opa: OpaExtensionLayer, fn: lambda.Function) => void]>([
    ['fn.addLayers', (opa, fn) => fn.addLayers(opa)],
    ['addToFunction', (opa, fn) => opa.addToFunction(fn)],
  ])('GIVEN %s WHEN the user sets every variable with addEnvironment afterwards THEN every user value wins', (_, attach) => {
    const stack = new Stack(new App(), 'Stack');
    const fn = newFunction(stack);

    attach(layerSettingEveryVariable(stack), fn);
    for (const [name, value] of Object.entries(USER_VALUES)) fn.addEnvironment(name, value);

    expect(functionProperties(fn).Environment.Variables).toEqual(USER_VALUES);
  });
});

describe('every function in a scope', () => {
  test('GIVEN functions the layer can and cannot serve WHEN opa.addToAllFunctions(stack) THEN the Node.js ones get it and each other one is skipped with a warning naming it and why', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const node20 = newFunction(stack, 'Node20');
    const node22 = newFunction(stack, 'Node22', { runtime: lambda.Runtime.NODEJS_22_X });
    const python = newFunction(stack, 'Py', { runtime: lambda.Runtime.PYTHON_3_11 });
    const image = new lambda.DockerImageFunction(stack, 'Image', {
      code: lambda.DockerImageCode.fromEcr(ecr.Repository.fromRepositoryName(stack, 'Repo', 'app')),
    });
    const full = newFunction(stack, 'Full', { layers: otherLayers(stack, 5) });
    const elsewhere = newFunction(new Stack(app, 'Elsewhere'), 'Fn');
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToAllFunctions(stack);

    for (const fn of [node20, node22]) expect(functionProperties(fn).Layers).toEqual([layerRef(opa)]);
    expect(functionProperties(python).Layers).toBeUndefined();
    expect(functionProperties(image).Layers).toBeUndefined();
    expect(functionProperties(full).Layers).toHaveLength(5);
    expect(functionProperties(elsewhere).Layers).toBeUndefined();
    expect(functionProperties(python).Environment).toBeUndefined();
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/Stack/Py', annotation('Stack/Py: OpaExtensionAspect skipped this function: runtime python3.11 runs on Amazon Linux 2 (glibc 2.26), '
      + 'where the OPA extension layer Stack/Opa cannot run: its extension needs Node.js 20 or newer, and the Node.js binary it brings for runtimes '
      + 'without one needs glibc 2.28; use python3.12 or newer'));
    annotations.hasWarning('/Stack/Image', Match.stringLikeRegexp('^Stack/Image: OpaExtensionAspect skipped this function: a container image function cannot take the OPA extension layer Stack/Opa'));
    annotations.hasWarning('/Stack/Full', annotation('Stack/Full: OpaExtensionAspect skipped this function: layers must number at most 5 (Lambda\'s limit), got 6 with the OPA extension layer Stack/Opa'));
    expect(annotations.findWarning('*', Match.anyValue())).toHaveLength(3);
    annotations.hasNoError('*', Match.anyValue());
  });

  test('GIVEN Aspects.of(app).add(new OpaExtensionAspect(opa)) THEN functions in every stack get the layer', () => {
    const app = new App();
    const shared = new Stack(app, 'Shared');
    const opa = new OpaExtensionLayer(shared, 'Opa');
    const a = newFunction(new Stack(app, 'A'));
    const b = newFunction(new Stack(app, 'B'));

    Aspects.of(app).add(new OpaExtensionAspect(opa));

    for (const fn of [a, b]) {
      expect(functionProperties(fn)).toMatchObject({
        Layers: [{ 'Fn::ImportValue': expect.stringMatching(/^Shared:ExportsOutputRefOpa/) }],
        Environment: { Variables: { OPA_URL: 'http://127.0.0.1:8181' } },
      });
    }
  });

  test('GIVEN a function that took a newer Node.js runtime WHEN the aspect visits it THEN it gets the layer', () => {
    const stack = new Stack(new App(), 'Stack');
    const fn = newFunction(stack, 'Fn', { runtime: new lambda.Runtime('nodejs24.x', lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true }) });
    const opa = new OpaExtensionLayer(stack, 'Opa');

    opa.addToAllFunctions(stack);

    expect(functionProperties(fn).Layers).toEqual([layerRef(opa)]);
  });
});
