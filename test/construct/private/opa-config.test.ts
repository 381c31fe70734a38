import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { ConfigBinding } from '../../../src/private/config-binding';
import { buildOpaConfig, OpaConfigInput } from '../../../src/private/opa-config';

function build(input: Partial<OpaConfigInput> = {}): Record<string, unknown> {
  return buildOpaConfig({ where: 'Stack/Opa', port: 8181, bindings: [], ...input });
}

const bucketBundle: ConfigBinding = {
  services: { s3_authz: { url: '${OPA_AUTHZ_BUCKET_URL}' } },
  pluginConfig: { bundles: { authz: { service: 's3_authz', resource: 'authz.tar.gz' } } },
};
const urlBundle: ConfigBinding = {
  services: { bundles_rbac: { url: '${OPA_RBAC_BUNDLE_URL}' } },
  pluginConfig: { bundles: { rbac: { service: 'bundles_rbac', resource: 'rbac.tar.gz' } } },
};
const decisionLogs: ConfigBinding = {
  services: { decision_logs: { url: '${OPA_DECISION_LOGS_URL}' } },
  pluginConfig: { decision_logs: { service: 'decision_logs' } },
};
const statusOnConsole: ConfigBinding = { pluginConfig: { status: { console: true } } };

describe('buildOpaConfig', () => {
  test('GIVEN only the port THEN the config holds only the scheduler\'s port', () => {
    expect(build()).toEqual({ plugins: { lambda_extension: { port: 8181 } } });
  });

  test('GIVEN the scheduler props THEN they are written in seconds under plugins.lambda_extension', () => {
    const config = build({
      minimumTriggerThreshold: Duration.minutes(1),
      triggerTimeout: Duration.seconds(3),
      pluginStartPriority: ['bundle'],
      pluginStopPriority: ['status'],
    });

    expect(config.plugins).toEqual({
      lambda_extension: { port: 8181, minimum_trigger_threshold: 60, trigger_timeout: 3, plugin_start_priority: ['bundle'], plugin_stop_priority: ['status'] },
    });
  });

  test('GIVEN bindings THEN their services and plugin sections are gathered, with keys in a stable order', () => {
    const config = build({ labels: { team: 'p' }, defaultDecision: '/app/main', bindings: [bucketBundle, urlBundle, decisionLogs, statusOnConsole] });

    expect(config).toEqual({
      labels: { team: 'p' },
      default_decision: '/app/main',
      services: {
        s3_authz: { url: '${OPA_AUTHZ_BUCKET_URL}' },
        bundles_rbac: { url: '${OPA_RBAC_BUNDLE_URL}' },
        decision_logs: { url: '${OPA_DECISION_LOGS_URL}' },
      },
      bundles: {
        authz: { service: 's3_authz', resource: 'authz.tar.gz' },
        rbac: { service: 'bundles_rbac', resource: 'rbac.tar.gz' },
      },
      decision_logs: { service: 'decision_logs' },
      status: { console: true },
      plugins: { lambda_extension: { port: 8181 } },
    });
    // The file's bytes make the layer's asset hash: the same props must write the same file.
    expect(Object.keys(config)).toEqual(['labels', 'default_decision', 'services', 'bundles', 'decision_logs', 'status', 'plugins']);
  });

  test('GIVEN opaConfig THEN objects merge key by key and anything else replaces what was generated', () => {
    const config = build({
      pluginStartPriority: ['bundle', 'status'],
      bindings: [bucketBundle],
      opaConfig: {
        bundles: { authz: { resource: 'v2/authz.tar.gz', signing: { keyid: 'release' } } },
        plugins: { lambda_extension: { plugin_start_priority: ['status'] } },
        keys: { release: { algorithm: 'RS256', key: '${KEY}' } },
      },
    });

    expect(config).toEqual({
      services: { s3_authz: { url: '${OPA_AUTHZ_BUCKET_URL}' } },
      bundles: { authz: { service: 's3_authz', resource: 'v2/authz.tar.gz', signing: { keyid: 'release' } } },
      plugins: { lambda_extension: { port: 8181, plugin_start_priority: ['status'] } },
      keys: { release: { algorithm: 'RS256', key: '${KEY}' } },
    });
  });

  test('GIVEN opaConfig THEN the bindings it was merged over are left as they were', () => {
    build({ bindings: [bucketBundle], opaConfig: { bundles: { authz: { persist: true } } } });

    expect(bucketBundle.pluginConfig).toEqual({ bundles: { authz: { service: 's3_authz', resource: 'authz.tar.gz' } } });
  });

  test('GIVEN a deploy-time value deep in opaConfig THEN the error gives its path and says how to pass it', () => {
    const stack = new Stack(new App(), 'Stack');
    const token = new CfnParameter(stack, 'Url').valueAsString;

    expect(() => build({ opaConfig: { services: { logs: { headers: ['x', { url: token }] } } } }))
      .toThrow('Stack/Opa: opaConfig.services.logs.headers[1].url is a deploy-time value, which the layer\'s config file cannot hold; '
        + 'write "${NAME}" there and set NAME in the function\'s environment');
  });
});
