import { EXTENSION_ID, FakeExtensionsApi, INVOKE_EVENT, SHUTDOWN_EVENT } from './fake-extensions-api';
import { ConfigError, ExtensionError } from '../../../runtime/src/errors';
import { ExtensionsApiClient } from '../../../runtime/src/lambda/extensions-api-client';
import { LifecycleHooks, RegisteredHooks, runLifecycle } from '../../../runtime/src/lambda/lifecycle';
import type { InvokeEvent, ShutdownEvent } from '../../../runtime/src/lambda/types';
import { parseSchedulerConfig } from '../../../runtime/src/scheduler/config';
import { Scheduler } from '../../../runtime/src/scheduler/scheduler';
import { CallLog, opaPlugins } from '../../support/fake-plugin';
import { RecordingLogger } from '../../support/recording-logger';
import { within } from '../../support/within';

type Hook = keyof LifecycleHooks | keyof RegisteredHooks;

/**
 * Hooks that record their calls (and what the API had seen at that moment) and can be told to
 * fail; `beforeRegister` returns the same object as the hooks of the rest of the lifecycle.
 */
class RecordingHooks implements LifecycleHooks, RegisteredHooks {
  public readonly calls: string[] = [];
  public readonly fail: Partial<Record<Hook, unknown>> = {};

  public constructor(private readonly api: FakeExtensionsApi) {}

  public async beforeRegister(): Promise<RegisteredHooks> { this.record('beforeRegister'); return this; }
  public async afterRegister(): Promise<void> { this.record('afterRegister'); }
  public async onInvoke(event: InvokeEvent): Promise<void> { this.record('onInvoke', event.requestId); }
  public async onShutdown(event: ShutdownEvent): Promise<void> { this.record('onShutdown', event.shutdownReason); }

  private record(hook: Hook, detail?: string): void {
    this.calls.push([hook, detail, `after ${this.api.routes().join(', ') || 'nothing'}`].filter(Boolean).join(' '));
    if (this.fail[hook] !== undefined) throw this.fail[hook];
  }
}

