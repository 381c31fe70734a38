import * as http from 'node:http';
import { HANDLER_FILE, makeLayer, removeLayer } from './fixtures/layer';
import { LambdaEmulator } from '../../emulator/src';
import { RawReply, send } from '../support/http-client';
import { within } from '../support/within';

/** No keep-alive: each row gets a fresh connection, as an extension's client would. */
const agent = new http.Agent({ keepAlive: false });

function request(address: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawReply> {
  return send(`http://${address}`, { method, path, headers, body }, agent);
}

describe('API error responses of a running environment', () => {
  let emu: LambdaEmulator;
  let layerDir: string;
  let extensionId: string;

  beforeAll(async () => {
    layerDir = makeLayer({ ext: {} });
    emu = new LambdaEmulator({ layerDir, handler: { file: HANDLER_FILE } });
    const init = await within(emu.start(), 10_000, 'start');
    expect(init.ok).toBe(true);
    extensionId = emu.jsonLines('ext').find((l) => l.msg === 'register')!.id as string;
  });

  afterAll(async () => {
    await emu.close();
    removeLayer(layerDir);
  });

  const ID = '<registered id>';
  const cases: Array<[string, string, string, Record<string, string>, string | undefined, number, Record<string, unknown>]> = [
    ['register after INIT', 'POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': 'ext' }, '{"events":["INVOKE"]}',
      403, { errorType: 'Extension.RegistrationClosed' }],
    ['register without a name', 'POST', '/2020-01-01/extension/register', {}, '{"events":["INVOKE"]}',
      403, { errorType: 'Extension.InvalidExtensionName' }],
    ['next without identifier', 'GET', '/2020-01-01/extension/event/next', {}, undefined,
      403, { errorType: 'Extension.UnknownExtensionIdentifier' }],
    ['next with unknown identifier', 'GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': 'nope' }, undefined,
      403, { errorType: 'Extension.UnknownExtensionIdentifier' }],
    ['init/error with unknown identifier', 'POST', '/2020-01-01/extension/init/error',
      { 'Lambda-Extension-Identifier': 'nope', 'Lambda-Extension-Function-Error-Type': 'Extension.X' }, '{}',
      403, { errorType: 'Extension.UnknownExtensionIdentifier' }],
    ['exit/error without error type', 'POST', '/2020-01-01/extension/exit/error', { 'Lambda-Extension-Identifier': ID }, '{}',
      400, { errorType: 'InvalidRequestFormat' }],
    ['exit/error without body', 'POST', '/2020-01-01/extension/exit/error',
      { 'Lambda-Extension-Identifier': ID, 'Lambda-Extension-Function-Error-Type': 'Extension.NoBody' }, undefined,
      202, { status: 'OK' }],
    ['unknown extension route', 'GET', '/2020-01-01/extension/telemetry', {}, undefined,
      404, { errorType: 'InvalidRequest' }],
    ['response for an unknown request id', 'POST', '/2018-06-01/runtime/invocation/nope/response', {}, '{}',
      400, { errorType: 'InvalidRequestID' }],
    ['error for an unknown request id', 'POST', '/2018-06-01/runtime/invocation/nope/error', {}, '{}',
      400, { errorType: 'InvalidRequestID' }],
    ['unknown path', 'GET', '/nowhere', {}, undefined,
      404, { errorType: 'InvalidRequest' }],
  ];

  test.each(cases)('%s', async (_name, method, path, headers, body, status, expected) => {
    // GIVEN the identifier of the registered extension where a row asks for it
    const resolved = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v === ID ? extensionId : v]));

    // WHEN the request is sent
    const answer = await within(request(emu.apiAddress, method, path, resolved, body), 3000, `${method} ${path}`);

    // THEN the status and body are the documented ones
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject(expected);
  });

  test('a bodiless exit/error is recorded with its header type', () => {
    expect(emu.events).toContainEqual(expect.objectContaining({ type: 'exit-error', source: 'ext', errorType: 'Extension.NoBody' }));
  });

  test('the environment still works after the bad requests, and output is attributed by source and stream', async () => {
    const result = await within(emu.invoke({ ok: true }), 5000, 'invoke');

    expect(result.result).toMatchObject({ echo: { ok: true } });
    expect(emu.output).toContainEqual(expect.objectContaining({ source: 'runtime', stream: 'stdout', line: expect.stringContaining('handler module loaded') }));
    expect(emu.jsonLines('runtime').map((l) => l.msg)).toEqual(['handler module loaded', 'invoked']);
    expect(emu.output.every((l) => typeof l.t === 'number')).toBe(true);
  });
});
