import * as path from 'node:path';
import { FIXTURES, HANDLER_FILE, makeLayer, removeLayer, type FixtureExtensionOptions } from './fixtures/layer';
import { LambdaEmulator, newTraceId, type LambdaEmulatorOptions, type LifecycleEvent } from '../../emulator/src';
import { freePort } from '../support/layer';
import { within } from '../support/within';

let emu: LambdaEmulator | undefined;
let layerDir: string | undefined;

afterEach(async () => {
  await emu?.close();
  emu = undefined;
  removeLayer(layerDir);
  layerDir = undefined;
});

function emulate(extensions: Record<string, FixtureExtensionOptions>, options: Partial<LambdaEmulatorOptions> = {}): LambdaEmulator {
  layerDir = makeLayer(extensions);
  emu = new LambdaEmulator({ layerDir, handler: { file: HANDLER_FILE }, ...options });
  return emu;
}

function indexOf(events: LifecycleEvent[], match: Partial<LifecycleEvent>): number {
  return events.findIndex((e) => Object.entries(match).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v));
}

function eventsSeenBy(e: LambdaEmulator, source: string): Array<Record<string, unknown>> {
  return e.jsonLines(source).filter((l) => l.msg === 'event').map((l) => l.event as Record<string, unknown>);
}

describe('INIT', () => {
  test('extensions register before the runtime starts, and init ends once everyone waits for an event', async () => {
    // GIVEN a layer with two well-behaved extensions
    const e = emulate({ beta: {}, alpha: { readyDelayMs: 100 } });

    // WHEN the environment initializes
    const init = await within(e.start(), 10_000, 'start');

    // THEN init succeeds and reports how long each extension took to become ready
    expect(init.ok).toBe(true);
    if (!init.ok) return;
    expect(Object.keys(init.durations)).toEqual(['alpha', 'beta']);
    const alpha = init.durations.alpha;
    expect(alpha.register).toBeGreaterThan(0);
    expect(alpha.ready).toBeGreaterThanOrEqual(alpha.register + 100);
    expect(init.runtimeReadyMs).toBeGreaterThan(0);
    expect(init.totalMs).toBeGreaterThanOrEqual(alpha.ready);

    // AND extensions are spawned in name order, the runtime only after both registered
    const ev = e.events;
    expect(ev.filter((x) => x.type === 'spawn').map((x) => x.source)).toEqual(['alpha', 'beta', 'runtime']);
    const runtimeSpawn = indexOf(ev, { type: 'spawn', source: 'runtime' });
    expect(indexOf(ev, { type: 'register', source: 'alpha' })).toBeLessThan(runtimeSpawn);
    expect(indexOf(ev, { type: 'register', source: 'beta' })).toBeLessThan(runtimeSpawn);
    const done = indexOf(ev, { type: 'init-done' });
    expect(indexOf(ev, { type: 'runtime-ready' })).toBeLessThan(done);
    expect(indexOf(ev, { type: 'next', source: 'alpha' })).toBeLessThan(done);
    expect(ev[done].errorType).toBeUndefined();
    expect(ev.map((x) => x.t)).toEqual([...ev.map((x) => x.t)].sort((a, b) => a - b));

    // AND the register response told the extension about the function
    const registered = e.jsonLines('alpha').find((l) => l.msg === 'register')!;
    expect(registered.status).toBe(200);
    expect(registered.body).toEqual({ functionName: 'emulated-function', functionVersion: '$LATEST', handler: 'handler.handler', accountId: '123456789012' });
    expect(registered.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('extensions and the runtime see the environment Lambda gives, and nothing else of the parent', async () => {
    // GIVEN a function environment, a region and credentials
    const e = emulate({ spy: { printEnv: true } }, {
      environment: { OPA_URL: 'http://127.0.0.1:8181', AWS_REGION: 'ignored-because-reserved' },
      functionName: 'my-fn',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' },
    });

    // WHEN the environment initializes
    const init = await within(e.start(), 10_000, 'start');
    expect(init.ok).toBe(true);

    // THEN the extension saw exactly Lambda's variables, the function's, and PATH/HOME, less the
    // runtime's own ones (_HANDLER, AWS_EXECUTION_ENV, the log group and stream, LAMBDA_TASK_ROOT)
    const { env, cwd } = e.jsonLines('spy').find((l) => l.msg === 'env') as { env: Record<string, string>; cwd: string };
    expect(env).toEqual({
      PATH: process.env.PATH,
      ...(process.env.HOME !== undefined ? { HOME: process.env.HOME } : {}),
      OPA_URL: 'http://127.0.0.1:8181',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_LAMBDA_FUNCTION_NAME: 'my-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_ACCESS_KEY_ID: 'AKID',
      AWS_SECRET_ACCESS_KEY: 'SECRET',
      AWS_SESSION_TOKEN: 'TOKEN',
      AWS_LAMBDA_RUNTIME_API: e.apiAddress,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
    });
    expect(e.apiAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(cwd).toBe(FIXTURES);

    // AND the runtime got the same function identity, and its own variables
    const result = await within(e.invoke({}), 5000, 'invoke');
    expect(result.result).toMatchObject({ handlerEnv: { _HANDLER: 'handler.handler', LAMBDA_TASK_ROOT: FIXTURES, AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/my-fn' } });
    expect(result.result).toMatchObject({ functionName: 'my-fn', invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:my-fn' });
  });

  test('the function init can call an extension that registered but has not yet asked for its first event', async () => {
    // GIVEN an extension that serves before registering and takes 300 ms before its first /event/next
    const port = await freePort();
    const e = emulate({ opa: { servePortEnv: 'FIXTURE_PORT', readyDelayMs: 300 } }, { environment: { FIXTURE_PORT: port.toString() } });

    // WHEN the environment initializes and the function is invoked
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);
    const result = await within(e.invoke({ q: 1 }), 5000, 'invoke');

    // THEN the handler module's init got its answer from the extension during the extension's own init
    expect(result.result).toMatchObject({ init: { from: 'opa', beforeFirstNext: true }, call: { from: 'opa', beforeFirstNext: false } });
  });

  test('an extension that reports an init error fails INIT with its error type', async () => {
    // GIVEN an extension that posts /init/error Extension.Broken and exits 1, beside a healthy one
    const e = emulate({ broken: { behaviour: 'init-error' }, healthy: {} });

    // WHEN the environment initializes
    const init = await within(e.start(), 10_000, 'start');

    // THEN init fails with the reported type and message
    expect(init).toEqual({ ok: false, errorType: 'Extension.Broken', errorMessage: 'the fixture is broken on purpose', source: 'broken' });
    // AND the report was acknowledged as Lambda does
    expect(e.jsonLines('broken').find((l) => l.msg === 'init-error')).toMatchObject({ status: 202, body: { status: 'OK' } });
    // AND the reporter's exit code is recorded and every other process was killed
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'init-error', source: 'broken', errorType: 'Extension.Broken' }));
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'exit', source: 'broken', exitCode: 1 }));
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'kill', source: 'healthy' }));
    const spawned = e.events.filter((x) => x.type === 'spawn').map((x) => x.source);
    expect(e.events.filter((x) => x.type === 'exit').map((x) => x.source).sort()).toEqual(spawned.sort());
  });

  test('an extension that registers under another name for SHUTDOWN is taken for an internal one, refused with 403, and fails INIT', async () => {
    // GIVEN an extension that registers as "<file name>-wrong" for INVOKE and SHUTDOWN
    const e = emulate({ liar: { behaviour: 'wrong-name' } });

    // WHEN the environment initializes
    const init = await within(e.start(), 10_000, 'start');

    // THEN the unknown name made it an internal extension, which cannot have SHUTDOWN (as rapid answers), and its exit failed init
    expect(e.jsonLines('liar').find((l) => l.msg === 'register')).toMatchObject({
      status: 403,
      body: { errorType: 'Extension.InvalidEventType', errorMessage: expect.stringContaining('internal extension') },
    });
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'register-rejected', source: 'liar-wrong', status: 403 }));
    expect(init).toMatchObject({ ok: false, errorType: 'Extension.Crash', source: 'liar', errorMessage: expect.stringContaining('exit code 2') });
  });

  test('an extension that registers for an unknown event is refused with 400', async () => {
    // GIVEN an extension that asks for a BOGUS event
    const e = emulate({ greedy: { events: ['INVOKE', 'BOGUS'] } });

    // WHEN the environment initializes
    const init = await within(e.start(), 10_000, 'start');

    // THEN the registration was refused and init failed
    expect(e.jsonLines('greedy').find((l) => l.msg === 'register')).toMatchObject({ status: 400, body: { errorType: 'Extension.InvalidEventType' } });
    expect(init.ok).toBe(false);
  });

  test('an extension that exits before registering fails INIT', async () => {
    const e = emulate({ quitter: { behaviour: 'exit-before-register' } });

    const init = await within(e.start(), 10_000, 'start');

    expect(init).toMatchObject({ ok: false, errorType: 'Extension.Crash', source: 'quitter', errorMessage: expect.stringContaining('exit code 3') });
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'exit', source: 'quitter', exitCode: 3, unexpected: true }));
  });

  test('a handler that cannot be loaded fails INIT with the runtime\'s init error', async () => {
    // GIVEN a handler export that is not a function
    layerDir = makeLayer({ ext: {} });
    emu = new LambdaEmulator({ layerDir, handler: { file: HANDLER_FILE, export: 'notAFunction' } });

    // WHEN the environment initializes
    const init = await within(emu.start(), 10_000, 'start');

    // THEN the runtime's /init/error is the result
    expect(init).toMatchObject({ ok: false, errorType: 'Runtime.HandlerNotFound', source: 'runtime', errorMessage: expect.stringContaining('notAFunction') });
  });

  test('INIT is bounded by initTimeout', async () => {
    // GIVEN an extension that takes 5 s before its first /event/next and an init limit of 800 ms
    const e = emulate({ slow: { readyDelayMs: 5000 } }, { initTimeout: 800 });

    // WHEN the environment initializes
    const started = Date.now();
    const init = await within(e.start(), 5000, 'start');

    // THEN init times out at the limit, naming what it waited for
    expect(init).toMatchObject({ ok: false, errorType: 'Sandbox.Timedout', errorMessage: expect.stringContaining('slow') });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'kill', source: 'slow' }));
  });

  test('an internal extension registers from the runtime process during its init, gets INVOKE, and init waits for its next', async () => {
    // GIVEN a handler whose init registers an internal extension "in-process" (no such file in /opt/extensions)
    const e = emulate({ ext: {} }, { environment: { FIXTURE_INTERNAL_EXTENSION: 'in-process' } });

    // WHEN the environment initializes and is invoked
    const init = await within(e.start(), 10_000, 'start');
    const result = await within(e.invoke({ q: 1 }), 5000, 'invoke');

    // THEN the registration was accepted while the runtime was in its init, and init ended only after its first next
    expect(init.ok).toBe(true);
    expect(e.jsonLines('runtime').find((l) => l.msg === 'internal register')).toMatchObject({ status: 200 });
    const ev = e.events;
    expect(indexOf(ev, { type: 'register', source: 'in-process' })).toBeGreaterThan(indexOf(ev, { type: 'spawn', source: 'runtime' }));
    expect(indexOf(ev, { type: 'next', source: 'in-process' })).toBeLessThan(indexOf(ev, { type: 'init-done' }));
    // AND it got the INVOKE, and it is no process of its own at shutdown
    expect(e.jsonLines('runtime').filter((l) => l.msg === 'internal event').map((l) => (l.event as { requestId?: string }).requestId))
      .toEqual([result.requestId]);
    expect((await within(e.shutdown(), 5000, 'shutdown')).extensions.map((x) => x.name)).toEqual(['ext']);
  });

  test('a layer without extensions runs the handler alone', async () => {
    const e = emulate({});

    expect(await within(e.start(), 10_000, 'start')).toMatchObject({ ok: true, durations: {} });
    const result = await within(e.invoke({ a: 1 }), 5000, 'invoke');

    expect(result.result).toMatchObject({ echo: { a: 1 } });
    expect(result.extensionOverheadMs).toBe(0);
  });
});

