import { FakeClock } from './fake-clock';
import type { Plugin } from '../../../runtime/src/contracts/plugin';
import { PluginState } from '../../../runtime/src/contracts/plugin';
import { ExtensionError } from '../../../runtime/src/errors';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { SchedulerConfig } from '../../../runtime/src/scheduler/config';
import { Scheduler, SchedulerOptions, SHUTDOWN_SAFETY_MARGIN_MS } from '../../../runtime/src/scheduler/scheduler';
import { SCHEDULER_DEFAULTS } from '../../../src/layer-contract';
import { CallLog, FakePlugin, opaPlugins } from '../../support/fake-plugin';
import { RecordingLogger } from '../../support/recording-logger';
import { within } from '../../support/within';

const SECOND = 1000;

function config(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  return {
    minimumTriggerThresholdMs: 30 * SECOND,
    triggerTimeoutMs: 7 * SECOND,
    pluginStartPriority: SCHEDULER_DEFAULTS.PLUGIN_START_PRIORITY,
    pluginStopPriority: SCHEDULER_DEFAULTS.PLUGIN_STOP_PRIORITY,
    ...overrides,
  };
}

/** A scheduler with `plugins` registered, as main.ts builds it. */
function schedulerWith(plugins: readonly Plugin[], options: SchedulerOptions): Scheduler {
  const scheduler = new Scheduler(options);
  scheduler.register(...plugins);
  return scheduler;
}

async function timed(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await within(promise, 5 * SECOND);
  return performance.now() - started;
}

const INVOKE = { eventType: 'INVOKE', requestId: 'r' };

describe('Scheduler lifecycle (the Go plugin\'s TestPluginLifecycle, with a fake clock)', () => {
  // GIVEN the four OPA plugins, the default priorities and a 30 s threshold
  const log = new CallLog();
  const logger = new RecordingLogger();
  const clock = new FakeClock();
  const plugins = opaPlugins(log);
  const scheduler = schedulerWith(plugins, { config: config(), logger, now: clock.now });
  const triggers = (): number[] => plugins.map((p) => log.count(p.name, 'trigger'));

  // Each step runs after the previous one; the counts are [discovery, bundle, decision_logs, status].
  const steps: Array<[string, () => Promise<void>, number[]]> = [
    ['init', () => scheduler.init(), [1, 1, 1, 1]],
    ['first INVOKE, 1 s after init (always triggers)', async () => { clock.advance(1 * SECOND); await scheduler.onInvoke(INVOKE); }, [2, 2, 2, 2]],
    ['INVOKE 10 s later (within the threshold)', async () => { clock.advance(10 * SECOND); await scheduler.onInvoke(INVOKE); }, [2, 2, 2, 2]],
    ['INVOKE exactly 30 s after the last round (not more than the threshold)', async () => { clock.advance(20 * SECOND); await scheduler.onInvoke(INVOKE); }, [2, 2, 2, 2]],
    ['INVOKE 30.001 s after the last round (after the threshold)', async () => { clock.advance(1); await scheduler.onInvoke(INVOKE); }, [3, 3, 3, 3]],
    ['INVOKE right after that round', async () => { clock.advance(1); await scheduler.onInvoke(INVOKE); }, [3, 3, 3, 3]],
    ['SHUTDOWN (decision_logs and status flushed)', () => scheduler.onShutdown({ deadlineMs: clock.now() + 2 * SECOND }), [3, 3, 4, 4]],
  ];

  test.each(steps)('WHEN %s THEN the trigger counts per plugin are as expected', async (_step, act, expected) => {
    await within(act(), 5 * SECOND);
    expect(triggers()).toEqual(expected);
  });

  test('THEN plugins started once each, in start priority, before any trigger', () => {
    expect(log.only('start')).toEqual(['discovery', 'bundle', 'decision_logs', 'status']);
    expect(log.calls.slice(0, 8)).toEqual([
      'start discovery', 'start bundle', 'start decision_logs', 'start status',
      'trigger discovery', 'trigger bundle', 'trigger decision_logs', 'trigger status',
    ]);
  });

  test('THEN SHUTDOWN flushed decision_logs and status before stopping them, in stop priority', () => {
    expect(log.calls.slice(-6)).toEqual([
      'trigger decision_logs', 'stop decision_logs',
      'trigger status', 'stop status',
      'stop bundle',
      'stop discovery',
    ]);
  });

  test('THEN the init round and the two INVOKE rounds are logged, numbered, each with its cause', () => {
    // When the last round started is what the threshold steps above observe.
    expect(logger.lines.filter((l) => l.msg === 'plugins triggered').map((l) => [l.fields.cause, l.fields.round])).toEqual([
      ['init', 1], ['invoke', 2], ['invoke', 3],
    ]);
  });
});

