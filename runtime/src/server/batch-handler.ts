/**
 * `POST /v1/batch/data/{path}` with `{"inputs": {"<id>": <input>, ...}}`: many decisions in one
 * round trip, answered `{"responses": {"<id>": {"result": ...}}}`. OPA's open-source server has no
 * batch API; this follows Enterprise OPA's, which the official SDKs call from `evaluateBatch`:
 * 200 when every item succeeds, 207 with a string `http_status_code` on each item when some
 * fail, 500 when all fail. Every item is a decision of its own (its own `decision_id`, its own
 * decision-log event); `batch_decision_id` ties them together.
 */
import { DecisionContext, DecisionInput, inputJson, makeDecision, parseJson, pathSegments, provenance, scanRequestJson } from './decision';
import { ApiError } from './errors';
import { dataFlags } from './query-flags';
import { ApiResponse, Handler } from './routes';
import { lastChild, RawJson, scanJson } from '../json-text';
import { nodeCrypto } from '../node-crypto';

export function batchPostHandler(ctx: DecisionContext): Handler {
  return async (request): Promise<ApiResponse> => {
    const startedAt = process.hrtime.bigint();
    const segments = pathSegments(request.rest);
    const inputs = parseInputs(await request.body());
    const flags = dataFlags(request.query);
    const responses: Record<string, Record<string, unknown>> = {};
    let failed = 0;
    const ids = Object.keys(inputs);
    for (const id of ids) {
      const input = inputs[id];
      const outcome = makeDecision(ctx, request.raw, segments, input, startedAt, flags.metrics);
      const item: Record<string, unknown> = {};
      if (outcome.decisionId !== undefined) item.decision_id = outcome.decisionId;
      if (outcome.error) {
        failed++;
        Object.assign(item, outcome.error.toBody(), { http_status_code: String(outcome.error.status) });
      } else {
        if (flags.provenance) item.provenance = provenance(ctx);
        if (flags.metrics) item.metrics = { timer_rego_query_eval_ns: outcome.evalNs };
        if (outcome.resultJson !== undefined) item.result = new RawJson(outcome.resultJson);
        item.http_status_code = '200';
      }
      responses[id] = item;
    }
    const mixed = failed > 0 && failed < ids.length;
    // http_status_code is only sent when the items differ (207), as Enterprise OPA does.
    if (!mixed) for (const item of Object.values(responses)) delete item.http_status_code;
    const body: Record<string, unknown> = {};
    if (ctx.listener) body.batch_decision_id = nodeCrypto().randomUUID();
    if (flags.metrics) body.metrics = { timer_server_handler_ns: Number(process.hrtime.bigint() - startedAt) };
    body.responses = responses;
    return { status: failed === 0 ? 200 : mixed ? 207 : 500, body };
  };
}

/** Each input by id, with its JSON text for the engine; a null input is no input. */
function parseInputs(body: Buffer): Record<string, DecisionInput> {
  const text = body.toString('utf8');
  const prefix = 'body contains malformed input document';
  const parsed = text.trim() === '' ? {} : parseJson(text, prefix);
  const inputs = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>).inputs : undefined;
  if (inputs === undefined || inputs === null) return {};
  if (typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw new ApiError(400, 'invalid_parameter', 'body contains malformed input document: "inputs" must be an object of inputs by id');
  }
  const scan = scanRequestJson(body, prefix);
  const span = lastChild(scan.children, 'inputs')!;
  const items = scanJson(body, span.start, span.end).children;
  const out: Record<string, DecisionInput> = {};
  for (const [id, value] of Object.entries(inputs as Record<string, unknown>)) {
    out[id] = value === null ? {} : { json: inputJson(body, scan, lastChild(items, id)!) };
  }
  return out;
}
