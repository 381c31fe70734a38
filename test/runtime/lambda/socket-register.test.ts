/**
 * The fast start's `/register` on a bare socket, against a real loopback server that answers like
 * the Extensions API (and, row by row, like it might: chunked, refusing, without an identifier).
 */
import { EXTENSION_ID, FakeExtensionsApi } from './fake-extensions-api';
import { parseAnswer, registerOverSocket } from '../../../runtime/src/lambda/socket-register';
import { freePort } from '../../support/layer';

const REGISTERED = { functionName: 'my-function', functionVersion: '$LATEST', handler: 'index.handler', accountId: '123456789012' };

let api: FakeExtensionsApi;
let runtimeApi: string;

beforeEach(async () => {
  api = new FakeExtensionsApi();
  runtimeApi = await api.start();
});

afterEach(async () => {
  await api.close();
});

describe('registerOverSocket', () => {
  test('WHEN Lambda answers THEN it resolves with the body and the identifier, having sent what the full client sends', async () => {
    const result = await registerOverSocket(runtimeApi, 'opa');

    expect(result).toEqual({ registered: REGISTERED, identifier: EXTENSION_ID });
    expect(api.requests).toEqual([expect.objectContaining({
      method: 'POST',
      route: '/register',
      body: { events: ['INVOKE', 'SHUTDOWN'] },
      headers: expect.objectContaining({ 'lambda-extension-name': 'opa', 'lambda-extension-accept-feature': 'accountId', 'content-type': 'application/json' }),
    })]);
  });

  test('WHEN the answer is chunked THEN its body is read whole', async () => {
    api.replies.set('POST /register', { headers: { 'Lambda-Extension-Identifier': 'id-chunked', 'Transfer-Encoding': 'chunked' }, body: REGISTERED });

    await expect(registerOverSocket(runtimeApi, 'opa')).resolves.toEqual({ registered: REGISTERED, identifier: 'id-chunked' });
  });

  test.each([
    ['a refusal', { status: 403, body: { errorType: 'Extension.Forbidden', errorMessage: 'no' } }, /answered 403: .*Extension.Forbidden/],
    ['no identifier', { body: REGISTERED }, /without a Lambda-Extension-Identifier/],
    ['a body that is not an object', { headers: { 'Lambda-Extension-Identifier': 'x' }, body: '[1]' }, /not a JSON object/],
  ])('WHEN Lambda answers with %s THEN it rejects, saying why', async (_, reply, message) => {
    api.replies.set('POST /register', reply);

    await expect(registerOverSocket(runtimeApi, 'opa')).rejects.toThrow(message);
  });

  test('WHEN the request is sent THEN onSent is called once, before the answer is read, and what it throws does not fail the registration', async () => {
    const answeredAtCalls: boolean[] = [];
    let answered = false;
    const onSent = (): void => {
      answeredAtCalls.push(answered);
      throw new Error('a load that failed');
    };

    const result = await registerOverSocket(runtimeApi, 'opa', undefined, onSent);
    answered = true;

    expect(result).toEqual({ registered: REGISTERED, identifier: EXTENSION_ID });
    expect(answeredAtCalls).toEqual([false]);
    expect(api.requests).toHaveLength(1);
  });

  test('WHEN nothing listens THEN it rejects, and onSent is not called', async () => {
    const onSent = jest.fn();

    await expect(registerOverSocket(`127.0.0.1:${await freePort()}`, 'opa', undefined, onSent)).rejects.toThrow(/ECONNREFUSED/);
    expect(onSent).not.toHaveBeenCalled();
  });

  test('WHEN the name would end its header line THEN it rejects without sending anything', async () => {
    await expect(registerOverSocket(runtimeApi, 'opa\r\nX-Injected: 1')).rejects.toThrow(/cannot send Lambda-Extension-Name/);
    expect(api.requests).toEqual([]);
  });

  test('WHEN Lambda does not answer in time THEN it rejects naming the limit', async () => {
    api.replies.set('POST /register', { delayMs: 2_000, headers: { 'Lambda-Extension-Identifier': 'x' }, body: REGISTERED });

    await expect(registerOverSocket(runtimeApi, 'opa', 100)).rejects.toThrow(/did not answer within 100 ms/);
  });
});

describe('parseAnswer', () => {
  test.each([
    ['Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A:  b \r\n\r\n{}trailing', '{}'],
    ['chunks with extensions', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n', '{"a":1}'],
    ['the end of the connection', 'HTTP/1.0 202 Accepted\r\n\r\nok', 'ok'],
  ])('GIVEN an answer framed by %s WHEN read THEN the body is what was sent', (_, raw, body) => {
    const answer = parseAnswer(Buffer.from(raw, 'latin1'));

    expect(answer.body.toString('utf8')).toBe(body);
  });

  test.each([
    ['no end of headers', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n', /ended before its headers/],
    ['no status line', 'HTTP/2 200\r\n\r\n', /not an HTTP\/1.x status line/],
    ['a short body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}', /ended before its Content-Length/],
    ['a cut chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}', /ended inside a chunk/],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /bad chunk size/],
  ])('GIVEN %s WHEN read THEN it throws', (_, raw, message) => {
    expect(() => parseAnswer(Buffer.from(raw, 'latin1'))).toThrow(message);
  });

  test('GIVEN headers WHEN read THEN names are in lower case and values trimmed', () => {
    expect(parseAnswer(Buffer.from('HTTP/1.1 200 OK\r\nLambda-Extension-Identifier:  id-1 \r\n\r\n', 'latin1'))).toMatchObject({ status: 200, headers: { 'lambda-extension-identifier': 'id-1' } });
  });
});
