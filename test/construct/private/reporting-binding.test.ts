import { App, CfnParameter, Stack } from 'aws-cdk-lib';
import { bindReporting } from '../../../src/private/reporting-binding';

describe('bindReporting', () => {
  test('GIVEN neither decisionLogs nor status THEN there is nothing to bind', () => {
    expect(bindReporting('Stack/Opa', {})).toEqual([]);
  });

  test('GIVEN console only THEN the plugin prints and needs no service nor variable', () => {
    expect(bindReporting('Stack/Opa', { status: { console: true, bearerToken: '${UNUSED}' } })).toEqual([
      { pluginConfig: { status: { console: true } } },
    ]);
  });

  test('GIVEN both with a url THEN each uploads to a service named after its plugin, decision logs first', () => {
    const bindings = bindReporting('Stack/Opa', {
      status: { url: 'http://status.example.com', console: false },
      decisionLogs: { url: 'https://logs.example.com', console: true, bearerToken: '${LOG_TOKEN}' },
    });

    expect(bindings).toEqual([
      {
        services: { decision_logs: { url: '${OPA_DECISION_LOGS_URL}', credentials: { bearer: { token: '${LOG_TOKEN}' } } } },
        environment: { OPA_DECISION_LOGS_URL: 'https://logs.example.com' },
        pluginConfig: { decision_logs: { console: true, service: 'decision_logs' } },
      },
      {
        services: { status: { url: '${OPA_STATUS_URL}' } },
        environment: { OPA_STATUS_URL: 'http://status.example.com' },
        pluginConfig: { status: { service: 'status' } },
      },
    ]);
    expect(bindings.map((b) => b.grant)).toEqual([undefined, undefined]);
  });

  test('GIVEN a deploy-time url THEN it is not checked and reaches the function through the environment', () => {
    const url = new CfnParameter(new Stack(new App(), 'Stack'), 'LogUrl').valueAsString;

    expect(bindReporting('Stack/Opa', { decisionLogs: { url } })[0].environment).toEqual({ OPA_DECISION_LOGS_URL: url });
  });

  test.each([
    ['decision logs with neither console nor url', { decisionLogs: {} }, 'Stack/Opa: decisionLogs needs console: true or a url, got neither'],
    ['status with console: false and no url', { status: { console: false } }, 'Stack/Opa: status needs console: true or a url, got neither'],
    ['a decision-log url without a scheme', { decisionLogs: { url: 'logs.example.com' } }, 'Stack/Opa: decisionLogs.url must start with http:// or https://, got "logs.example.com"'],
    ['a status url with another scheme', { status: { url: 'ftp://status.example.com' } }, 'Stack/Opa: status.url must start with http:// or https://, got "ftp://status.example.com"'],
  ])('GIVEN %s THEN binding fails naming the prop and the value', (_, props, message) => {
    expect(() => bindReporting('Stack/Opa', props)).toThrow(message);
  });
});
