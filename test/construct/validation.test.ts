import { App, CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OpaBundle, OpaExtensionLayer, OpaExtensionLayerProps } from '../../src';
import { annotation, functionProperties, newFunction } from '../support/construct-helpers';

function newStack(): Stack {
  return new Stack(new App(), 'Stack');
}

const PYTHON_MESSAGE = 'Stack/Fn: runtime python3.11 runs on Amazon Linux 2 (glibc 2.26), where the OPA extension layer Stack/Opa cannot run: '
  + 'its extension needs Node.js 20 or newer, and the Node.js binary it brings for runtimes without one needs glibc 2.28; use python3.12 or newer';
const IMAGE_MESSAGE = 'Stack/Fn: a container image function cannot take the OPA extension layer Stack/Opa: Lambda does not apply layers to images. '
  + 'Add the extension to the image instead: copy the layer\'s contents (the folder CDK stages for it in cdk.out) into /opt of the image, '
  + 'e.g. `COPY opa-layer/ /opt/`, and set OPA_URL=http://127.0.0.1:8181';
const LIMIT_MESSAGE = 'Stack/Fn: layers must number at most 5 (Lambda\'s limit), got 6 with the OPA extension layer Stack/Opa';
const TWO_OPA_MESSAGE = 'Stack/Fn: a function takes one OPA extension layer (each unpacks to /opt/extensions/opa), got Stack/Opa and Stack/Opa2';

function pythonFunction(stack: Stack): lambda.Function {
  return newFunction(stack, 'Fn', { runtime: lambda.Runtime.PYTHON_3_11 });
}

function imageFunction(stack: Stack): lambda.Function {
  return new lambda.DockerImageFunction(stack, 'Fn', {
    code: lambda.DockerImageCode.fromEcr(ecr.Repository.fromRepositoryName(stack, 'Repo', 'app')),
  });
}

function otherLayerArns(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `arn:aws:lambda:us-east-1:123456789012:layer:other${i}:1`);
}

