/**
 * OPA's Data API for a read-only store: `POST /v1/data/{path}` with `{"input": ...}` and
 * `GET /v1/data/{path}[?input=<JSON>]` (https://www.openpolicyagent.org/docs/rest-api#data-api).
 * Messages follow OPA's `readInputPostV1`/`readInputGetV1` in `v1/server/server.go`.
 */
import { randomUUID } from 'node:crypto';
import type { DecisionListener } from './decision-record';
import { ApiError } from './errors';
import { ApiRequest, ApiResponse, Handler } from './routes';
import { EvaluationError } from '../engine/errors';
import { PolicyEngine } from '../engine/policy-engine';

/** OPA's warning when a POST carries no `input` key (`types.MsgInputKeyMissing`). */
const INPUT_MISSING_WARNING = { code: 'api_usage_warning', message: "'input' key missing from the request" };

/**
 * With a listener (decision logging on), every answered decision gets a UUID `decision_id`, in the
 * response and in the record handed to the listener, as OPA does
 * (https://www.openpolicyagent.org/docs/management-decision-logs).
 */
export function dataPostHandler(engine: PolicyEngine, listener?: DecisionListener): Handler {
  return async (request) => {
    const startedAt = process.hrtime.bigint();
    const segments = pathSegments(request.rest);
    const input = parsePostInput(await request.body());
    const extra = input === undefined ? { warning: INPUT_MISSING_WARNING } : {};
    return decide(engine, segments, input, extra, listener && { listener, request, startedAt });
  };
}

export function dataGetHandler(engine: PolicyEngine, listener?: DecisionListener): Handler {
  return (request) => {
    const startedAt = process.hrtime.bigint();
    const segments = pathSegments(request.rest);
    const raw = request.query.get('input');
    let input: unknown;
    if (raw !== null) {
      try {
        input = JSON.parse(raw);
      } catch (err) {
        throw new ApiError(400, 'invalid_parameter', `parameter contains malformed input document: ${(err as Error).message}`, { cause: err });
      }
    }
    return decide(engine, segments, input, {}, listener && { listener, request, startedAt });
  };
}

interface Logging {
  readonly listener: DecisionListener;
  readonly request: ApiRequest;
  /** `process.hrtime.bigint()` when the handler began, for OPA's `timer_server_handler_ns`. */
  readonly startedAt: bigint;
}

function decide(engine: PolicyEngine, segments: string[], input: unknown, extra: Record<string, unknown>, logging?: Logging): ApiResponse {
  let decision;
  const evalStart = process.hrtime.bigint();
  try {
    decision = engine.evaluate(segments, input);
  } catch (err) {
    if (err instanceof EvaluationError) {
      const apiError = new ApiError(500, err.code, err.message, { cause: err });
      if (logging) record(logging, engine, segments, input, { error: { code: err.code, message: err.message } }, evalStart);
      throw apiError;
    }
    throw err;
  }
  if (!logging) return { status: 200, body: { ...decision, ...extra } };
  const decisionId = record(logging, engine, segments, input, decision, evalStart);
  return { status: 200, body: { decision_id: decisionId, ...decision, ...extra } };
}

/** Hands the decision to the listener (which only buffers it) and returns its id. */
function record(logging: Logging, engine: PolicyEngine, segments: string[], input: unknown,
  outcome: { result?: unknown; error?: { code: string; message: string } }, evalStart: bigint): string {
  const now = process.hrtime.bigint();
  const decisionId = randomUUID();
  const socket = logging.request.raw.socket;
  logging.listener.onDecision({
    decisionId,
    path: segments.join('/'),
    input,
    result: outcome.result,
    error: outcome.error,
    requestedBy: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : '',
    timestamp: new Date(),
    metrics: { timer_rego_query_eval_ns: Number(now - evalStart), timer_server_handler_ns: Number(now - logging.startedAt) },
    bundles: engine.revisions(),
  });
  return decisionId;
}

/** Each segment is decoded on its own, so `%2F` stays inside its segment. */
function pathSegments(rest: string): string[] {
  if (rest === '') return [];
  return rest.split('/').filter((s) => s !== '').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch (err) {
      throw new ApiError(400, 'invalid_parameter', `invalid path segment ${JSON.stringify(segment)}: malformed percent-encoding`, { cause: err });
    }
  });
}

/**
 * An empty body means no input; otherwise a JSON object whose `input` key is the input.
 * `{"input": null}` is no input too, as in OPA (its `Input` is a pointer that null leaves nil).
 */
function parsePostInput(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw malformed((err as Error).message, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed(`expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}`);
  }
  const input = (parsed as Record<string, unknown>).input;
  return input === null ? undefined : input;
}

function malformed(reason: string, cause?: unknown): ApiError {
  return new ApiError(400, 'invalid_parameter', `body contains malformed input document: ${reason}`, { cause });
}
