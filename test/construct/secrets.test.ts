/**
 * `bearerTokenSecret`: the layer's config says where the extension reads the token (never the
 * token), the function's environment holds the secret's ARN or the parameter's name, and its
 * role may read that secret and nothing more.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { OpaBundle, OpaExtensionLayer, OpaExtensionLayerProps, OpaSecret } from '../../src';
import { synthesizeLayer } from '../support/layer';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:opa/bundle-token-AbCdEf';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BUNDLE_URL = 'https://bundles.example.com';

interface Synthesized {
  readonly config: { services: Record<string, { credentials?: unknown }> };
  readonly template: Template;
}

/** Synthesizes the layer on a function, as a user's app would, and reads the config written into the layer. */
function synth(props: (stack: Stack) => OpaExtensionLayerProps): Synthesized {
  const layer = synthesizeLayer(props);
  try {
    return {
      config: JSON.parse(fs.readFileSync(path.join(layer.layerDir, 'opa-extension', 'config.json'), 'utf8')),
      template: Template.fromJSON(layer.template),
    };
  } finally {
    layer.dispose();
  }
}

/** The function's role's only policy holds exactly these statements. */
function expectStatements(template: Template, statements: unknown[]): void {
  template.resourceCountIs('AWS::IAM::Policy', 1);
  template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: statements } });
}

