/**
 * One decision, as every data route makes it: evaluate a path with an input, time it, and hand a
 * record to the decision listener (when decision logging is on). The routes differ only in how
 * they read the input and shape the answer, so this is the one place a decision is made.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';
import type { DecisionListener } from '../contracts/decision-record';
import { EvaluationError } from '../engine/errors';
import type { PolicyEngine } from '../engine/policy-engine';
import { errorMessage } from '../errors';
import { engineBytes, firstValueEnd, isSpace, JsonScan, parseExactJson, scanJson } from '../json-text';
import { nodeCrypto } from '../node-crypto';

/** What every decision route needs besides the request. */
export interface DecisionContext {
  readonly engine: PolicyEngine;
  /** With a listener (decision logging on), every decision gets a UUID `decision_id`. */
  readonly listener?: DecisionListener;
  /** Reported as `provenance.version` (OPA reports its own version there). */
  readonly version: string;
}

/** The outcome of one evaluation; `error` is set when the policy failed. */
export interface DecisionOutcome {
  /** The result's JSON as the policy wrote it, numbers as written; absent when the document is undefined. */
  readonly resultJson?: string;
  readonly error?: ApiError;
  /** Set when a listener recorded the decision. */
  readonly decisionId?: string;
  /** `timer_rego_query_eval_ns`. */
  readonly evalNs: number;
}

/** A request's input: its JSON text, for the engine and the decision log. */
export interface DecisionInput {
  /** The input's JSON, as the client wrote it (see {@link inputJson}); absent with no input. */
  readonly json?: Uint8Array;
}

/**
 * Evaluates `segments` with `input` and records the decision. Never throws for a failing policy:
 * the caller decides how an error is answered (a whole response, or one item of a batch).
 * `evalNs` is measured only when `timed` (the answer reports it) or a listener records it.
 */
export function makeDecision(
  ctx: DecisionContext, raw: IncomingMessage, segments: readonly string[], input: DecisionInput, startedAt: bigint, timed: boolean,
): DecisionOutcome {
  const measured = timed || ctx.listener !== undefined;
  const evalStart = measured ? process.hrtime.bigint() : 0n;
  let resultJson: string | undefined;
  let error: ApiError | undefined;
  try {
    resultJson = ctx.engine.evaluateJson(segments, input.json);
  } catch (err) {
    if (!(err instanceof EvaluationError)) throw err;
    error = new ApiError(500, err.code, err.message, { cause: err });
  }
  const now = measured ? process.hrtime.bigint() : 0n;
  const evalNs = measured ? Number(now - evalStart) : 0;
  if (!ctx.listener) return { resultJson, error, evalNs };
  const decisionId = nodeCrypto().randomUUID();
  const socket = raw.socket;
  ctx.listener.onDecision({
    decisionId,
    path: segments.join('/'),
    // Read from the text, numbers as written, as OPA logs them.
    input: input.json && parseExactJson(Buffer.from(input.json.buffer, input.json.byteOffset, input.json.byteLength).toString('utf8')),
    result: resultJson === undefined ? undefined : parseExactJson(resultJson),
    error: error && { code: error.code, message: error.message },
    requestedBy: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : '',
    timestamp: new Date(),
    metrics: { timer_rego_query_eval_ns: evalNs, timer_server_handler_ns: Number(now - startedAt) },
    bundles: ctx.engine.revisions(),
  });
  return { resultJson, error, decisionId, evalNs };
}

/**
 * The JSON text of the value at `span` of `bytes` (a request that JSON.parse accepted), for the
 * engine: the client's own bytes, so numbers reach the policy as written. Throws OPA's 400 when
 * `scan` found the body nested deeper than Go's JSON decoder accepts.
 */
export function inputJson(bytes: Buffer, scan: Pick<JsonScan, 'surrogateEscapes'>, span: { start: number; end: number }): Buffer {
  let { start, end } = span;
  while (start < end && isSpace(bytes[start])) start++;
  while (end > start && isSpace(bytes[end - 1])) end--;
  return engineBytes(bytes.subarray(start, end), scan);
}

/** Scans a request's JSON (already parsed by JSON.parse); OPA's 400 when it is nested too deeply. */
export function scanRequestJson(bytes: Buffer, prefix: string, start?: number, end?: number): JsonScan {
  const scan = scanJson(bytes, start, end);
  if (scan.tooDeep !== undefined) {
    // Go's encoding/json wording, which OPA passes on.
    throw new ApiError(400, 'invalid_parameter', `${prefix}: invalid character '${scan.tooDeep}' exceeded max depth`);
  }
  return scan;
}

/**
 * OPA's `provenance` object. OPA also sends `build_commit`, `build_timestamp` and
 * `build_hostname`, empty in its release builds; they are left out rather than sent empty.
 */
export function provenance(ctx: DecisionContext): Record<string, unknown> {
  const bundles = ctx.engine.revisions();
  return Object.keys(bundles).length > 0 ? { version: ctx.version, bundles } : { version: ctx.version };
}

/** Paths decoded, by their text: a function asks the same few paths again and again. */
const SEGMENTS = new Map<string, readonly string[]>();
/** Paths kept, and the longest path kept: a client asking ever new paths costs a bounded memory. */
const SEGMENTS_MAX_ENTRIES = 256;
const SEGMENTS_MAX_LENGTH = 256;

/** Each segment is decoded on its own, so `%2F` stays inside its segment. Callers never change the array. */
export function pathSegments(rest: string): readonly string[] {
  let segments = SEGMENTS.get(rest);
  if (segments === undefined) {
    segments = decodeSegments(rest);
    if (rest.length <= SEGMENTS_MAX_LENGTH) {
      if (SEGMENTS.size >= SEGMENTS_MAX_ENTRIES) SEGMENTS.clear();
      SEGMENTS.set(rest, segments);
    }
  }
  return segments;
}

function decodeSegments(rest: string): string[] {
  if (rest === '') return [];
  const segments = rest.split('/');
  // The usual path (`app/rbac/allow`) has nothing to decode and no empty segment.
  if (!rest.includes('%') && !segments.includes('')) return segments;
  return segments.filter((s) => s !== '').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch (err) {
      throw new ApiError(400, 'invalid_parameter', `invalid path segment ${JSON.stringify(segment)}: malformed percent-encoding`, { cause: err });
    }
  });
}

/** Parses a JSON body; `prefix` is OPA's wording for the route (`body contains malformed input document`). */
export function parseJson(text: string, prefix: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, 'invalid_parameter', `${prefix}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Parses a request body (`text`, its bytes decoded) as OPA reads one, with Go's `json.Decoder`: its
 * first JSON value, and nothing of what follows. JSON.parse takes the whole text first, the usual
 * case; only a text it refuses is looked at for a complete first value followed by more. `bytes`
 * is the part of `body` that was parsed.
 */
export function parseBodyJson(body: Buffer, text: string, prefix: string): { bytes: Buffer; parsed: unknown } {
  try {
    return { bytes: body, parsed: JSON.parse(text) };
  } catch (err) {
    const end = firstValueEnd(body);
    if (end < 0 || end === body.length) throw new ApiError(400, 'invalid_parameter', `${prefix}: ${errorMessage(err)}`, { cause: err });
    const bytes = body.subarray(0, end);
    return { bytes, parsed: parseJson(bytes.toString('utf8'), prefix) };
  }
}