describe('INVOKE', () => {
  test('the event reaches the runtime and INVOKE reaches the extensions with the same request and deadline', async () => {
    // GIVEN a started environment with a 1500 ms function timeout
    const e = emulate({ watcher: {} }, { timeout: 1500 });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the function is invoked twice, the first time with a trace header
    const before = Date.now();
    const traceId = newTraceId();
    const first = await within(e.invoke({ hello: 'world' }, { traceId }), 5000, 'invoke');
    const second = await within(e.invoke({ hello: 'again' }), 5000, 'invoke');

    // THEN each invocation returns the handler's result
    expect(first.error).toBeUndefined();
    expect(first.result).toMatchObject({ echo: { hello: 'world' }, requestId: first.requestId });
    expect(second.result).toMatchObject({ echo: { hello: 'again' }, requestId: second.requestId });
    expect(first.requestId).not.toEqual(second.requestId);
    const handlerView = first.result as { remainingMs: number; traceId: string };
    expect(handlerView.remainingMs).toBeGreaterThan(1000);
    expect(handlerView.remainingMs).toBeLessThanOrEqual(1500);

    // AND the extension got INVOKE events carrying the same request id and deadline (≈ now + timeout)
    const seen = eventsSeenBy(e, 'watcher');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({
      eventType: 'INVOKE',
      deadlineMs: first.deadlineMs,
      requestId: first.requestId,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:emulated-function',
      tracing: { type: 'X-Amzn-Trace-Id', value: handlerView.traceId },
    });
    expect(handlerView.traceId).toBe(traceId);
    expect(traceId).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1$/);
    // AND without a trace header neither the extension nor the runtime got a trace id (as rapid does)
    expect(seen[1]).not.toHaveProperty('tracing');
    expect((second.result as { traceId?: string }).traceId).toBeUndefined();
    expect(first.deadlineMs).toBeGreaterThanOrEqual(before + 1500);
    expect(first.deadlineMs).toBeLessThan(before + 1500 + 500);
    expect(e.jsonLines('watcher').find((l) => l.msg === 'event')!.eventId).toMatch(/^[0-9a-f-]{36}$/);

    // AND the recorder saw delivery to both at the same moment, then the response, then the extension's next
    const ev = e.events;
    const delivered = indexOf(ev, { type: 'invocation-delivered', requestId: first.requestId });
    const toExtension = indexOf(ev, { type: 'event-delivered', source: 'watcher', eventType: 'INVOKE', requestId: first.requestId });
    const response = indexOf(ev, { type: 'response', requestId: first.requestId });
    const done = indexOf(ev, { type: 'invoke-done', requestId: first.requestId });
    expect(delivered).toBeGreaterThan(-1);
    expect(toExtension).toBeGreaterThan(-1);
    expect(response).toBeGreaterThan(delivered);
    expect(done).toBeGreaterThan(response);
  });

  test('the invoke lasts until every extension is back in /event/next, and that time is the extension overhead', async () => {
    // GIVEN an extension that works 250 ms after each INVOKE
    const e = emulate({ busy: { invokeWorkMs: 250 } });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the function is invoked
    const result = await within(e.invoke({}), 5000, 'invoke');

    // THEN the overhead after the response is the extension's work
    expect(result.extensionOverheadMs).toBeGreaterThanOrEqual(230);
    expect(result.extensionOverheadMs).toBeLessThan(1000);
    expect(result.durationMs).toBeGreaterThanOrEqual(result.extensionOverheadMs);
  });

  test('an extension registered only for SHUTDOWN gets no INVOKE and does not hold up the invoke', async () => {
    const e = emulate({ closer: { events: ['SHUTDOWN'] } });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    const result = await within(e.invoke({}), 5000, 'invoke');
    const shutdown = await within(e.shutdown(), 5000, 'shutdown');

    expect(result.error).toBeUndefined();
    expect(eventsSeenBy(e, 'closer').map((x) => x.eventType)).toEqual(['SHUTDOWN']);
    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'closer', exitCode: 0, killed: false })]);
  });

  test('a handler error is returned as the invocation error', async () => {
    const e = emulate({ ext: {} });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    const result = await within(e.invoke({ fail: 'no such user' }), 5000, 'invoke');

    expect(result.result).toBeUndefined();
    expect(result.error).toEqual({ errorType: 'FixtureError', errorMessage: 'no such user' });
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'invocation-error', requestId: result.requestId, errorType: 'FixtureError' }));
    // AND the environment stays usable, as in Lambda
    expect((await within(e.invoke({}), 5000, 'invoke')).error).toBeUndefined();
  });

  test('a handler that outlives the timeout is timed out, and the environment must be shut down', async () => {
    // GIVEN a function timeout of 500 ms
    const e = emulate({ ext: {} }, { timeout: 500 });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the handler sleeps for 3 s
    const result = await within(e.invoke({ sleepMs: 3000 }), 3000, 'invoke');

    // THEN the invocation ends at the deadline with Lambda's timeout error and the runtime is killed
    expect(result.error).toEqual({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 0.50 seconds' });
    expect(result.durationMs).toBeGreaterThanOrEqual(450);
    expect(result.durationMs).toBeLessThan(1500);
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'kill', source: 'runtime' }));
    await expect(e.invoke({})).rejects.toThrow(/Sandbox.Timedout/);

    // AND the shutdown that follows tells the extension why
    const shutdown = await within(e.shutdown('timeout'), 5000, 'shutdown');
    expect(eventsSeenBy(e, 'ext').pop()).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'timeout' });
    expect(shutdown.extensions[0]).toMatchObject({ name: 'ext', exitCode: 0, killed: false });
  });

  test('an extension that crashes during an invoke fails it, and the environment must be shut down', async () => {
    // GIVEN an extension that exits 4 on INVOKE
    const e = emulate({ fragile: { behaviour: 'crash-on-invoke' } });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the function is invoked
    const result = await within(e.invoke({}), 5000, 'invoke');

    // THEN the invocation fails with Extension.Crash, recorded as an unexpected exit
    expect(result.error).toEqual({ errorType: 'Extension.Crash', errorMessage: 'extension fragile exited (exit code 4)' });
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'exit', source: 'fragile', exitCode: 4, unexpected: true }));
    await expect(e.invoke({})).rejects.toThrow(/Extension.Crash/);
    const shutdown = await within(e.shutdown('failure'), 5000, 'shutdown');
    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'fragile', exitCode: 4, killed: false })]);
  });

  test('invoke before start is refused', async () => {
    const e = emulate({});
    await expect(e.invoke({})).rejects.toThrow(/started/);
  });
});

