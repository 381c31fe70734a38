/**
 * `POST /v1/batch/data/{path}` with `{"inputs": {"<id>": <input>, ...}}`: many decisions in one
 * round trip, answered `{"responses": {"<id>": {"result": ...}}}`. OPA's open-source server has no
 * batch API; this follows Enterprise OPA's (`pkg/batchquery`), which the official SDKs call from
 * `evaluateBatch`: 200 when every item succeeds, 207 with a string `http_status_code` on each item
 * when some fail, 500 when all fail. An object `common_input` is merged into every object input.
 * Every item is a decision of its own (its own `decision_id`, its own decision-log event);
 * `batch_decision_id` ties them together.
 */
import { DecisionContext, DecisionInput, inputJson, makeDecision, parseBodyJson, pathSegments, provenance, scanRequestJson } from './decision';
import { ApiError, MALFORMED_INPUT } from './errors';
import { dataFlags } from './query-flags';
import { ApiResponse, Handler } from './routes';
import { jsonBody } from './yaml-body';
import { engineBytes, isSpace, JsonChild, lastChild, OPEN_BRACE, RawJson, scanJson } from '../json-text';
import { nodeCrypto } from '../node-crypto';

export function batchPostHandler(ctx: DecisionContext): Handler {
  return async (request): Promise<ApiResponse> => {
    const startedAt = process.hrtime.bigint();
    const segments = pathSegments(request.rest);
    const inputs = parseInputs(jsonBody(request.raw, await request.body(), MALFORMED_INPUT));
    const flags = dataFlags(request.query);
    const responses: Record<string, Record<string, unknown>> = {};
    let failed = 0;
    const items = Object.entries(inputs ?? {});
    for (const [id, input] of items) {
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
    const mixed = failed > 0 && failed < items.length;
    // http_status_code is only sent when the items differ (207), as Enterprise OPA does.
    if (!mixed) for (const item of Object.values(responses)) delete item.http_status_code;
    const body: Record<string, unknown> = {};
    if (ctx.listener) body.batch_decision_id = nodeCrypto().randomUUID();
    if (flags.metrics) body.metrics = { timer_server_handler_ns: Number(process.hrtime.bigint() - startedAt) };
    // Left out when empty, as Enterprise OPA does, which warns when there were no `inputs` at all.
    if (items.length > 0) body.responses = responses;
    if (!inputs) body.warning = { code: 'api_usage_warning', message: "'inputs' key missing from the request" };
    return { status: failed === 0 ? 200 : mixed ? 207 : 500, body };
  };
}

/**
 * Each input by id, with its JSON text for the engine; a null input is no input. Undefined when the
 * body has no `inputs` (or they are null). The body is read as OPA's handlers read one: its first
 * JSON value, and nothing of what follows.
 */
function parseInputs(body: Buffer): Record<string, DecisionInput> | undefined {
  const text = body.toString('utf8');
  if (text.trim() === '') return undefined;
  const { bytes, parsed } = parseBodyJson(body, text, MALFORMED_INPUT);
  if (parsed === null) return undefined;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ApiError(400, 'invalid_parameter', `${MALFORMED_INPUT}: the body must be an object with "inputs"`);
  }
  const inputs = (parsed as Record<string, unknown>).inputs;
  if (inputs === undefined || inputs === null) return undefined;
  if (typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw new ApiError(400, 'invalid_parameter', `${MALFORMED_INPUT}: "inputs" must be an object of inputs by id`);
  }
  const scan = scanRequestJson(bytes, MALFORMED_INPUT);
  const span = lastChild(scan.children, 'inputs')!;
  const items = scanJson(bytes, span.start, span.end).children;
  const common = lastChild(scan.children, 'common_input');
  const out: Record<string, DecisionInput> = {};
  for (const [id, value] of Object.entries(inputs as Record<string, unknown>)) {
    const item = lastChild(items, id)!;
    const merge = common !== undefined && isObject(bytes, common) && isObject(bytes, item);
    if (value === null) out[id] = {};
    else if (merge) out[id] = { json: engineBytes(Buffer.from(mergedJson(bytes, common, item)), scan) };
    else out[id] = { json: inputJson(bytes, scan, item) };
  }
  return out;
}

/**
 * Enterprise OPA's merge of `common_input` into an input, both objects (its `mergeMaps`): the
 * common members, with the input's over them, two objects under one key merged the same way.
 * Made from the request's own text, so numbers stay as written.
 */
function mergedJson(bytes: Buffer, common: JsonChild, input: JsonChild): string {
  const members = new Map<string, JsonChild>();
  for (const member of scanJson(bytes, common.start, common.end).children) members.set(member.key, member);
  const merged = new Map<string, string>();
  for (const [key, member] of members) merged.set(key, bytes.toString('utf8', member.start, member.end));
  for (const member of scanJson(bytes, input.start, input.end).children) {
    const under = members.get(member.key);
    merged.set(member.key, under && isObject(bytes, under) && isObject(bytes, member)
      ? mergedJson(bytes, under, member)
      : bytes.toString('utf8', member.start, member.end));
  }
  return `{${[...merged].map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

/** The value at `span` is an object. */
function isObject(bytes: Buffer, span: JsonChild): boolean {
  let i = span.start;
  while (i < span.end && isSpace(bytes[i])) i++;
  return bytes[i] === OPEN_BRACE;
}
