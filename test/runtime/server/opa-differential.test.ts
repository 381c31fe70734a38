/**
 * Differential test: the same requests sent to OPA's own server (`opa run --server`, the pinned
 * CLI, loaded with the Rego build of the bundle) and to the extension's server (the Wasm build of
 * the same sources, same name and revision). Status codes and bodies must match, apart from what
 * is random or timing (`decision_id`, `metrics` values) and the intended differences below.
 *
 * Intended differences (rows marked `intended`, each checked on both sides so a change shows):
 * - Writes (`PUT`/`PATCH`/`DELETE` on `/v1/data`, `PUT`/`DELETE` on `/v1/policies`): OPA changes its
 *   store (204) or refuses under a bundle root (400); the extension is read-only, policies and data
 *   come from bundles, so it answers 405 with a message saying so.
 * - `GET /v1/policies`: OPA lists Rego modules and their AST; the extension holds Wasm only: 405.
 * - `POST /v1/batch/data`: not in open-source OPA (404 text/plain); the extension serves the batch
 *   API of Enterprise OPA, which the SDKs' `evaluateBatch` calls.
 * - `POST /v1/data` (the root): OPA evaluates the whole data tree; a Wasm policy only evaluates the
 *   entrypoints it was compiled with, so the extension answers undefined.
 * - A failing policy: both 500 `internal_error`; OPA's message is "error(s) occurred while
 *   evaluating query" with an `errors` list from its evaluator, the extension's carries the Wasm
 *   abort reason.
 * - Unknown routes and wrong methods: OPA answers text/plain; every extension response is JSON.
 * - `provenance`: `version` is the extension's; OPA's empty `build_*` fields are not sent.
 * - `metrics`: the extension reports `timer_rego_input_parse_ns`, `timer_rego_query_eval_ns` and
 *   `timer_server_handler_ns` only (no compile timer: the query was compiled at build time).
 * - Key order: OPA sorts the keys of objects in a result; the extension keeps the order the Wasm
 *   policy produced (same JSON value, different text), so `pretty` text is compared on arrays only.
 * - Numbers: both keep them as written (the extension hands the request's JSON text to the Wasm
 *   policy and its result's text back), so those rows compare the text.
 * - Malformed bodies: same status, code and message prefix; the parser's own reason differs (Go's
 *   `encoding/json` and V8's `JSON.parse` word it differently), so only the prefix is compared.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { BUNDLE_NAME, restApiEngine, restApiRegoBundle } from './rest-api-fixture';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { PolicyServer } from '../../../runtime/src/server/server';
import { RawReply, RawRequest, send } from '../../support/http-client';
import { OpaServer, startOpaServer } from '../../support/opa-server';

const MAX_BODY = 4096;
const MAX_INFLATED = 16_384;
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
const aliceWrites = { user: 'alice', action: 'write', type: 'document' };
const bobWrites = { user: 'bob', action: 'write', type: 'document' };
const gzipJson = { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' };
const yaml = { 'Content-Type': 'application/x-yaml' };

interface Row extends RawRequest {
  readonly name: string;
  /** Compare error messages only up to the end of this prefix. */
  readonly messagePrefix?: string;
  /** Compare the text byte for byte (e.g. `?pretty`), not only the parsed JSON. */
  readonly sameText?: boolean;
  /** An intended difference: the status each side answers, and why. */
  readonly intended?: { readonly opa: number; readonly extension: number; readonly why: string };
}