describe('Scheduler rounds', () => {
  test('GIVEN the init round just ran WHEN the first INVOKE comes at once THEN it still triggers (the Go plugin does not count the init round)', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log, ['bundle']), { config: config(), logger: SILENT_LOGGER, now: new FakeClock().now });
    await scheduler.init();
    await scheduler.onInvoke(INVOKE);
    expect(log.count('bundle', 'trigger')).toBe(2);
  });

  test('GIVEN a threshold of 0 WHEN INVOKEs come in the same millisecond THEN only the first triggers (strictly more than the threshold)', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log, ['bundle']), { config: config({ minimumTriggerThresholdMs: 0 }), logger: SILENT_LOGGER, now: new FakeClock().now });
    await scheduler.init();
    await scheduler.onInvoke(INVOKE);
    await scheduler.onInvoke(INVOKE);
    expect(log.count('bundle', 'trigger')).toBe(2);
  });

  test('GIVEN a trigger that ignores its signal WHEN a round runs THEN the round ends at the shared timeout and later plugins are skipped', async () => {
    // GIVEN
    const log = new CallLog();
    const logger = new RecordingLogger();
    const [discovery, bundle, decisionLogs, status] = opaPlugins(log);
    bundle.behaviour.trigger = 'hang';
    const scheduler = schedulerWith([discovery, bundle, decisionLogs, status], { config: config({ triggerTimeoutMs: 300 }), logger });
    await within(scheduler.init(), 5 * SECOND); // the init round times out the same way
    log.calls.length = 0;
    logger.lines.length = 0;

    // WHEN
    const elapsed = await timed(scheduler.onInvoke(INVOKE));

    // THEN the round returned at the timeout, not before, with small slack
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 150);
    expect(log.only('trigger')).toEqual(['discovery', 'bundle']);
    expect(bundle.signals.at(-1)!.aborted).toBe(true);
    expect(logger.at('warn').map((l) => [l.msg, l.fields.plugin])).toEqual([
      ['plugin trigger timed out', 'bundle'],
      ['plugin not triggered: round time ran out', 'decision_logs'],
      ['plugin not triggered: round time ran out', 'status'],
    ]);
    expect(logger.at('warn')[0].fields.reason).toBe('no answer within 300 ms');
  });

  test('GIVEN a trigger that honours its signal WHEN time runs out THEN it is reported as timed out, not as failed', async () => {
    const log = new CallLog();
    const logger = new RecordingLogger();
    const plugin = new FakePlugin('bundle', log, { trigger: 'hang-until-aborted' });
    const scheduler = schedulerWith([plugin], { config: config({ triggerTimeoutMs: 100 }), logger });

    const elapsed = await timed(scheduler.init());

    expect(elapsed).toBeLessThan(100 + 150);
    expect(logger.at('warn').map((l) => [l.msg, l.fields.plugin])).toEqual([['plugin trigger timed out', 'bundle']]);
  });

  test.each(['reject', 'throw'] as const)('GIVEN a trigger that fails (%s) WHEN a round runs THEN the others still run and the failure is logged with plugin and reason', async (behaviour) => {
    // GIVEN
    const log = new CallLog();
    const logger = new RecordingLogger();
    const plugins = opaPlugins(log);
    plugins[1].behaviour.trigger = behaviour;
    const scheduler = schedulerWith(plugins, { config: config(), logger });

    // WHEN
    await within(scheduler.init(), 5 * SECOND);
    await within(scheduler.onInvoke(INVOKE), 5 * SECOND);

    // THEN
    expect(plugins.map((p) => log.count(p.name, 'trigger'))).toEqual([2, 2, 2, 2]);
    const verb = behaviour === 'throw' ? 'threw' : 'broke';
    expect(logger.at('warn').map((l) => l.fields)).toEqual([
      { plugin: 'bundle', reason: `bundle trigger ${verb}` },
      { plugin: 'bundle', reason: `bundle trigger ${verb}` },
    ]);
    expect(logger.at('warn')[0].msg).toBe('plugin trigger failed');
  });

  test('GIVEN a round ends WHEN it is over THEN its timer is cleared (nothing left to keep the process alive)', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log), { config: config({ triggerTimeoutMs: 60 * SECOND }), logger: SILENT_LOGGER });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();

    await scheduler.init();
    await scheduler.onInvoke(INVOKE);
    await scheduler.onShutdown({ deadlineMs: Date.now() + 60 * SECOND });

    expect(timers()).toBe(before);
  });
});

