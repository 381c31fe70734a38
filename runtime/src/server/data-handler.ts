/**
 * OPA's Data API for a read-only store: `POST /v1/data/{path}` with `{"input": ...}` and
 * `GET /v1/data/{path}[?input=<JSON>]` (https://www.openpolicyagent.org/docs/rest-api#data-api),
 * with OPA's `metrics`, `provenance` and `instrument` flags (`pretty` is the server's).
 * Messages follow OPA's `readInputPostV1`/`readInputGetV1` in `v1/server/server.go`.
 */
import type { IncomingMessage } from 'node:http';
import { DecisionContext, DecisionInput, DecisionOutcome, inputJson, makeDecision, parseBodyJson, parseJson, pathSegments, provenance, scanRequestJson } from './decision';
import { ApiError, MALFORMED_INPUT } from './errors';
import { DataFlags, dataFlags } from './query-flags';
import { ApiResponse, Handler } from './routes';
import { jsonBody } from './yaml-body';
import { lastChild, MAX_JSON_DEPTH, RawJson, soleMemberSpan } from '../json-text';

/** The answer to a decision whose document is undefined, with nothing else to say. */
const NO_RESULT: ApiResponse = { status: 200, body: new RawJson('{}') };
/** The answers of the usual decisions, a boolean alone, made once rather than for each decision. */
const TRUE_RESULT: ApiResponse = { status: 200, body: new RawJson('{"result":true}') };
const FALSE_RESULT: ApiResponse = { status: 200, body: new RawJson('{"result":false}') };

/** A decision without input; shared, as handlers never change it. */
const NO_INPUT: DecisionInput = {};

/** A valid JSON value that starts with `n` is `null`. */
const NULL_START = 0x6e;
/** The member of a POST body that holds the input. */
const INPUT_KEY = Buffer.from('input');

/** OPA's warning when a POST carries no `input` key (`types.MsgInputKeyMissing`). */
const INPUT_MISSING_WARNING = { code: 'api_usage_warning', message: "'input' key missing from the request" };

export function dataPostHandler(ctx: DecisionContext): Handler {
  return async (request) => {
    const startedAt = process.hrtime.bigint();
    return dataPost(ctx, request.raw, request.rest, request.query, await request.body(), startedAt);
  };
}

/**
 * `POST /v1/data/{rest}` once its body is read: synchronous, so the server's lean path (a body in
 * one piece, no query) answers through it without a promise. `startedAt` is when the handler
 * started (before the body was read), for `timer_server_handler_ns`.
 */
export function dataPost(
  ctx: DecisionContext, raw: IncomingMessage, rest: string, query: URLSearchParams, body: Buffer, startedAt: bigint,
): ApiResponse {
  const segments = pathSegments(rest);
  const flags = dataFlags(query);
  // Timed only when the answer reports it (`?metrics`).
  const parseStart = flags.metrics ? process.hrtime.bigint() : 0n;
  const input = parsePostInput(jsonBody(raw, body, MALFORMED_INPUT));
  const parseNs = flags.metrics ? Number(process.hrtime.bigint() - parseStart) : 0;
  const outcome = makeDecision(ctx, raw, segments, input, startedAt, flags.metrics);
  return answer(ctx, flags, outcome, startedAt, parseNs, input.json === undefined);
}

export function dataGetHandler(ctx: DecisionContext): Handler {
  return (request) => dataGet(ctx, request.raw, request.rest, request.query, process.hrtime.bigint());
}

/** `GET /v1/data/{rest}[?input=...]`, synchronous like {@link dataPost}. */
export function dataGet(ctx: DecisionContext, raw: IncomingMessage, rest: string, query: URLSearchParams, startedAt: bigint): ApiResponse {
  const segments = pathSegments(rest);
  const flags = dataFlags(query);
  const param = query.size === 0 ? null : query.get('input');
  const parseStart = flags.metrics ? process.hrtime.bigint() : 0n;
  const input = param === null ? NO_INPUT : parseGetInput(param);
  const parseNs = flags.metrics ? Number(process.hrtime.bigint() - parseStart) : 0;
  const outcome = makeDecision(ctx, raw, segments, input, startedAt, flags.metrics);
  return answer(ctx, flags, outcome, startedAt, parseNs, false);
}