describe('functions the layer cannot serve', () => {
  test.each<[string, (stack: Stack) => lambda.Function, string]>([
    ['a Python 3.11 function', pythonFunction, PYTHON_MESSAGE],
    ['a container image function', imageFunction, IMAGE_MESSAGE],
    ['a function with 5 layers', (stack) => newFunction(stack, 'Fn', {
      layers: otherLayerArns(5).map((arn, i) => lambda.LayerVersion.fromLayerVersionArn(stack, `L${i}`, arn)),
    }), LIMIT_MESSAGE],
  ])('GIVEN %s WHEN opa.addToFunction(fn) THEN it throws naming the function, the limit and the value', (_, make, message) => {
    const stack = newStack();
    const fn = make(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    expect(() => opa.addToFunction(fn)).toThrow(message);
    expect(() => opa.addToFunctions(newFunction(stack, 'Fine'), fn)).toThrow(message);
  });

  test.each<[string, (stack: Stack) => lambda.Function, string]>([
    ['a Python 3.11 function', pythonFunction, PYTHON_MESSAGE],
    ['a container image function', imageFunction, IMAGE_MESSAGE],
  ])('GIVEN %s WHEN fn.addLayers(opa) THEN synth reports the error on the function and configures nothing', (_, make, message) => {
    const stack = newStack();
    const fn = make(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    fn.addLayers(opa);

    const annotations = Annotations.fromStack(stack);
    annotations.hasError('/Stack/Fn', message);
    expect(annotations.findError('*', Match.anyValue())).toHaveLength(1);
    expect(functionProperties(fn).Environment).toBeUndefined();
  });

  test('GIVEN six layers set through the escape hatch, one of them the OPA layer THEN synth reports the error on the function', () => {
    const stack = newStack();
    const fn = newFunction(stack);
    const opa = new OpaExtensionLayer(stack, 'Opa');

    (fn.node.defaultChild as lambda.CfnFunction).layers = [...otherLayerArns(5), opa.layerVersionArn];

    Annotations.fromStack(stack).hasError('/Stack/Fn', LIMIT_MESSAGE);
  });

  test('GIVEN a function with an OPA layer WHEN a second OPA layer is added THEN addToFunction throws and fn.addLayers is a synth error', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', { timeout: Duration.seconds(30) });
    const opa = new OpaExtensionLayer(stack, 'Opa');
    const opa2 = new OpaExtensionLayer(stack, 'Opa2');
    opa.addToFunction(fn);

    expect(() => opa2.addToFunction(fn)).toThrow(TWO_OPA_MESSAGE);
    fn.addLayers(opa2);

    Annotations.fromStack(stack).hasError('/Stack/Fn', TWO_OPA_MESSAGE);
  });
});

describe('triggerTimeout against the function\'s timeout', () => {
  const WARNING = (round: string, fn: string): string => `Stack/Fn: triggerTimeout of the OPA extension layer Stack/Opa (${round}) is not shorter than `
    + `the function's timeout (${fn}): a round of plugin triggers on an INVOKE counts against the function's timeout; `
    + 'make triggerTimeout shorter or the function\'s timeout longer';
  const remote = { bundle: OpaBundle.fromUrl('https://bundles.example.com', 'authz.tar.gz') };

  test.each<[string, OpaExtensionLayerProps, Partial<lambda.FunctionProps>, string]>([
    ['a trigger timeout equal to the function\'s', { ...remote, triggerTimeout: Duration.seconds(10) }, { timeout: Duration.seconds(10) }, WARNING('10 seconds', '10 seconds')],
    ['the default trigger timeout and Lambda\'s default timeout', remote, {}, WARNING('7 seconds', '3 seconds, Lambda\'s default')],
    ['decision logs on the console only', { decisionLogs: { console: true } }, { timeout: Duration.seconds(5) }, WARNING('7 seconds', '5 seconds')],
    ['a trigger_timeout set in opaConfig', { ...remote, opaConfig: { plugins: { lambda_extension: { trigger_timeout: 60 } } } }, { timeout: Duration.seconds(30) }, WARNING('1 minute', '30 seconds')],
  ])('GIVEN %s THEN synth warns on the function with both values', (_, props, fnProps, message) => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', fnProps);

    fn.addLayers(new OpaExtensionLayer(stack, 'Opa', props));

    Annotations.fromStack(stack).hasWarning('/Stack/Fn', annotation(message));
  });

  test.each<[string, OpaExtensionLayerProps, Partial<lambda.FunctionProps>]>([
    ['a shorter trigger timeout', { ...remote, triggerTimeout: Duration.seconds(5) }, { timeout: Duration.seconds(6) }],
    ['only embedded bundles, so no plugin runs', {}, {}],
    ['a function timeout that is a deploy-time value', remote, { timeout: Duration.seconds(Token.asNumber({ Ref: 'Timeout' })) }],
  ])('GIVEN %s THEN there is no warning', (_, props, fnProps) => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', fnProps);

    new OpaExtensionLayer(stack, 'Opa', props).addToFunction(fn);

    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('props out of range', () => {
  test.each<[string, OpaExtensionLayerProps, string]>([
    ['minimumTriggerThreshold 0.5 s', { minimumTriggerThreshold: Duration.millis(500) }, 'Stack/Opa: minimumTriggerThreshold must be a whole number of seconds from 0 to 86400, got 500 millis'],
    ['minimumTriggerThreshold 2 days', { minimumTriggerThreshold: Duration.days(2) }, 'Stack/Opa: minimumTriggerThreshold must be a whole number of seconds from 0 to 86400, got 2 days'],
    ['triggerTimeout 0 s', { triggerTimeout: Duration.seconds(0) }, 'Stack/Opa: triggerTimeout must be a whole number of seconds from 1 to 900, got 0 seconds'],
    ['a plugin twice in pluginStartPriority', { pluginStartPriority: ['bundle', 'status', 'bundle'] },
      'Stack/Opa: pluginStartPriority must name each plugin once, got "bundle" twice in ["bundle","status","bundle"]'],
    ['a plugin twice in pluginStopPriority', { pluginStopPriority: ['status', 'status'] },
      'Stack/Opa: pluginStopPriority must name each plugin once, got "status" twice in ["status","status"]'],
  ])('GIVEN %s THEN synth fails naming the prop, the limit and the value', (_, props, message) => {
    expect(() => new OpaExtensionLayer(newStack(), 'Opa', props)).toThrow(message);
  });

  test('GIVEN the edges of each range THEN the layer is built', () => {
    const stack = newStack();
    expect(() => new OpaExtensionLayer(stack, 'Low', { minimumTriggerThreshold: Duration.seconds(0), triggerTimeout: Duration.seconds(1), port: 1 })).not.toThrow();
    expect(() => new OpaExtensionLayer(stack, 'High', { minimumTriggerThreshold: Duration.days(1), triggerTimeout: Duration.minutes(15), port: 65535 })).not.toThrow();
  });

  test('GIVEN deploy-time values THEN they are not checked', () => {
    const stack = newStack();
    const seconds = new CfnParameter(stack, 'Seconds', { type: 'Number' }).valueAsNumber;
    const plugin = new CfnParameter(stack, 'Plugin').valueAsString;

    expect(() => new OpaExtensionLayer(stack, 'Opa', {
      port: new CfnParameter(stack, 'Port', { type: 'Number' }).valueAsNumber,
      minimumTriggerThreshold: Duration.seconds(seconds),
      triggerTimeout: Duration.seconds(seconds),
      pluginStartPriority: [plugin, plugin],
      pluginStopPriority: new CfnParameter(stack, 'Stop', { type: 'CommaDelimitedList' }).valueAsList,
    })).not.toThrow();
  });
});