/** A secret's ARN in the stack's account and region, as CloudFormation renders it. */
function secretArn(rest: string): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:secret:${rest}`]] };
}

function decryptVia(service: string, key: unknown): Record<string, unknown> {
  return {
    Action: 'kms:Decrypt',
    Effect: 'Allow',
    Resource: key,
    Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', [`${service}.`, { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
  };
}

describe('OpaSecret.fromSecretsManager', () => {
  test('GIVEN fromUrl with a field of a secret of the stack WHEN synthesized THEN the layer says where to read it, the function has its ARN, and its role may read that secret only', () => {
    // GIVEN / WHEN
    const { config, template } = synth((stack) => ({
      bundle: OpaBundle.fromUrl(BUNDLE_URL, 'bundles/authz.tar.gz', {
        bearerTokenSecret: OpaSecret.fromSecretsManager(new secretsmanager.Secret(stack, 'Token'), { jsonField: 'token' }),
      }),
    }));
    // THEN
    expect(config.services).toEqual({
      bundles_authz: {
        url: '${OPA_AUTHZ_BUNDLE_URL}',
        credentials: { bearer: { token_from: { secrets_manager: { secret_id: '${OPA_BUNDLES_AUTHZ_TOKEN_SECRET}', json_field: 'token' } } } },
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8181', OPA_AUTHZ_BUNDLE_URL: BUNDLE_URL, OPA_BUNDLES_AUTHZ_TOKEN_SECRET: { Ref: Match.stringLikeRegexp('^Token') } }) },
    });
    expectStatements(template, [{ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^Token') } }]);
  });

  test('GIVEN a secret encrypted with a customer managed key WHEN synthesized THEN the role may also decrypt with that key, through Secrets Manager only', () => {
    const { template } = synth((stack) => ({
      status: { url: 'https://status.example.com', bearerTokenSecret: OpaSecret.fromSecretsManager(new secretsmanager.Secret(stack, 'Token', { encryptionKey: new kms.Key(stack, 'Key') })) },
    }));
    expectStatements(template, [
      { Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^Token') } },
      decryptVia('secretsmanager', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] }),
    ]);
  });

  test.each<[string, (stack: Stack) => secretsmanager.ISecret, unknown, unknown]>([
    ['imported by its complete ARN', (stack) => secretsmanager.Secret.fromSecretCompleteArn(stack, 'Token', SECRET_ARN), SECRET_ARN, SECRET_ARN],
    // Secrets Manager finds a secret by its partial ARN; IAM needs the wildcard for the random suffix.
    ['imported by name', (stack) => secretsmanager.Secret.fromSecretNameV2(stack, 'Token', 'opa/bundle-token'), secretArn('opa/bundle-token'), secretArn('opa/bundle-token-??????')],
  ])('GIVEN decision logs with a secret %s WHEN synthesized THEN the function gets its ARN and the role reads exactly it', (_name, secret, secretId, resource) => {
    const { config, template } = synth((stack) => ({ decisionLogs: { url: 'https://logs.example.com', bearerTokenSecret: OpaSecret.fromSecretsManager(secret(stack)) } }));
    expect(config.services.decision_logs.credentials).toEqual({ bearer: { token_from: { secrets_manager: { secret_id: '${OPA_DECISION_LOGS_TOKEN_SECRET}' } } } });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ OPA_DECISION_LOGS_TOKEN_SECRET: secretId }) } });
    expectStatements(template, [{ Action: 'secretsmanager:GetSecretValue', Effect: 'Allow', Resource: resource }]);
  });
});

describe('OpaSecret.fromSsmParameter', () => {
  test('GIVEN decision logs with a SecureString parameter WHEN synthesized THEN the layer says where to read it, the function has its name, and its role may get that parameter only', () => {
    const { config, template } = synth((stack) => ({
      decisionLogs: {
        url: 'https://logs.example.com',
        bearerTokenSecret: OpaSecret.fromSsmParameter(ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Token', { parameterName: '/opa/log-token' })),
      },
    }));
    expect(config.services).toEqual({
      decision_logs: { url: '${OPA_DECISION_LOGS_URL}', credentials: { bearer: { token_from: { ssm_parameter: { name: '${OPA_DECISION_LOGS_TOKEN_PARAMETER}' } } } } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectEquals({ OPA_URL: 'http://127.0.0.1:8181', OPA_DECISION_LOGS_URL: 'https://logs.example.com', OPA_DECISION_LOGS_TOKEN_PARAMETER: '/opa/log-token' }) },
    });
    expectStatements(template, [{
      Action: 'ssm:GetParameter',
      Effect: 'Allow',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':parameter/opa/log-token']] },
    }]);
  });

  test('GIVEN a parameter encrypted with a customer managed key WHEN synthesized THEN the role may also decrypt with that key, through SSM only', () => {
    const { template } = synth((stack) => ({
      bundle: OpaBundle.fromUrl(BUNDLE_URL, 'authz.tar.gz', {
        bearerTokenSecret: OpaSecret.fromSsmParameter(
          ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Token', { parameterName: 'opa-token' }),
          { encryptionKey: kms.Key.fromKeyArn(stack, 'Key', KEY_ARN) },
        ),
      }),
    }));
    expectStatements(template, [
      { Action: 'ssm:GetParameter', Effect: 'Allow', Resource: Match.anyValue() },
      decryptVia('ssm', KEY_ARN),
    ]);
  });
});

describe('bearerToken and bearerTokenSecret', () => {
  test.each<[string, (secret: OpaSecret) => OpaExtensionLayerProps, string]>([
    ['fromUrl', (secret) => ({ bundle: OpaBundle.fromUrl(BUNDLE_URL, 'authz.tar.gz', { bearerToken: '${T}', bearerTokenSecret: secret }) }),
      'Stack: OpaBundle.fromUrl: bearerToken and bearerTokenSecret are both set; give one of them (bearerTokenSecret keeps the token out of the layer)'],
    ['decisionLogs', (secret) => ({ decisionLogs: { url: 'https://logs.example.com', bearerToken: '${T}', bearerTokenSecret: secret } }),
      'Stack/Opa: decisionLogs.bearerToken and decisionLogs.bearerTokenSecret are both set; give one of them (bearerTokenSecret keeps the token out of the layer)'],
    ['status', (secret) => ({ status: { url: 'https://status.example.com', bearerToken: '${T}', bearerTokenSecret: secret } }),
      'Stack/Opa: status.bearerToken and status.bearerTokenSecret are both set; give one of them (bearerTokenSecret keeps the token out of the layer)'],
  ])('GIVEN both on %s WHEN the layer is made THEN synth fails naming the construct and both props', (_name, props, message) => {
    const stack = new Stack(new App(), 'Stack');
    const secret = OpaSecret.fromSecretsManager(secretsmanager.Secret.fromSecretCompleteArn(stack, 'Token', SECRET_ARN));
    expect(() => new OpaExtensionLayer(stack, 'Opa', props(secret))).toThrow(message);
  });

  test('GIVEN an empty jsonField WHEN the layer is made THEN synth fails naming it', () => {
    const stack = new Stack(new App(), 'Stack');
    const secret = OpaSecret.fromSecretsManager(secretsmanager.Secret.fromSecretCompleteArn(stack, 'Token', SECRET_ARN), { jsonField: ' ' });
    expect(() => new OpaExtensionLayer(stack, 'Opa', { status: { url: 'https://status.example.com', bearerTokenSecret: secret } }))
      .toThrow('Stack/Opa: OpaSecret.fromSecretsManager: jsonField must be a non-empty field name, got " "');
  });
});