/** OPA's `DataResponseV1`: `decision_id`, `provenance`, `metrics`, `result`, `warning`. */
function answer(ctx: DecisionContext, flags: DataFlags, outcome: DecisionOutcome, startedAt: bigint, parseNs: number, warn: boolean): ApiResponse {
  if (outcome.error) throw outcome.error;
  // The usual answer, the result alone, is written as JSON text at once rather than as an object
  // the response serializes.
  if (outcome.decisionId === undefined && !flags.provenance && !flags.metrics && !warn) {
    const result = outcome.resultJson;
    if (result === undefined) return NO_RESULT;
    if (result === 'true') return TRUE_RESULT;
    if (result === 'false') return FALSE_RESULT;
    return { status: 200, body: new RawJson(`{"result":${result}}`) };
  }
  const body: Record<string, unknown> = {};
  if (outcome.decisionId !== undefined) body.decision_id = outcome.decisionId;
  if (flags.provenance) body.provenance = provenance(ctx);
  if (flags.metrics) {
    body.metrics = {
      timer_rego_input_parse_ns: parseNs,
      timer_rego_query_eval_ns: outcome.evalNs,
      timer_server_handler_ns: Number(process.hrtime.bigint() - startedAt),
    };
  }
  if (outcome.resultJson !== undefined) body.result = new RawJson(outcome.resultJson);
  if (warn) body.warning = INPUT_MISSING_WARNING;
  return { status: 200, body };
}

/**
 * An empty body means no input; otherwise a JSON object whose `input` key is the input.
 * `null` and `{"input": null}` are no input too, as in OPA (its `Input` is a pointer that null
 * leaves nil).
 */
function parsePostInput(body: Buffer): DecisionInput {
  // The usual body, `{"input": ...}` alone in printable ASCII, is checked and read in one pass: its
  // bytes are the engine's as they are (no escape, nothing to re-encode).
  const sole = soleMemberSpan(body, INPUT_KEY);
  if (sole !== undefined) return body[sole.start] === NULL_START ? NO_INPUT : { json: body.subarray(sole.start, sole.end) };
  return parseBodyInput(body);
}

/** {@link parsePostInput} for any other body: its first value parsed, then a scan finds the input's bytes. */
function parseBodyInput(body: Buffer): DecisionInput {
  const text = body.toString('utf8');
  if (text.trim() === '') return NO_INPUT;
  const { bytes, parsed } = parseBodyJson(body, text, MALFORMED_INPUT);
  // Only a body longer than MAX_JSON_DEPTH can nest too deeply; that check comes first, as in OPA.
  const scan = bytes.length > MAX_JSON_DEPTH ? scanRequestJson(bytes, MALFORMED_INPUT) : undefined;
  if (parsed === null) return NO_INPUT;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw parseError(`expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`}`);
  }
  const value = (parsed as Record<string, unknown>).input;
  if (value === undefined || value === null) return NO_INPUT;
  const found = scan ?? scanRequestJson(bytes, MALFORMED_INPUT);
  return { json: inputJson(bytes, found, lastChild(found.children, 'input')!) };
}

/** `GET ?input=<JSON>`: the parameter is the input. */
function parseGetInput(raw: string): DecisionInput {
  const prefix = 'parameter contains malformed input document';
  parseJson(raw, prefix); // the check: OPA's 400 for malformed JSON
  const bytes = Buffer.from(raw, 'utf8');
  const scan = scanRequestJson(bytes, prefix);
  return { json: inputJson(bytes, scan, { start: 0, end: bytes.length }) };
}

function parseError(reason: string): ApiError {
  return new ApiError(400, 'invalid_parameter', `${MALFORMED_INPUT}: ${reason}`);
}
