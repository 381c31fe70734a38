/**
 * OPA's Data API for a read-only store: `POST /v1/data/{path}` with `{"input": ...}` and
 * `GET /v1/data/{path}[?input=<JSON>]` (https://www.openpolicyagent.org/docs/rest-api#data-api).
 * Messages follow OPA's `readInputPostV1`/`readInputGetV1` in `v1/server/server.go`.
 */
import { ApiError } from './errors';
import { ApiResponse, Handler } from './routes';
import { EvaluationError } from '../engine/errors';
import { PolicyEngine } from '../engine/policy-engine';

/** OPA's warning when a POST carries no `input` key (`types.MsgInputKeyMissing`). */
const INPUT_MISSING_WARNING = { code: 'api_usage_warning', message: "'input' key missing from the request" };

export function dataPostHandler(engine: PolicyEngine): Handler {
  return async (request) => {
    const segments = pathSegments(request.rest);
    const input = parsePostInput(await request.body());
    return decide(engine, segments, input, input === undefined ? { warning: INPUT_MISSING_WARNING } : {});
  };
}

export function dataGetHandler(engine: PolicyEngine): Handler {
  return (request) => {
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
    return decide(engine, segments, input, {});
  };
}

function decide(engine: PolicyEngine, segments: string[], input: unknown, extra: Record<string, unknown>): ApiResponse {
  let decision;
  try {
    decision = engine.evaluate(segments, input);
  } catch (err) {
    if (err instanceof EvaluationError) throw new ApiError(500, err.code, err.message, { cause: err });
    throw err;
  }
  return { status: 200, body: { ...decision, ...extra } };
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
