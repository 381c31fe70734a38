/**
 * YAML request bodies, below the server: what is converted and what is refused. The answers for
 * YAML OPA also reads are compared with OPA's in opa-differential.test.ts.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from '../../../runtime/src/server/errors';
import { jsonBody } from '../../../runtime/src/server/yaml-body';

const PREFIX = 'body contains malformed input document';

function request(contentType?: string): IncomingMessage {
  return { headers: contentType === undefined ? {} : { 'content-type': contentType } } as IncomingMessage;
}

describe('GIVEN a request body', () => {
  test.each([undefined, 'application/json', 'text/plain'])('WHEN the Content-Type is %s THEN the body is left as it is, even if it is YAML', (type) => {
    const body = Buffer.from('input: {a: 1}\n');
    expect(jsonBody(request(type), body, PREFIX)).toBe(body);
  });

  test('WHEN a body sent as YAML is JSON THEN it is read as JSON, byte for byte', () => {
    const body = Buffer.from('{"input": [9007199254740993]}');
    expect(jsonBody(request('application/x-yaml'), body, PREFIX)).toBe(body);
  });

  test.each(['application/x-yaml', 'application/yaml', 'text/yaml; charset=utf-8'])('WHEN the Content-Type is %s THEN YAML becomes JSON', (type) => {
    expect(jsonBody(request(type), Buffer.from('input:\n  n: 12345678901234567890\n  s: [yes, 0x10]\n'), PREFIX).toString())
      .toBe('{"input":{"n":12345678901234567890,"s":["yes",16]}}');
  });

  test('WHEN a YAML body is long and one flat mapping THEN it is read whole, the last of a repeated key winning', () => {
    // 30,000 keys: the yaml 1 parser checked each key against every other (seconds); this one does not check.
    const keys = Array.from({ length: 30_000 }, (_, i) => `  k${i}: ${i}`).join('\n');
    const body = Buffer.from(`input:\n${keys}\n  k7: last\n`);
    const input = (JSON.parse(jsonBody(request('application/x-yaml'), body, PREFIX).toString()) as { input: Record<string, unknown> }).input;
    expect(Object.keys(input)).toHaveLength(30_000);
    expect(input.k29999).toBe(29999);
    expect(input.k7).toBe('last');
  });

  test('WHEN an anchor is defined again THEN each alias takes the last definition before it', () => {
    expect(jsonBody(request('application/x-yaml'), Buffer.from('input: [&x 1, *x, &x 2, *x, {a: &x 3}, *x]\n'), PREFIX).toString())
      .toBe('{"input":[1,1,2,2,{"a":3},3]}');
  });

  test('WHEN a YAML alias bomb comes THEN it is refused as go-yaml refuses it, without expanding it', () => {
    const levels = 'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`).join('\n');
    const body = Buffer.from(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n${levels}\ninput: *i\n`);
    expect(() => jsonBody(request('application/x-yaml'), body, PREFIX)).toThrow(ApiError);
    expect(() => jsonBody(request('application/x-yaml'), body, PREFIX)).toThrow(`${PREFIX}: yaml: document contains excessive aliasing`);
  });
});
