/**
 * The Extensions API's transport, one HTTP/1.1 request on a bare socket, against real loopback
 * servers: one that answers like the Extensions API (and, row by row, like it might: chunked,
 * late), and raw ones that answer what no HTTP server library would send.
 */
import * as net from 'node:net';
import { FakeExtensionsApi } from './fake-extensions-api';
import { NoAnswerError, parseAnswer, requestOverSocket, SocketRequest } from '../../../runtime/src/lambda/http-over-socket';
import { freePort } from '../../support/layer';

const REGISTER: SocketRequest = {
  method: 'POST',
  path: '/2020-01-01/extension/register',
  headers: { 'Lambda-Extension-Name': 'opa', 'Content-Type': 'application/json' },
  body: Buffer.from('{"events":["INVOKE","SHUTDOWN"]}'),
};
const REGISTERED = { functionName: 'my-function', functionVersion: '$LATEST', handler: 'index.handler', accountId: '123456789012' };

let api: FakeExtensionsApi;
let host: string;
let port: number;

beforeEach(async () => {
  api = new FakeExtensionsApi();
  [host, port] = (await api.start()).split(':').map((part, i) => (i === 0 ? part : Number(part))) as [string, number];
});

afterEach(async () => {
  await api.close();
});

/** A loopback server that answers every connection with `answer(request text)`, written as given; `end` false leaves the connection open. */
async function rawServer(answer: (request: string) => string, end = true): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      requests.push(text);
      socket.write(answer(text));
      if (end) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('requestOverSocket', () => {
  test('WHEN the server answers THEN it resolves with status, headers in lower case and body, having sent the body with its length and Connection: close', async () => {
    const answer = await requestOverSocket(host, port, REGISTER);

    expect(answer.status).toBe(200);
    expect(answer.headers['lambda-extension-identifier']).toBe('a1b2c3d4-5678-90ab-cdef-EXAMPLE11111');
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual(REGISTERED);
    expect(api.requests).toEqual([expect.objectContaining({
      method: 'POST',
      route: '/register',
      body: { events: ['INVOKE', 'SHUTDOWN'] },
      headers: expect.objectContaining({ 'host': `${host}:${port}`, 'connection': 'close', 'content-length': String(REGISTER.body!.length), 'lambda-extension-name': 'opa' }),
    })]);
  });

  test('WHEN the answer is chunked THEN its body is read whole', async () => {
    api.replies.set('POST /register', { headers: { 'Transfer-Encoding': 'chunked' }, body: REGISTERED });

    const answer = await requestOverSocket(host, port, REGISTER);

    expect(JSON.parse(answer.body.toString('utf8'))).toEqual(REGISTERED);
  });

  test('WHEN the answer is whole but the server keeps the connection open THEN it resolves (it does not wait for the end)', async () => {
    const server = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}', false);
    try {
      const answer = await requestOverSocket('127.0.0.1', server.port, { method: 'GET', path: '/event/next', headers: {} });
      expect(answer.body.toString()).toBe('{}');
    } finally {
      await server.close();
    }
  });

  test('WHEN the server ends the connection before the body is whole THEN it rejects, saying so', async () => {
    const server = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}');
    try {
      await expect(requestOverSocket('127.0.0.1', server.port, REGISTER)).rejects.toThrow('the body ended before its Content-Length (10)');
    } finally {
      await server.close();
    }
  });

  test('WHEN the answer is framed by the end of the connection THEN its body is what came before the end', async () => {
    const server = await rawServer(() => 'HTTP/1.0 202 Accepted\r\n\r\n{"status":"OK"}');
    try {
      const answer = await requestOverSocket('127.0.0.1', server.port, REGISTER);
      expect([answer.status, answer.body.toString()]).toEqual([202, '{"status":"OK"}']);
      expect(server.requests[0]).toMatch(/^POST \/2020-01-01\/extension\/register HTTP\/1\.1\r\n/);
    } finally {
      await server.close();
    }
  });

  test('WHEN the request is sent THEN onSent is called once, before the answer is read, and what it throws does not fail the request', async () => {
    const answeredAtCalls: boolean[] = [];
    let answered = false;
    const onSent = (): void => {
      answeredAtCalls.push(answered);
      throw new Error('a load that failed');
    };

    const answer = await requestOverSocket(host, port, { ...REGISTER, onSent });
    answered = true;

    expect(answer.status).toBe(200);
    expect(answeredAtCalls).toEqual([false]);
    expect(api.requests).toHaveLength(1);
  });

  test('WHEN nothing listens THEN it rejects, and onSent is not called', async () => {
    const onSent = jest.fn();

    await expect(requestOverSocket('127.0.0.1', await freePort(), { ...REGISTER, onSent })).rejects.toThrow(/ECONNREFUSED/);
    expect(onSent).not.toHaveBeenCalled();
  });

  test('WHEN a header value would end its line THEN it rejects without sending anything', async () => {
    await expect(requestOverSocket(host, port, { ...REGISTER, headers: { 'Lambda-Extension-Name': 'opa\r\nX-Injected: 1' } }))
      .rejects.toThrow(/cannot send Lambda-Extension-Name/);
    expect(api.requests).toEqual([]);
  });

  test('WHEN the server does not answer in time THEN it rejects with NoAnswerError naming the limit', async () => {
    api.replies.set('POST /register', { delayMs: 2_000, body: REGISTERED });

    const err = await requestOverSocket(host, port, { ...REGISTER, timeoutMs: 100 }).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(NoAnswerError);
    expect((err as Error).message).toBe('did not answer within 100 ms');
  });

  test('WHEN no timeout is given THEN an answer that comes late is still read (the long poll)', async () => {
    api.replies.set('POST /register', { delayMs: 1_200, body: REGISTERED });

    const answer = await requestOverSocket(host, port, REGISTER);

    expect(JSON.parse(answer.body.toString('utf8'))).toEqual(REGISTERED);
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
