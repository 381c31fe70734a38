/**
 * OPA's unversioned and v0 APIs, for webhooks that post their own document as the input and take
 * the bare value back (https://www.openpolicyagent.org/docs/rest-api#query-api and
 * https://www.openpolicyagent.org/docs/rest-api-v0): `POST /` evaluates the configured
 * `default_decision`, `POST /v0/data/{path}` the path. An undefined decision is 404
 * `undefined_document`, as in OPA's `unversionedPost` and `v0DataPost`.
 */
import { DecisionContext, DecisionInput, inputJson, makeDecision, parseBodyJson, pathSegments, scanRequestJson } from './decision';
import { ApiError, MALFORMED_INPUT } from './errors';
import { ApiRequest, Handler } from './routes';
import { jsonBody } from './yaml-body';
import { RawJson } from '../json-text';

const NULL_JSON = Buffer.from('null');

/** `POST /`: `defaultDecision` is a slash path without a leading slash (`system/main`). */
export function defaultDecisionHandler(ctx: DecisionContext, defaultDecision: string): Handler {
  const segments = pathSegments(defaultDecision.split('/').map(encodeURIComponent).join('/'));
  return (request) => bareDecision(ctx, request, segments);
}

/** `POST /v0/data/{path}`. */
export function dataV0PostHandler(ctx: DecisionContext): Handler {
  return (request) => bareDecision(ctx, request, pathSegments(request.rest));
}

async function bareDecision(ctx: DecisionContext, request: ApiRequest, segments: readonly string[]) {
  const startedAt = process.hrtime.bigint();
  // The body's first value is the input; an empty body is a null input, as OPA decodes it.
  const prefix = `unexpected parse error for input: ${MALFORMED_INPUT}`;
  const body = jsonBody(request.raw, await request.body(), prefix);
  const text = body.toString('utf8');
  let input: DecisionInput = { json: NULL_JSON };
  if (text.trim() !== '') {
    const { bytes } = parseBodyJson(body, text, prefix); // OPA's 400 for malformed JSON
    input = { json: inputJson(bytes, scanRequestJson(bytes, prefix), { start: 0, end: bytes.length }) };
  }
  const path = segments.join('/');
  const outcome = makeDecision(ctx, request.raw, segments, input, startedAt, false);
  if (outcome.error) throw outcome.error;
  if (outcome.resultJson === undefined) {
    // OPA says "undefined" when a rule exists but produced no value, "missing" when nothing is there.
    const kind = ctx.engine.entrypoints().includes(path) ? 'undefined' : 'missing';
    throw new ApiError(404, 'undefined_document', `document ${kind}: data.${segments.join('.')}`);
  }
  return { status: 200, body: new RawJson(outcome.resultJson) };
}
