import * as path from 'node:path';
import { ExtensionEnvironment } from '../../../runtime/src/config/env';
import { ConfigError } from '../../../runtime/src/errors';
import { ENV, LAYER_LAYOUT } from '../../../src/layer-contract';

describe('ExtensionEnvironment', () => {
  describe('the configuration file and the embedded bundles', () => {
    test('GIVEN no OPA_CONFIG_FILE WHEN asked THEN the config file sits beside the runtime, and the bundles folder beside it', () => {
      const env = new ExtensionEnvironment({});
      const runtimeDir = path.resolve(__dirname, '../../../runtime/src/config');
      expect(env.configFile()).toBe(path.join(runtimeDir, LAYER_LAYOUT.CONFIG_FILE));
      expect(env.embeddedBundlesDir()).toBe(path.join(runtimeDir, LAYER_LAYOUT.BUNDLES_DIR));
    });

    test('GIVEN OPA_CONFIG_FILE WHEN asked THEN it is used, and embedded bundles are looked for beside it', () => {
      const env = new ExtensionEnvironment({ [ENV.CONFIG_FILE]: '/mnt/efs/opa/config.yaml' });
      expect(env.configFile()).toBe('/mnt/efs/opa/config.yaml');
      expect(env.embeddedBundlesDir()).toBe('/mnt/efs/opa/bundles');
    });
  });

  describe('OPA_LOG_LEVEL', () => {
    test.each([
      [undefined, 'info'],
      ['', 'info'],
      ['debug', 'debug'],
      ['WARN', 'warn'],
      ['Error', 'error'],
    ])('GIVEN %j WHEN read THEN the level is %s', (value, level) => {
      expect(new ExtensionEnvironment({ [ENV.LOG_LEVEL]: value }).logLevel()).toBe(level);
    });

    test('GIVEN a level that does not exist WHEN read THEN a ConfigError lists the levels', () => {
      const read = () => new ExtensionEnvironment({ [ENV.LOG_LEVEL]: 'verbose' }).logLevel();
      expect(read).toThrow(ConfigError);
      expect(read).toThrow('OPA_LOG_LEVEL must be one of debug, info, warn, error, got "verbose"');
    });
  });

  test('GIVEN the launcher set OPA_EXTENSION_NAME WHEN asked THEN it is the name to register; without it, the launcher\'s default', () => {
    expect(new ExtensionEnvironment({ [ENV.EXTENSION_NAME]: 'opa-authz' }).extensionName()).toBe('opa-authz');
    expect(new ExtensionEnvironment({}).extensionName()).toBe(LAYER_LAYOUT.LAUNCHER_NAME);
  });

  test('GIVEN no AWS_LAMBDA_RUNTIME_API WHEN asked THEN a ConfigError says the extension must run in Lambda', () => {
    expect(() => new ExtensionEnvironment({}).runtimeApi()).toThrow('AWS_LAMBDA_RUNTIME_API is not set');
    expect(new ExtensionEnvironment({ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }).runtimeApi()).toBe('127.0.0.1:9001');
  });

  describe('AWS credentials', () => {
    const keys = { AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret' };

    test.each([
      ['AWS_REGION and a session token', { ...keys, AWS_SESSION_TOKEN: 'token', AWS_REGION: 'eu-west-1', AWS_DEFAULT_REGION: 'us-east-1' },
        { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token', region: 'eu-west-1' }],
      ['only AWS_DEFAULT_REGION and no session token', { ...keys, AWS_DEFAULT_REGION: 'us-east-1', AWS_SESSION_TOKEN: '' },
        { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: undefined, region: 'us-east-1' }],
    ])('GIVEN %s WHEN read THEN they are the function\'s credentials', (_what, vars, expected) => {
      expect(new ExtensionEnvironment(vars).awsCredentials()).toEqual(expected);
    });

    test.each([
      ['no secret key', { AWS_ACCESS_KEY_ID: 'AKID', AWS_REGION: 'eu-west-1' }, 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set'],
      ['no region', keys, 'AWS_REGION is not set'],
    ])('GIVEN %s WHEN read THEN a ConfigError names what is missing', (_what, vars, message) => {
      expect(() => new ExtensionEnvironment(vars).awsCredentials()).toThrow(message);
    });

    test('GIVEN credentials that change WHEN read again THEN the new ones are returned (Lambda may refresh them)', () => {
      const vars: Record<string, string> = { ...keys, AWS_REGION: 'eu-west-1' };
      const env = new ExtensionEnvironment(vars);
      expect(env.awsCredentials().accessKeyId).toBe('AKID');
      vars.AWS_ACCESS_KEY_ID = 'AKID2';
      expect(env.awsCredentials().accessKeyId).toBe('AKID2');
    });
  });

  test('GIVEN variables WHEN a ${NAME} is looked up THEN its value, or undefined when unset', () => {
    const env = new ExtensionEnvironment({ TOKEN: 'x' });
    expect([env.variable('TOKEN'), env.variable('OTHER')]).toEqual(['x', undefined]);
  });
});
