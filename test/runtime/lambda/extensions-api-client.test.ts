import { EXTENSION_ID, FakeExtensionsApi, INVOKE_EVENT, SHUTDOWN_EVENT } from './fake-extensions-api';
import { ConfigError, ExtensionError } from '../../../runtime/src/errors';
import { ExtensionsApiClient, ExtensionsApiError } from '../../../runtime/src/lambda/extensions-api-client';
import { within } from '../../support/within';

describe('ExtensionsApiClient', () => {
  let api: FakeExtensionsApi;
  let runtimeApi: string;

  beforeEach(async () => {
    api = new FakeExtensionsApi();
    runtimeApi = await api.start();
  });

  afterEach(async () => {
    await api.close();
  });

  describe('register', () => {
    test('GIVEN Lambda accepts WHEN register THEN it posts the name and events and keeps the identifier', async () => {
      const client = new ExtensionsApiClient(runtimeApi);

      const res = await within(client.register('opa'), 5000);

      expect(res).toEqual({ functionName: 'my-function', functionVersion: '$LATEST', handler: 'index.handler', accountId: '123456789012' });
      expect(client.extensionId).toBe(EXTENSION_ID);
      expect(api.requests).toHaveLength(1);
      const [req] = api.requests;
      expect(req.method).toBe('POST');
      expect(req.route).toBe('/register');
      expect(req.headers['lambda-extension-name']).toBe('opa');
      expect(req.headers['lambda-extension-accept-feature']).toBe('accountId');
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.body).toEqual({ events: ['INVOKE', 'SHUTDOWN'] });
    });

    test('GIVEN onSent WHEN register THEN it is called once, while Lambda answers', async () => {
      api.replies.set('POST /register', { headers: { 'Lambda-Extension-Identifier': 'id-late' }, body: {}, delayMs: 300 });
      const client = new ExtensionsApiClient(runtimeApi);
      const calls: Array<string | undefined> = [];

      await within(client.register('opa', undefined, () => calls.push(client.extensionId)), 5000);

      expect(calls).toEqual([undefined]);
      expect(client.extensionId).toBe('id-late');
    });

    test('GIVEN other events WHEN register THEN they are sent', async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await within(client.register('opa', ['SHUTDOWN']), 5000);
      expect(api.requests[0].body).toEqual({ events: ['SHUTDOWN'] });
    });

    test('GIVEN Lambda rejects the name WHEN register THEN the error carries status, errorType and errorMessage', async () => {
      api.replies.set('POST /register', { status: 403, body: { errorType: 'Extension.Unknown', errorMessage: 'no extension named opa' } });
      const client = new ExtensionsApiClient(runtimeApi);

      const err = await within(client.register('opa'), 5000).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(ExtensionsApiError);
      expect(err).toBeInstanceOf(ExtensionError);
      expect(err).toMatchObject({ status: 403, responseErrorType: 'Extension.Unknown', reason: 'RegistrationFailed' });
      expect((err as Error).message).toBe('Extensions API POST /register answered 403 Extension.Unknown: no extension named opa');
      expect(client.extensionId).toBeUndefined();
    });

    test('GIVEN an error answer that is not JSON WHEN register THEN the message holds the text', async () => {
      api.replies.set('POST /register', { status: 500, body: 'upstream broke' });
      const client = new ExtensionsApiClient(runtimeApi);
      await expect(within(client.register('opa'), 5000)).rejects.toThrow('Extensions API POST /register answered 500: upstream broke');
    });

    test('GIVEN an answer without Lambda-Extension-Identifier WHEN register THEN it fails', async () => {
      api.replies.set('POST /register', { body: { functionName: 'f', functionVersion: '1', handler: 'h' } });
      const client = new ExtensionsApiClient(runtimeApi);
      await expect(within(client.register('opa'), 5000)).rejects.toThrow('Extensions API /register answered without a Lambda-Extension-Identifier header');
    });

    test('GIVEN a 2xx body that is not JSON WHEN register THEN it fails', async () => {
      api.replies.set('POST /register', { headers: { 'Lambda-Extension-Identifier': 'x' }, body: '<html>' });
      const client = new ExtensionsApiClient(runtimeApi);
      await expect(within(client.register('opa'), 5000)).rejects.toThrow('Extensions API POST /register answered 200 with a body that is not JSON: <html>');
    });

    test('GIVEN Lambda does not answer WHEN register THEN it fails after the request timeout', async () => {
      api.replies.set('POST /register', { headers: { 'Lambda-Extension-Identifier': 'x' }, body: {}, delayMs: 2000 });
      const client = new ExtensionsApiClient(runtimeApi, { requestTimeoutMs: 200 });

      const started = performance.now();
      await expect(within(client.register('opa'), 5000)).rejects.toThrow('Extensions API POST /register did not answer within 200 ms');
      expect(performance.now() - started).toBeLessThan(200 + 300);
    });

    test('GIVEN nothing listens WHEN register THEN it fails with the cause', async () => {
      await api.close();
      const client = new ExtensionsApiClient(runtimeApi);
      await expect(within(client.register('opa'), 5000)).rejects.toThrow(/^Extensions API POST \/register failed: connect ECONNREFUSED/);
      api = new FakeExtensionsApi(); // afterEach closes a fresh, unstarted server
      await api.start();
    });
  });

  describe('nextEvent', () => {
    test('GIVEN no registration WHEN nextEvent THEN it refuses without a request', async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await expect(client.nextEvent()).rejects.toThrow('cannot call Extensions API /event/next before /register');
      expect(api.requests).toHaveLength(0);
    });

    test.each([
      ['INVOKE', INVOKE_EVENT],
      ['SHUTDOWN', SHUTDOWN_EVENT],
    ])('GIVEN an %s event WHEN nextEvent THEN it is returned as sent, asked with the identifier', async (_type, event) => {
      const client = new ExtensionsApiClient(runtimeApi);
      await client.register('opa');
      api.pushEvent(event);

      expect(await within(client.nextEvent(), 5000)).toEqual(event);
      const req = api.requests[1];
      expect([req.method, req.route]).toEqual(['GET', '/event/next']);
      expect(req.headers['lambda-extension-identifier']).toBe(EXTENSION_ID);
    });

    test('GIVEN a request timeout of 200 ms WHEN Lambda answers the long poll after 1.2 s THEN the event arrives (the long poll has no timeout)', async () => {
      const client = new ExtensionsApiClient(runtimeApi, { requestTimeoutMs: 200 });
      await client.register('opa');
      api.pushEvent(INVOKE_EVENT, { delayMs: 1200 });

      const started = performance.now();
      const event = await within(client.nextEvent(), 5000);

      expect(event.eventType).toBe('INVOKE');
      expect(performance.now() - started).toBeGreaterThanOrEqual(1150);
    });

    test('GIVEN an unknown event type WHEN nextEvent THEN it fails', async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await client.register('opa');
      api.pushEvent({ eventType: 'RESTORE' });
      await expect(within(client.nextEvent(), 5000)).rejects.toThrow('Extensions API /event/next sent an unknown eventType "RESTORE"');
    });

    test('GIVEN Lambda answers 500 WHEN nextEvent THEN it fails with status and errorType', async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await client.register('opa');
      api.pushEvent({ errorType: 'Extension.Crash', errorMessage: 'gone' }, { status: 500 });
      const err = await within(client.nextEvent(), 5000).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 500, responseErrorType: 'Extension.Crash', message: 'Extensions API GET /event/next answered 500 Extension.Crash: gone' });
    });
  });

  describe.each([
    ['initError', '/init/error'],
    ['exitError', '/exit/error'],
  ] as const)('%s', (method, route) => {
    test(`GIVEN a registered client WHEN ${method} THEN it posts ${route} with the error type header and body`, async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await client.register('opa');

      const res = await within(client[method](new ExtensionError('ConfigInvalid', 'trigger_timeout is wrong')), 5000);

      expect(res).toEqual({ status: 'OK' });
      const req = api.requests[1];
      expect([req.method, req.route]).toEqual(['POST', route]);
      expect(req.headers['lambda-extension-identifier']).toBe(EXTENSION_ID);
      expect(req.headers['lambda-extension-function-error-type']).toBe('Extension.ConfigInvalid');
      expect(req.body).toEqual({ errorMessage: 'trigger_timeout is wrong', errorType: 'Extension.ConfigInvalid' });
    });

    test(`GIVEN Lambda rejects the report WHEN ${method} THEN it fails with the status`, async () => {
      const client = new ExtensionsApiClient(runtimeApi);
      await client.register('opa');
      api.replies.set(`POST ${route}`, { status: 400, body: { errorType: 'InvalidRequestFormat', errorMessage: 'bad' } });
      await expect(within(client[method](new ExtensionError('UnexpectedError', 'x')), 5000))
        .rejects.toThrow(`Extensions API POST ${route} answered 400 InvalidRequestFormat: bad`);
    });
  });

  test.each(['localhost', 'host:port', ''])('GIVEN AWS_LAMBDA_RUNTIME_API %j WHEN building a client THEN it refuses', (value) => {
    expect(() => new ExtensionsApiClient(value)).toThrow(ConfigError);
    expect(() => new ExtensionsApiClient(value)).toThrow(`AWS_LAMBDA_RUNTIME_API must be host:port, got ${JSON.stringify(value)}`);
  });
});