describe('Scheduler priorities', () => {
  test('GIVEN priorities naming unknown plugins and plugins not in the lists WHEN the lifecycle runs THEN unknown names are skipped and unlisted plugins come after, in registration order', async () => {
    // GIVEN
    const log = new CallLog();
    const plugins = opaPlugins(log, ['zeta', 'status', 'alpha', 'bundle']);
    const scheduler = schedulerWith(plugins, {
      config: config({ pluginStartPriority: ['nope', 'bundle', 'status'], pluginStopPriority: ['status', 'missing', 'bundle'] }),
      logger: SILENT_LOGGER,
    });

    // WHEN
    await scheduler.init();
    const afterInit = [...log.calls];
    log.calls.length = 0;
    await scheduler.onShutdown({ deadlineMs: Date.now() + 2 * SECOND });

    // THEN
    expect(afterInit).toEqual([
      'start bundle', 'start status', 'start zeta', 'start alpha',
      'trigger bundle', 'trigger status', 'trigger zeta', 'trigger alpha',
    ]);
    expect(log.calls).toEqual(['trigger status', 'stop status', 'stop bundle', 'stop zeta', 'stop alpha']);
  });

  test('GIVEN decision_logs left out of the stop priority WHEN SHUTDOWN THEN it is still flushed before it stops, after the listed plugins', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log), { config: config({ pluginStopPriority: ['bundle'] }), logger: SILENT_LOGGER });

    await scheduler.onShutdown({ deadlineMs: Date.now() + 2 * SECOND });

    expect(log.calls).toEqual(['stop bundle', 'stop discovery', 'trigger decision_logs', 'stop decision_logs', 'trigger status', 'stop status']);
  });

  test('GIVEN a priority naming a plugin twice WHEN init THEN it starts and triggers once', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log, ['bundle']), { config: config({ pluginStartPriority: ['bundle', 'bundle'] }), logger: SILENT_LOGGER });
    await scheduler.init();
    expect(log.calls).toEqual(['start bundle', 'trigger bundle']);
  });

  test('GIVEN two plugins with one name WHEN they are registered THEN it refuses', () => {
    const log = new CallLog();
    expect(() => schedulerWith(opaPlugins(log, ['bundle', 'bundle']), { config: config(), logger: SILENT_LOGGER }))
      .toThrow('two plugins are registered as "bundle"');
  });
});

describe('Scheduler registration', () => {
  test('GIVEN plugins some factories left off (undefined) WHEN registered THEN only the others start', async () => {
    const log = new CallLog();
    const [bundle, status] = opaPlugins(log, ['bundle', 'status']);
    const scheduler = new Scheduler({ config: config(), logger: SILENT_LOGGER });

    scheduler.register(bundle, undefined, status);
    await scheduler.init();

    expect(log.only('start')).toEqual(['bundle', 'status']);
    expect(Object.keys(scheduler.pluginStatuses())).toEqual(['bundle', 'status']);
  });

  test('GIVEN init has begun WHEN a plugin is registered THEN it refuses (the plugin would never start)', async () => {
    const log = new CallLog();
    const scheduler = schedulerWith(opaPlugins(log, ['bundle']), { config: config(), logger: SILENT_LOGGER });
    await scheduler.init();

    expect(() => scheduler.register(new FakePlugin('status', log))).toThrow('plugin "status" registered after init');
  });
});

describe('Scheduler start', () => {
  test.each([
    ['reject', 'plugin bundle failed to start: bundle start broke'],
    ['throw', 'plugin bundle failed to start: bundle start threw'],
  ] as const)('GIVEN a start that fails (%s) WHEN init THEN PluginStartFailed names the plugin and later plugins are not started', async (behaviour, message) => {
    const log = new CallLog();
    const plugins = opaPlugins(log);
    plugins[1].behaviour.start = behaviour;
    const scheduler = schedulerWith(plugins, { config: config(), logger: SILENT_LOGGER });

    const err = await within(scheduler.init(), 5 * SECOND).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ExtensionError);
    expect((err as ExtensionError).reason).toBe('PluginStartFailed');
    expect((err as ExtensionError).errorType).toBe('Extension.PluginStartFailed');
    expect((err as ExtensionError).message).toBe(message);
    expect((err as ExtensionError).cause).toBeInstanceOf(Error);
    expect(log.calls).toEqual(['start discovery', 'start bundle']); // and no trigger round
  });

  test('GIVEN a start that hangs WHEN init THEN PluginStartFailed after trigger_timeout', async () => {
    const log = new CallLog();
    const plugin = new FakePlugin('bundle', log, { start: 'hang' });
    const scheduler = schedulerWith([plugin], { config: config({ triggerTimeoutMs: 200 }), logger: SILENT_LOGGER });

    const started = performance.now();
    const err = await within(scheduler.init(), 5 * SECOND).catch((e: unknown) => e);

    expect(performance.now() - started).toBeLessThan(200 + 150);
    expect((err as ExtensionError).reason).toBe('PluginStartFailed');
    expect((err as ExtensionError).message).toBe('plugin bundle did not start within 200 ms');
  });
});