describe('SHUTDOWN', () => {
  test('the runtime is stopped, then extensions get SHUTDOWN with a deadline 2 s away and exit', async () => {
    // GIVEN a started environment with an extension that reports an exit error when it stops
    const e = emulate({ tidy: { exitErrorOnShutdown: true } });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);
    await within(e.invoke({}), 5000, 'invoke');

    // WHEN the environment spins down
    const before = Date.now();
    const result = await within(e.shutdown(), 5000, 'shutdown');

    // THEN the extension got SHUTDOWN with deadlineMs ≈ now + 2000 and exited 0 in time
    const shutdownEvent = eventsSeenBy(e, 'tidy').pop()!;
    expect(shutdownEvent).toEqual({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: result.deadlineMs });
    expect(result.deadlineMs).toBeGreaterThanOrEqual(before + 2000);
    expect(result.deadlineMs).toBeLessThan(before + 2000 + 200);
    expect(result.reason).toBe('spindown');
    expect(result.extensions).toEqual([{ name: 'tidy', exitCode: 0, signal: null, killed: false, durationMs: expect.any(Number) }]);
    expect(result.durationMs).toBeLessThan(1500);

    // AND the runtime was stopped with SIGTERM before the extensions were told
    expect(result.runtime).toMatchObject({ signal: 'SIGTERM', killed: false });
    const ev = e.events;
    expect(indexOf(ev, { type: 'exit', source: 'runtime' })).toBeLessThan(indexOf(ev, { type: 'event-delivered', eventType: 'SHUTDOWN' }));
    expect(indexOf(ev, { type: 'exit', source: 'runtime' })).toBeGreaterThan(indexOf(ev, { type: 'signal', source: 'runtime', signal: 'SIGTERM' }));

    // AND the exit error was acknowledged and recorded
    expect(e.jsonLines('tidy').find((l) => l.msg === 'exit-error')).toMatchObject({ status: 202, body: { status: 'OK' } });
    expect(ev).toContainEqual(expect.objectContaining({ type: 'exit-error', source: 'tidy', errorType: 'Extension.Flushed', errorMessage: 'reported at exit' }));
    expect(ev).toContainEqual(expect.objectContaining({ type: 'exit', source: 'tidy', exitCode: 0, unexpected: false }));
  });

  test('a runtime that ignores SIGTERM is killed after 30 % of the window, and only then do extensions get SHUTDOWN', async () => {
    // GIVEN a runtime that ignores SIGTERM, beside one extension
    const e = emulate({ ext: {} }, { environment: { FIXTURE_IGNORE_SIGTERM: '1' } });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the environment spins down
    const result = await within(e.shutdown(), 5000, 'shutdown');

    // THEN the runtime was SIGKILLed 600 ms (30 % of 2000) after SIGTERM, before SHUTDOWN went out
    const ev = e.events;
    const sigterm = ev[indexOf(ev, { type: 'signal', source: 'runtime', signal: 'SIGTERM' })];
    const kill = ev[indexOf(ev, { type: 'kill', source: 'runtime' })];
    expect(kill.t - sigterm.t).toBeGreaterThanOrEqual(590);
    expect(kill.t - sigterm.t).toBeLessThan(1100);
    expect(indexOf(ev, { type: 'event-delivered', eventType: 'SHUTDOWN' })).toBeGreaterThan(indexOf(ev, { type: 'kill', source: 'runtime' }));
    expect(result.runtime).toMatchObject({ killed: true, signal: 'SIGKILL' });
    expect(result.extensions).toEqual([expect.objectContaining({ name: 'ext', exitCode: 0, killed: false })]);
  });

  test('without extensions the runtime is killed at once, with no SIGTERM', async () => {
    const e = emulate({});
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    const result = await within(e.shutdown(), 5000, 'shutdown');

    expect(e.events.filter((x) => x.type === 'signal')).toEqual([]);
    expect(result.runtime).toMatchObject({ killed: true, signal: 'SIGKILL' });
  });

  test('the reason given is the SHUTDOWN event\'s, including RIE\'s SandboxTerminated', async () => {
    const e = emulate({ ext: {} });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    const result = await within(e.shutdown('SandboxTerminated'), 5000, 'shutdown');

    expect(result.reason).toBe('SandboxTerminated');
    expect(eventsSeenBy(e, 'ext').pop()).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'SandboxTerminated' });
  });

  test('an extension that ignores SHUTDOWN is killed at the deadline', async () => {
    // GIVEN one extension that ignores SHUTDOWN and one that obeys
    const e = emulate({ deaf: { behaviour: 'ignore-shutdown' }, obedient: {} });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    // WHEN the environment spins down
    const started = Date.now();
    const result = await within(e.shutdown(), 5000, 'shutdown');
    const took = Date.now() - started;

    // THEN shutdown returns at about the 2 s deadline, with the deaf extension SIGKILLed
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(2800);
    expect(result.extensions).toEqual([
      { name: 'deaf', exitCode: null, signal: 'SIGKILL', killed: true, durationMs: expect.any(Number) },
      { name: 'obedient', exitCode: 0, signal: null, killed: false, durationMs: expect.any(Number) },
    ]);
    expect(result.extensions[0].durationMs).toBeGreaterThanOrEqual(1900);
    expect(e.jsonLines('deaf').map((l) => l.msg)).toContain('ignoring shutdown');
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'kill', source: 'deaf', signal: 'SIGKILL' }));
  });

  test('shutdownTimeout sets the SHUTDOWN deadline', async () => {
    const e = emulate({ deaf: { behaviour: 'ignore-shutdown' } }, { shutdownTimeout: 600 });
    expect((await within(e.start(), 10_000, 'start')).ok).toBe(true);

    const started = Date.now();
    const result = await within(e.shutdown('failure'), 5000, 'shutdown');

    expect(Date.now() - started).toBeLessThan(1400);
    expect(result.deadlineMs - started).toBeGreaterThanOrEqual(600);
    expect(result.deadlineMs - started).toBeLessThan(800);
    expect(eventsSeenBy(e, 'deaf').pop()).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'failure' });
    expect(result.extensions[0]).toMatchObject({ killed: true });
  });
});