describe('runLifecycle', () => {
  let api: FakeExtensionsApi;
  let client: ExtensionsApiClient;
  let hooks: RecordingHooks;
  let logger: RecordingLogger;

  beforeEach(async () => {
    api = new FakeExtensionsApi();
    client = new ExtensionsApiClient(await api.start());
    hooks = new RecordingHooks(api);
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    await api.close();
  });

  const run = (): Promise<number> => within(runLifecycle({ client, name: 'opa', hooks, logger }), 5000);

  test('GIVEN INVOKE, INVOKE, SHUTDOWN WHEN the lifecycle runs THEN hooks run in order around the API calls and the exit code is 0', async () => {
    // GIVEN
    api.pushEvent({ ...INVOKE_EVENT, requestId: 'req-1' });
    api.pushEvent({ ...INVOKE_EVENT, requestId: 'req-2' });
    api.pushEvent(SHUTDOWN_EVENT);

    // WHEN
    const code = await run();

    // THEN
    expect(code).toBe(0);
    expect(hooks.calls).toEqual([
      'beforeRegister after nothing',
      'afterRegister after POST /register',
      'onInvoke req-1 after POST /register, GET /event/next',
      'onInvoke req-2 after POST /register, GET /event/next, GET /event/next',
      'onShutdown spindown after POST /register, GET /event/next, GET /event/next, GET /event/next',
    ]);
    expect(api.routes()).toEqual(['POST /register', 'GET /event/next', 'GET /event/next', 'GET /event/next']);
    expect(api.requests[0].headers['lambda-extension-name']).toBe('opa');
    expect(logger.at('info').map((l) => [l.msg, l.fields])).toEqual([
      ['extension registered', { name: 'opa', functionName: 'my-function', functionVersion: '$LATEST' }],
      ['invoke', { requestId: 'req-1' }],
      ['invoke', { requestId: 'req-2' }],
      ['shutdown', { reason: 'spindown', deadlineMs: SHUTDOWN_EVENT.deadlineMs }],
    ]);
    expect(logger.at('error')).toEqual([]);
  });

  test('GIVEN beforeRegister throws a ConfigError WHEN the lifecycle runs THEN it registers anyway, posts /init/error as Extension.ConfigInvalid and exits 1', async () => {
    // GIVEN
    hooks.fail.beforeRegister = new ConfigError('plugins.lambda_extension.trigger_timeout must be a whole number of seconds ≥ 1, got "7s"');

    // WHEN
    const code = await run();

    // THEN
    expect(code).toBe(1);
    expect(hooks.calls).toEqual(['beforeRegister after nothing']);
    expect(api.routes()).toEqual(['POST /register', 'POST /init/error']);
    const report = api.requests[1];
    expect(report.headers['lambda-extension-function-error-type']).toBe('Extension.ConfigInvalid');
    expect(report.headers['lambda-extension-identifier']).toBe(EXTENSION_ID);
    expect(report.body).toEqual({
      errorType: 'Extension.ConfigInvalid',
      errorMessage: 'plugins.lambda_extension.trigger_timeout must be a whole number of seconds ≥ 1, got "7s"',
    });
    expect(logger.at('error')).toEqual([
      { level: 'error', msg: 'extension init failed', fields: { errorType: 'Extension.ConfigInvalid', error: hooks.fail.beforeRegister } },
    ]);
  });

  test.each([
    ['an ExtensionError', new ExtensionError('PluginStartFailed', 'plugin bundle failed to start: boom'), 'Extension.PluginStartFailed', 'plugin bundle failed to start: boom'],
    ['a plain Error', new Error('surprise'), 'Extension.UnexpectedError', 'surprise'],
    ['a string', 'thrown string', 'Extension.UnexpectedError', 'thrown string'],
  ])('GIVEN afterRegister throws %s WHEN the lifecycle runs THEN /init/error carries its type and no event is asked for', async (_case, thrown, errorType, errorMessage) => {
    hooks.fail.afterRegister = thrown;

    expect(await run()).toBe(1);

    expect(api.routes()).toEqual(['POST /register', 'POST /init/error']);
    expect(api.requests[1].headers['lambda-extension-function-error-type']).toBe(errorType);
    expect(api.requests[1].body).toEqual({ errorType, errorMessage });
  });

  test('GIVEN /init/error itself fails WHEN init failed THEN both are logged and the exit code is still 1', async () => {
    hooks.fail.afterRegister = new Error('surprise');
    api.replies.set('POST /init/error', { status: 500, body: { errorType: 'Internal', errorMessage: 'down' } });

    expect(await run()).toBe(1);

    expect(logger.at('error').map((l) => l.msg)).toEqual(['extension init failed', 'could not report the init error to Lambda']);
  });

  test('GIVEN Lambda rejects /register WHEN the lifecycle runs THEN it exits 1 without posting anything more (no identifier to post with)', async () => {
    api.replies.set('POST /register', { status: 403, body: { errorType: 'Extension.Forbidden', errorMessage: 'bad name' } });

    expect(await run()).toBe(1);

    expect(hooks.calls).toEqual(['beforeRegister after nothing']);
    expect(api.routes()).toEqual(['POST /register']);
    expect(logger.at('error').map((l) => [l.msg, l.fields.errorType])).toEqual([['extension init failed', 'Extension.RegistrationFailed']]);
  });

  test('GIVEN beforeRegister failed and /register fails too WHEN the lifecycle runs THEN both failures are logged', async () => {
    hooks.fail.beforeRegister = new ConfigError('bad config');
    api.replies.set('POST /register', { status: 403, body: { errorType: 'Extension.Forbidden', errorMessage: 'bad name' } });

    expect(await run()).toBe(1);

    expect(logger.at('error').map((l) => l.fields.errorType)).toEqual(['Extension.ConfigInvalid', 'Extension.RegistrationFailed']);
  });

  test('GIVEN /event/next fails WHEN looping THEN /exit/error is posted and the exit code is 1', async () => {
    api.pushEvent({ errorType: 'Extension.Crash', errorMessage: 'gone' }, { status: 500 });

    expect(await run()).toBe(1);

    expect(api.routes()).toEqual(['POST /register', 'GET /event/next', 'POST /exit/error']);
    expect(api.requests[2].headers['lambda-extension-function-error-type']).toBe('Extension.UnexpectedError');
    expect(api.requests[2].body).toEqual({
      errorType: 'Extension.UnexpectedError',
      errorMessage: 'Extensions API GET /event/next answered 500 Extension.Crash: gone',
    });
    expect(logger.at('error').map((l) => l.msg)).toEqual(['could not get the next event']);
  });

  test('GIVEN /event/next and /exit/error both fail WHEN looping THEN the exit code is 1', async () => {
    api.pushEvent({ errorType: 'Extension.Crash', errorMessage: 'gone' }, { status: 500 });
    api.replies.set('POST /exit/error', { status: 500, body: {} });

    expect(await run()).toBe(1);

    expect(logger.at('error').map((l) => l.msg)).toEqual(['could not get the next event', 'could not report the exit error to Lambda']);
  });

  test('GIVEN onInvoke throws WHEN an INVOKE comes THEN it is logged and the loop goes on to SHUTDOWN', async () => {
    hooks.fail.onInvoke = new Error('round broke');
    api.pushEvent(INVOKE_EVENT);
    api.pushEvent(SHUTDOWN_EVENT);

    expect(await run()).toBe(0);

    expect(hooks.calls.map((c) => c.split(' ')[0])).toEqual(['beforeRegister', 'afterRegister', 'onInvoke', 'onShutdown']);
    expect(logger.at('error').map((l) => [l.msg, l.fields.requestId])).toEqual([['invoke handling failed', INVOKE_EVENT.requestId]]);
  });

  test('GIVEN onShutdown throws WHEN SHUTDOWN comes THEN /exit/error is posted and the exit code is 1', async () => {
    hooks.fail.onShutdown = new Error('could not close');
    api.pushEvent(SHUTDOWN_EVENT);

    expect(await run()).toBe(1);

    expect(api.routes()).toEqual(['POST /register', 'GET /event/next', 'POST /exit/error']);
    expect(api.requests[2].body).toEqual({ errorType: 'Extension.UnexpectedError', errorMessage: 'could not close' });
  });

  test('GIVEN no event yet WHEN the lifecycle runs THEN it waits on the long poll until Lambda sends one', async () => {
    const running = runLifecycle({ client, name: 'opa', hooks, logger });
    await new Promise((r) => setTimeout(r, 300));
    expect(hooks.calls.map((c) => c.split(' ')[0])).toEqual(['beforeRegister', 'afterRegister']);
    expect(api.routes()).toEqual(['POST /register', 'GET /event/next']);

    api.pushEvent(SHUTDOWN_EVENT);

    expect(await within(running, 5000)).toBe(0);
  });

  test('GIVEN the Scheduler as hooks and two quick INVOKEs WHEN the lifecycle runs THEN plugins start, trigger at init and on the first INVOKE only, and flush and stop at SHUTDOWN', async () => {
    // GIVEN
    const log = new CallLog();
    const scheduler = new Scheduler({ config: parseSchedulerConfig(undefined), logger });
    scheduler.register(...opaPlugins(log, ['bundle', 'decision_logs']));
    api.pushEvent(INVOKE_EVENT);
    api.pushEvent(INVOKE_EVENT);
    api.pushEvent({ ...SHUTDOWN_EVENT, deadlineMs: Date.now() + 2000 });

    // WHEN
    const code = await within(runLifecycle({
      client,
      name: 'opa',
      logger,
      hooks: {
        beforeRegister: async () => ({
          afterRegister: () => scheduler.init(),
          onInvoke: (event) => scheduler.onInvoke(event),
          onShutdown: (event) => scheduler.onShutdown(event),
        }),
      },
    }), 5000);

    // THEN
    expect(code).toBe(0);
    expect(log.calls).toEqual([
      'start bundle', 'start decision_logs',
      'trigger bundle', 'trigger decision_logs', // init
      'trigger bundle', 'trigger decision_logs', // first INVOKE
      'trigger decision_logs', 'stop decision_logs', 'stop bundle', // SHUTDOWN
    ]);
  });
});