describe('Scheduler shutdown deadline', () => {
  test('GIVEN trigger_timeout 7 s and a decision_logs flush that ignores its signal WHEN SHUTDOWN with 600 ms left THEN it returns before deadlineMs and still asks every plugin to stop', async () => {
    // GIVEN
    const log = new CallLog();
    const logger = new RecordingLogger();
    const plugins = opaPlugins(log);
    plugins[2].behaviour.trigger = 'hang';
    const scheduler = schedulerWith(plugins, { config: config({ triggerTimeoutMs: 7 * SECOND }), logger });
    const deadlineMs = Date.now() + 600;

    // WHEN
    await within(scheduler.onShutdown({ deadlineMs }), 5 * SECOND);

    // THEN
    const finishedAt = Date.now();
    expect(finishedAt).toBeLessThan(deadlineMs);
    expect(finishedAt).toBeGreaterThanOrEqual(deadlineMs - SHUTDOWN_SAFETY_MARGIN_MS - 20);
    expect(log.calls).toEqual(['trigger decision_logs', 'stop decision_logs', 'stop status', 'stop bundle', 'stop discovery']);
    // The stops after the deadline got an aborted signal so they can wrap up synchronously.
    expect(plugins.map((p) => p.signals.at(-1)!.aborted)).toEqual([true, true, true, true]);
    expect(logger.at('warn').map((l) => [l.msg, l.fields.plugin])).toEqual([
      ['plugin trigger timed out', 'decision_logs'],
      ['plugin not flushed: shutdown time ran out', 'status'],
    ]);
    expect(logger.at('info')).toEqual([expect.objectContaining({ msg: 'plugins stopped', fields: expect.objectContaining({ timedOut: true }) })]);
  });

  test('GIVEN a deadline already past the margin WHEN SHUTDOWN THEN the budget is 0 and it returns at once', async () => {
    const log = new CallLog();
    const logger = new RecordingLogger();
    const clock = new FakeClock();
    const scheduler = schedulerWith(opaPlugins(log), { config: config(), logger, now: clock.now });

    const elapsed = await timed(scheduler.onShutdown({ deadlineMs: clock.now() + 100 }));

    expect(elapsed).toBeLessThan(100);
    expect(logger.at('info')[0].fields.budgetMs).toBe(0);
  });

  test.each([
    ['trigger_timeout is shorter', 1 * SECOND, 2000, 1000],
    ['the deadline is nearer', 7 * SECOND, 2000, 2000 - SHUTDOWN_SAFETY_MARGIN_MS],
  ])('GIVEN %s WHEN SHUTDOWN THEN the budget is the smaller of the two', async (_case, triggerTimeoutMs, leftMs, budgetMs) => {
    const logger = new RecordingLogger();
    const clock = new FakeClock();
    const scheduler = schedulerWith([], { config: config({ triggerTimeoutMs }), logger, now: clock.now });
    await scheduler.onShutdown({ deadlineMs: clock.now() + leftMs });
    expect(logger.at('info')[0].fields.budgetMs).toBe(budgetMs);
  });
});

describe('Scheduler pluginStatuses', () => {
  test('GIVEN plugins with statuses WHEN asked THEN each status passes through by name, and a throwing status() is an ERROR', () => {
    const log = new CallLog();
    const [bundle, status] = opaPlugins(log, ['bundle', 'status']);
    bundle.state = { state: PluginState.NOT_READY, message: 'no bundle yet' };
    status.status = () => { throw new Error('boom'); };
    const scheduler = schedulerWith([bundle, status], { config: config(), logger: SILENT_LOGGER });

    expect(scheduler.pluginStatuses()).toEqual({
      bundle: { state: PluginState.NOT_READY, message: 'no bundle yet' },
      status: { state: PluginState.ERROR, message: 'status() failed: boom' },
    });
  });
});
