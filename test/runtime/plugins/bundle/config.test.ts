import { ConfigError } from '../../../../runtime/src/errors';
import {
  DEFAULT_PERSISTENCE_DIRECTORY,
  DEFAULT_SIZE_LIMIT_BYTES,
  parseBundlePluginConfig,
} from '../../../../runtime/src/plugins/bundle/config';
import { parseKeys } from '../../../../runtime/src/plugins/bundle/keys';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { BundleInitFailure } from '../../../../src/layer-contract';

function parse(opaConfig: Record<string, unknown>) {
  const services = parseServices(opaConfig.services ?? { acme: { url: 'https://bundles.example.com' }, s3: { url: 'https://b.s3.amazonaws.com' } });
  return parseBundlePluginConfig(opaConfig, services, parseKeys(opaConfig.keys));
}

describe('parseBundlePluginConfig', () => {
  test('GIVEN no bundles WHEN parsed THEN the plugin is not configured', () => {
    expect(parse({})).toBeUndefined();
    expect(parse({ bundles: {} })).toBeUndefined();
    expect(parse({ bundles: { authz: null } })).toBeUndefined();
  });

  test('GIVEN a bundle with no options WHEN parsed THEN OPA\'s defaults apply: first service, bundles/<name>, 1 GiB, fail_init', () => {
    expect(parse({ bundles: { authz: {} } })).toEqual({
      persistenceDirectory: `${DEFAULT_PERSISTENCE_DIRECTORY}/bundles`,
      bundles: [{
        name: 'authz',
        service: 'acme',
        resource: 'bundles/authz',
        persist: false,
        signing: undefined,
        sizeLimitBytes: DEFAULT_SIZE_LIMIT_BYTES,
        onInitFailure: BundleInitFailure.FAIL_INIT,
      }],
    });
  });

  test('GIVEN every option WHEN parsed THEN each is kept, and polling/trigger are accepted and ignored', () => {
    // WHEN
    const config = parse({
      persistence_directory: '/mnt/efs/opa',
      keys: { k1: { algorithm: 'HS256', key: 'secret' } },
      bundles: {
        authz: {
          service: 's3',
          resource: 'policies/authz.tar.gz',
          persist: true,
          size_limit_bytes: 1000,
          signing: { keyid: 'k1', scope: 'write', exclude_files: ['*.md'] },
          on_init_failure: 'start_not_ready',
          polling: { min_delay_seconds: 10, max_delay_seconds: 20 },
          trigger: 'periodic',
        },
        other: { size_limit_bytes: 0 },
      },
    })!;
    // THEN
    expect(config.persistenceDirectory).toBe('/mnt/efs/opa/bundles');
    expect(config.bundles[0]).toEqual({
      name: 'authz',
      service: 's3',
      resource: 'policies/authz.tar.gz',
      persist: true,
      sizeLimitBytes: 1000,
      signing: { keyId: 'k1', scope: 'write', excludeFiles: ['*.md'], required: true },
      onInitFailure: BundleInitFailure.START_NOT_READY,
    });
    // As in OPA: keys alone make signed bundles verified (unsigned ones still pass); 0 means the default limit.
    expect(config.bundles[1]).toMatchObject({ name: 'other', signing: { excludeFiles: [], required: false }, sizeLimitBytes: DEFAULT_SIZE_LIMIT_BYTES });
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['the deprecated single bundle', { bundle: { name: 'x' } }, 'bundle (the single-bundle form OPA deprecated) is not supported; use bundles.<name>'],
    ['bundles that are not an object', { bundles: [] }, 'bundles must be an object of named bundles, got []'],
    ['a bundle that is not an object', { bundles: { authz: 'x' } }, 'bundles.authz must be an object, got "x"'],
    ['a relative persistence_directory', { persistence_directory: 'opa', bundles: { authz: {} } }, 'persistence_directory must be an absolute path, got "opa"'],
    ['no services at all', { services: {}, bundles: { authz: {} } }, 'bundles.authz.service is not set and no services are configured'],
    ['a service that is not a string', { bundles: { authz: { service: 1 } } }, 'bundles.authz.service must be a string, got 1'],
    ['an unknown service', { bundles: { authz: { service: 'nope' } } }, 'bundles.authz.service "nope" is not one of the configured services (acme, s3)'],
    ['a resource that is not a string', { bundles: { authz: { resource: 1 } } }, 'bundles.authz.resource must be a string, got 1'],
    ['a file:// resource', { bundles: { authz: { resource: 'file:///b.tar.gz' } } }, 'bundles.authz.resource "file:///b.tar.gz": file:// resources are not supported; embed the bundle in the layer instead'],
    ['persist that is not a boolean', { bundles: { authz: { persist: 'yes' } } }, 'bundles.authz.persist must be true or false, got "yes"'],
    ['signing that is not an object', { bundles: { authz: { signing: 'k' } } }, 'bundles.authz.signing must be an object, got "k"'],
    ['a keyid that is not a string', { bundles: { authz: { signing: { keyid: 1 } } } }, 'bundles.authz.signing.keyid must be a string, got 1'],
    ['a scope that is not a string', { bundles: { authz: { signing: { scope: 1 } } } }, 'bundles.authz.signing.scope must be a string, got 1'],
    ['an unknown keyid', { keys: { k1: { key: 'x' } }, bundles: { authz: { signing: { keyid: 'k2' } } } }, 'bundles.authz.signing.keyid "k2" is not one of the configured keys (k1)'],
    ['exclude_files that are not a list of strings', { bundles: { authz: { signing: { exclude_files: [1] } } } }, 'bundles.authz.signing.exclude_files must be a list of file patterns, got [1]'],
    ['a size limit that is not whole', { bundles: { authz: { size_limit_bytes: 1.5 } } }, 'bundles.authz.size_limit_bytes must be a whole number of bytes, got 1.5'],
    ['an unknown on_init_failure', { bundles: { authz: { on_init_failure: 'ignore' } } }, 'bundles.authz.on_init_failure must be one of fail_init, start_not_ready, got "ignore"'],
  ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, opaConfig, message) => {
    let error: unknown;
    try {
      parse(opaConfig);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(message);
  });
});