const rows: Row[] = [
  { name: 'POST allowed', method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: aliceWrites }) },
  { name: 'POST denied', method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: bobWrites }) },
  { name: 'POST a set', method: 'POST', path: '/v1/data/app/rbac/reasons', body: JSON.stringify({ input: bobWrites }) },
  { name: 'POST a whole package', method: 'POST', path: '/v1/data/app/multi', body: '{"input": {"name": "pkg"}}' },
  { name: 'POST below an entrypoint', method: 'POST', path: '/v1/data/app/multi/limits/max', body: '{"input": {}}' },
  { name: 'POST an array index', method: 'POST', path: '/v1/data/app/multi/limits/tiers/1', body: '{"input": {}}' },
  { name: 'an array index with a leading zero', method: 'GET', path: '/v1/data/app/multi/limits/tiers/01' },
  { name: 'POST data below an entrypoint', method: 'POST', path: '/v1/data/app/multi/user_count', body: '{"input": {}}' },
  { name: 'POST undefined', method: 'POST', path: '/v1/data/app/multi/nope', body: '{"input": {}}' },
  { name: 'POST under no entrypoint', method: 'POST', path: '/v1/data/elsewhere/x', body: '{"input": {}}' },
  { name: 'POST no body', method: 'POST', path: '/v1/data/app/multi/limits/max' },
  { name: 'POST null', method: 'POST', path: '/v1/data/app/multi/limits/max', body: 'null' },
  { name: 'POST a null input', method: 'POST', path: '/v1/data/app/multi/limits/max', body: '{"input": null}' },
  { name: 'POST input false', method: 'POST', path: '/v1/data/app/multi/echo', body: '{"input": false}' },
  { name: 'POST percent-encoding', method: 'POST', path: '/v1/data/app/%6Dulti/greeting', body: '{"input": {"name": "a b"}}' },
  { name: 'POST malformed', method: 'POST', path: '/v1/data/app/rbac/allow', body: '{"input": ', messagePrefix: 'body contains malformed input document: ' },
  { name: 'POST an array body', method: 'POST', path: '/v1/data/app/rbac/allow', body: '[1]', messagePrefix: 'body contains malformed input document: ' },
  { name: 'GET without input', method: 'GET', path: '/v1/data/app/rbac/allow' },
  { name: 'GET with input', method: 'GET', path: `/v1/data/app/rbac/allow?input=${q(aliceWrites)}` },
  { name: 'GET a malformed input', method: 'GET', path: '/v1/data/app/rbac/allow?input=%7B', messagePrefix: 'parameter contains malformed input document: ' },
  { name: 'pretty', method: 'GET', path: '/v1/data/app/multi/limits/tiers?pretty', sameText: true },
  { name: 'pretty=false', method: 'GET', path: '/v1/data/app/multi/limits/tiers?pretty=false', sameText: true },
  { name: 'pretty, an object', method: 'GET', path: '/v1/data/app/multi/limits?pretty' },
  { name: 'metrics', method: 'GET', path: '/v1/data/app/multi/limits/max?metrics' },
  { name: 'metrics=TRUE', method: 'POST', path: '/v1/data/app/multi/limits/max?metrics=TRUE', body: '{"input": 1}' },
  { name: 'metrics=1', method: 'GET', path: '/v1/data/app/multi/limits/max?metrics=1' },
  { name: 'instrument', method: 'GET', path: '/v1/data/app/multi/limits/max?instrument' },
  { name: 'provenance', method: 'GET', path: '/v1/data/app/multi/limits/max?provenance' },
  { name: 'provenance=1', method: 'GET', path: '/v1/data/app/multi/limits/max?provenance=1' },
  { name: 'POST / defined', method: 'POST', path: '/', body: '{"name": "ann"}' },
  { name: 'POST / undefined', method: 'POST', path: '/', body: '{}' },
  { name: 'POST / without a body', method: 'POST', path: '/' },
  { name: 'POST / malformed', method: 'POST', path: '/', body: '{bad', messagePrefix: 'unexpected parse error for input: body contains malformed input document: ' },
  { name: 'POST /v0/data', method: 'POST', path: '/v0/data/app/multi/greeting', body: '{"name": "v0"}' },
  { name: 'POST /v0/data below an entrypoint', method: 'POST', path: '/v0/data/app/multi/limits', body: '{}' },
  { name: 'POST /v0/data without a body is a null input', method: 'POST', path: '/v0/data/app/echo/got' },
  { name: 'POST /v0/data with a JSON null', method: 'POST', path: '/v0/data/app/echo/got', body: 'null' },
  { name: 'POST /v0/data missing', method: 'POST', path: '/v0/data/app/multi/nope', body: '{}' },
  { name: 'a gzip body', method: 'POST', path: '/v1/data/app/multi/greeting', headers: gzipJson, body: zlib.gzipSync('{"input": {"name": "gz"}}') },
  { name: 'a gzip body to POST /', method: 'POST', path: '/', headers: gzipJson, body: zlib.gzipSync('{"name": "gz"}') },
  { name: 'a gzip body to POST /v0/data', method: 'POST', path: '/v0/data/app/multi/greeting', headers: gzipJson, body: zlib.gzipSync('{"name": "gz"}') },
  { name: 'not gzip', method: 'POST', path: '/v1/data/app/multi/greeting', headers: gzipJson, body: '{"input": {}}', messagePrefix: 'could not decompress the body: ' },
  {
    name: 'gzip inflating past the limit',
    method: 'POST',
    path: '/v1/data/app/multi/greeting',
    headers: gzipJson,
    body: zlib.gzipSync(JSON.stringify({ input: { name: 'x'.repeat(MAX_INFLATED) } })),
  },
  { name: 'a body over the limit', method: 'POST', path: '/v1/data/app/multi/greeting', body: JSON.stringify({ input: { name: 'x'.repeat(MAX_BODY) } }) },
  // OPA refuses a body announced over the limit before it routes the request.
  { name: 'a body over the limit to POST /', method: 'POST', path: '/', body: JSON.stringify({ name: 'x'.repeat(MAX_BODY) }) },
  { name: 'a body over the limit to PUT a policy', method: 'PUT', path: '/v1/policies/p', body: 'x'.repeat(MAX_BODY + 1) },
  { name: 'a large response, gzip accepted', method: 'GET', path: `/v1/data/app/multi/echo?input=${q('y'.repeat(1500))}`, headers: { 'Accept-Encoding': 'gzip' } },
  { name: 'a large response, gzip accepted, POST', method: 'POST', path: '/v1/data/app/multi/echo', headers: { 'Accept-Encoding': 'gzip' }, body: JSON.stringify({ input: 'y'.repeat(1500) }) },
  // OPA compresses the Data and Compile APIs only: not the default decision, not its errors elsewhere.
  { name: 'a large answer to POST /, gzip accepted', method: 'POST', path: '/', headers: { 'Accept-Encoding': 'gzip' }, body: JSON.stringify({ name: 'y'.repeat(1500) }) },
  // Exactness: OPA keeps numbers as written and decodes input as Go does.
  { name: 'an integer beyond 2^53', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": {"n": 9007199254740993}}', sameText: true },
  { name: 'a 30-digit integer', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 123456789012345678901234567890}', sameText: true },
  { name: '1e400', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": [1e400, -1E-400]}', sameText: true },
  { name: 'a long decimal', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 3.14159265358979323846264338327950288}', sameText: true },
  { name: 'numbers as written', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": [1.0, -0, 1E2, 0.10]}', sameText: true },
  { name: 'an exact number in GET ?input=', method: 'GET', path: `/v1/data/app/echo/got?input=${encodeURIComponent('[9007199254740993]')}`, sameText: true },
  { name: 'an exact number to POST /v0/data', method: 'POST', path: '/v0/data/app/echo/got', body: '[12345678901234567890]', sameText: true },
  { name: 'an exact number, pretty', method: 'POST', path: '/v1/data/app/echo/got?pretty', body: '{"input": [9007199254740993, {"a": 1e400}]}', sameText: true },
  { name: 'a lone surrogate', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": ["\\ud800", "\\udc00x", "\\ud83d\\ude00"]}' },
  { name: 'characters of two, three and four bytes', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": {"name": "José", "x": "€ 😀"}}', sameText: true },
  { name: 'bytes that are not UTF-8', method: 'POST', path: '/v1/data/app/echo/got', body: Buffer.from([...Buffer.from('{"input": "a'), 0xff, 0xc3, ...Buffer.from('b"}')]) },
  // Bodies in printable ASCII that only look like the usual {"input": ...}: the server's one-pass
  // reader (soleMemberSpan) must leave each to JSON.parse, and OPA's answer must come back.
  { name: 'a leading zero', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 01}', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a trailing comma', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": [1,]}', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a tab inside a string', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": "a\tb"}', messagePrefix: 'body contains malformed input document: ' },
  { name: 'text after the body', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 1} x', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a truncated literal', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": {"a": tru}}', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a member after the input', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 1, "input": 2}', sameText: true },
  { name: 'a DEL inside a string', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": "a\x7fb"}', sameText: true },
  { name: 'text after the body to POST /', method: 'POST', path: '/', body: '{"name": "ann"} x' },
  { name: 'text after the body to POST /v0/data', method: 'POST', path: '/v0/data/app/multi/greeting', body: '{"name": "v0"} x' },
  { name: 'a second body after the first', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": 1}{"input": 2}' },
  { name: 'a malformed rest after the body', method: 'POST', path: '/v1/data/app/echo/got', body: '{"input": {"a": "\u00e9"}} ]["' },
  // Data numbers, as the bundle's data.json wrote them.
  { name: 'data numbers as written', method: 'GET', path: '/v1/data/app/echo/numbers', sameText: true },
  { name: 'an input equal to a data number beyond 2^53', method: 'POST', path: '/v1/data/app/echo/has', body: '{"input": 9007199254740993}', sameText: true },
  { name: 'an input one off a data number beyond 2^53', method: 'POST', path: '/v1/data/app/echo/has', body: '{"input": 9007199254740992}', sameText: true },
  // YAML bodies (a Content-Type that mentions yaml), read as OPA reads them with go-yaml v3.
  {
    name: 'a YAML body, each kind of scalar',
    method: 'POST',
    path: '/v1/data/app/echo/got',
    headers: yaml,
    body: 'input:\n  a: yes\n  b: 0777\n  c: 2001-12-14\n  e: 1.0\n  f: ~\n  g: [1, 2]\n  h: 0x1F\n  j: on\n  k: 1e400\n  m: 1:20\n  n: True\n'
      + '  q: "1"\n  r: !!str 12\n  s: |\n    block\n  t: 1_000\n  u: 0o17\n  v: 0b101\n  w: -0x10\n  x: +.5e1\n  y: 089\n  z: 12e\n  nul: NULL\n  no: \'single\'\n',
  },
  {
    name: 'a YAML body, numbers to 64 bits exact',
    method: 'POST',
    path: '/v1/data/app/echo/got',
    headers: yaml,
    body: 'input: [9007199254740993, 12345678901234567890, 123456789012345678901234567890, 18446744073709551616, 1e-7, -1.5E-10, 1.0e2, -0, -0.0, 0.000001, 1e21, +9223372036854775808]\n',
    sameText: true,
  },
  { name: 'a YAML body, a merge key', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'base: &b {x: 1, y: 1}\ninput:\n  y: 2\n  <<: [*b, {z: 3, x: 4}]\n' },
  { name: 'a YAML body, keys that are not strings', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input:\n  1: a\n  true: b\n  1.5: d\n  0x10: e\n' },
  { name: 'a YAML body, a repeated key', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: {a: 1, a: 2}\n' },
  { name: 'a YAML body, !!binary', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: !!binary aGVsbG8=\n' },
  { name: 'a YAML body, two documents', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: '---\ninput: 1\n---\ninput: 2\n' },
  { name: 'a YAML body without input', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'a: 1\n' },
  { name: 'a JSON body sent as YAML', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: '{"input": [9007199254740993, 1e400]}', sameText: true },
  { name: 'a YAML body to POST /', method: 'POST', path: '/', headers: yaml, body: 'name: yy\n' },
  { name: 'a YAML body to POST /v0/data', method: 'POST', path: '/v0/data/app/multi/greeting', headers: yaml, body: 'name: v0\n' },
  { name: 'a YAML body with .inf', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: [.inf]\n', messagePrefix: 'body contains malformed input document: ' },
  { name: 'malformed YAML', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: [unclosed\n', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a YAML body, a null key', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input:\n  ~: c\n', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a YAML body, an unknown alias', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: [a, *x]\n', messagePrefix: 'body contains malformed input document: ' },
  { name: 'a YAML body, an anchor defined again', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: [&x 1, *x, &x 2, *x, {a: &x 3}, *x]\n' },
  { name: 'a YAML body over the limit', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: `input:\n${Array.from({ length: 500 }, (_, i) => `  k${i}: ${i}\n`).join('')}` },
  { name: 'a YAML body, an anchor inside itself', method: 'POST', path: '/v1/data/app/echo/got', headers: yaml, body: 'input: &a [*a]\n', messagePrefix: 'body contains malformed input document: ' },
  {
    name: 'a YAML alias bomb',
    method: 'POST',
    path: '/v1/data/app/echo/got',
    headers: yaml,
    body: `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n${'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`).join('\n')}\ninput: *i\n`,
    messagePrefix: 'body contains malformed input document: ',
  },
  // Deeper input (5,000 and 10,000 levels, past OPA's limit) is in test/e2e/opa-exactness.test.ts: the
  // Wasm engine needs the stack the launcher gives it, and such bodies pass this server's 4 KB limit.
  { name: 'input nested 2,000 levels', method: 'POST', path: '/v1/data/app/echo/got', body: `{"input": ${'['.repeat(2000)}${']'.repeat(2000)}}`, sameText: true },
  { name: 'health', method: 'GET', path: '/health' },
  { name: 'health?bundles', method: 'GET', path: '/health?bundles' },
  { name: 'health?plugins', method: 'GET', path: '/health?plugins' },
  // Intended differences.
  { name: 'PUT data', method: 'PUT', path: '/v1/data/other', body: '{}', intended: { opa: 204, extension: 405, why: 'read-only store' } },
  { name: 'PUT data under a bundle root', method: 'PUT', path: '/v1/data/app/x', body: '{}', intended: { opa: 400, extension: 405, why: 'read-only store' } },
  { name: 'PATCH data', method: 'PATCH', path: '/v1/data/other', body: '[]', intended: { opa: 204, extension: 405, why: 'read-only store' } },
  { name: 'DELETE data', method: 'DELETE', path: '/v1/data/never', intended: { opa: 404, extension: 405, why: 'read-only store' } },
  { name: 'PUT a policy', method: 'PUT', path: '/v1/policies/p', body: 'package p\n', intended: { opa: 200, extension: 405, why: 'policies come from bundles' } },
  { name: 'GET the policies', method: 'GET', path: '/v1/policies', intended: { opa: 200, extension: 405, why: 'the extension holds Wasm, not Rego' } },
  { name: 'batch', method: 'POST', path: '/v1/batch/data/app/rbac/allow', body: '{"inputs": {"a": {}}}', intended: { opa: 404, extension: 200, why: 'Enterprise OPA batch API' } },
  { name: 'the data root', method: 'POST', path: '/v1/data', body: '{"input": {}}', intended: { opa: 200, extension: 200, why: 'Wasm evaluates compiled entrypoints only' } },
  { name: 'a failing policy', method: 'POST', path: '/v1/data/app/conflict/x', body: '{"input": {"a": true, "b": true}}', intended: { opa: 500, extension: 500, why: 'error details differ' } },
  { name: 'an unknown route', method: 'GET', path: '/v2/x', intended: { opa: 404, extension: 404, why: 'JSON error body' } },
];

/**
 * OPA 1.22.2 panics on a body labelled gzip that is not gzip when the gzip.Reader it takes from its
 * pool is a new one (`util.ReadMaybeCompressedBody` defers `Close`, which dereferences the new
 * reader's nil decompressor; its stderr shows the panic), and net/http closes the connection
 * unanswered. Whether the pool holds a used reader depends on OPA's garbage collector, so `not gzip`
 * failed now and then. A reader that has inflated a body does not panic: before each retry, one
 * valid gzip request gives the pool such a reader (checked: 200 of 200 refusals answered this way,
 * 28 of 200 without it).
 */
async function sendToOpa(base: string, row: Row): Promise<RawReply> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(base, row, new http.Agent());
    } catch (err) {
      if (attempt >= 5 || !/socket hang up|ECONNRESET/.test((err as Error).message)) throw err;
      await send(base, { method: 'POST', path: '/v1/data/app/multi/greeting', headers: gzipJson, body: zlib.gzipSync('{"input": {}}') }, new http.Agent());
    }
  }
}

/** What must be equal: status, and the body without random or timing values. */
function normalize(reply: RawReply, row: Row): unknown {
  const body = reply.body as Record<string, unknown> | undefined;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { status: reply.status, body };
  const out: Record<string, unknown> = { ...body };
  delete out.decision_id;
  if ('metrics' in out) {
    const timers = { timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) };
    expect(out.metrics).toEqual(expect.objectContaining(timers));
    out.metrics = '<metrics>';
  }
  if ('provenance' in out) {
    expect((out.provenance as { version?: unknown }).version).toEqual(expect.any(String));
    out.provenance = { bundles: (out.provenance as { bundles?: unknown }).bundles };
  }
  if (row.messagePrefix !== undefined && typeof out.message === 'string') {
    expect(out.message.startsWith(row.messagePrefix)).toBe(true);
    out.message = row.messagePrefix;
  }
  return { status: reply.status, gzip: reply.headers['content-encoding'] === 'gzip', vary: reply.headers.vary, body: out };
}

describe('GIVEN OPA and the extension loaded with the same bundle', () => {
  let opa: OpaServer | undefined;
  let extension: PolicyServer | undefined;
  let extensionBase: string;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-differential-'));
    const [rego, engine] = await Promise.all([restApiRegoBundle(), restApiEngine()]);
    fs.writeFileSync(path.join(dir, BUNDLE_NAME), rego);
    opa = await startOpaServer({
      cwd: dir,
      paths: [BUNDLE_NAME],
      args: ['--set', `server.decoding.max_length=${MAX_BODY}`, '--set', `server.decoding.gzip.max_length=${MAX_INFLATED}`],
    });
    extension = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, maxBodyBytes: MAX_BODY, maxDecompressedBodyBytes: MAX_INFLATED });
    extensionBase = `http://127.0.0.1:${(await extension.listen()).port}`;
  }, 60_000);

  afterAll(async () => {
    await opa?.stop();
    await extension?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const same = rows.filter((r) => !r.intended);
  const different = rows.filter((r) => r.intended);

  test.each(same)('WHEN $name ($method) THEN both answer the same', async (row) => {
    // A fresh connection per request on both sides: a refused body may close the socket.
    const theirs = await sendToOpa(opa!.url, row);
    const ours = await send(extensionBase, row, new http.Agent());

    expect(normalize(ours, row)).toEqual(normalize(theirs, row));
    if (row.sameText) expect(ours.text.trimEnd()).toBe(theirs.text.trimEnd());
    expect(ours.headers['content-type']).toBe('application/json');
  });

  test.each(different)('WHEN $name ($method) THEN they differ as intended: $intended.why', async (row) => {
    const theirs = await sendToOpa(opa!.url, row);
    const ours = await send(extensionBase, row, new http.Agent());

    expect(theirs.status).toBe(row.intended!.opa);
    expect(ours.status).toBe(row.intended!.extension);
    expect(ours.headers['content-type']).toBe('application/json');
  });
});