describe('close', () => {
  test('close kills everything, may be called twice, and ends a start in progress', async () => {
    // GIVEN an environment whose init is still running
    const e = emulate({ slow: { readyDelayMs: 5000 } });
    const starting = e.start();
    await new Promise((r) => setTimeout(r, 300));

    // WHEN it is closed twice
    await within(Promise.all([e.close(), e.close()]), 5000, 'close');

    // THEN start gives up and every process is gone
    expect(await within(starting, 2000, 'start')).toMatchObject({ ok: false, errorType: 'Emulator.Closed' });
    expect(e.events).toContainEqual(expect.objectContaining({ type: 'exit', source: 'slow', signal: 'SIGKILL' }));
    const shutdown = await within(e.shutdown(), 2000, 'shutdown');
    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'slow', killed: true })]);
  });

  test('close right after start, and shutdown before start, leave nothing behind', async () => {
    // GIVEN an emulator closed in the same tick as it starts
    const e = emulate({ ext: {} });
    const starting = e.start();
    await within(e.close(), 5000, 'close');

    // THEN start gives up without spawning anything
    expect(await within(starting, 2000, 'start')).toMatchObject({ ok: false, errorType: 'Emulator.Closed' });
    expect(e.events.filter((x) => x.type === 'spawn')).toEqual([]);

    // AND an emulator that never started shuts down at once
    const unused = new LambdaEmulator({ layerDir: layerDir!, handler: { file: HANDLER_FILE } });
    expect(await within(unused.shutdown(), 2000, 'shutdown')).toMatchObject({ reason: 'spindown', extensions: [], durationMs: 0 });
  });

  test('a relative handler path is refused', () => {
    expect(() => new LambdaEmulator({ layerDir: FIXTURES, handler: { file: path.join('fixtures', 'handler.cjs') } }))
      .toThrow(/absolute/);
  });
});
