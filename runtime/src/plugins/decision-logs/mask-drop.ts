/**
 * OPA's drop and mask policies for decision logs
 * (https://www.openpolicyagent.org/docs/management-decision-logs#masking-sensitive-data and
 * "Drop Decision Logs"; rules as `v1/plugins/logs/mask.go` applies them). Both are evaluated only
 * when the active bundle has the entrypoint, with the event as input; drop comes first.
 */
import type { DecisionLogEvent } from './decision-log-event';
import { RawJson } from '../../json-text';

/** What mask/drop need from the engine; `PolicyEngine` provides it. */
export interface PolicyEvaluator {
  entrypoints(): string[];
  evaluate(path: string, input: unknown): { result?: unknown };
}

/** A mask rule the policy returned that cannot be applied; the whole mask result is refused, as OPA does. */
export class MaskRuleError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'MaskRuleError';
  }
}

type Part = 'input' | 'result';
const MASKABLE: readonly string[] = ['input', 'result'];

interface MaskRule {
  readonly op: 'remove' | 'upsert';
  readonly path: string;
  readonly part: Part;
  /** Keys below `input`/`result`; empty when the rule targets the whole part. */
  readonly keys: readonly string[];
  readonly value?: unknown;
}

export class MaskDrop {
  public constructor(
    private readonly engine: PolicyEvaluator,
    private readonly maskEntrypoint: string,
    private readonly dropEntrypoint: string,
  ) {}

  /** True when the drop policy exists and evaluates to `true` for the event. */
  public shouldDrop(event: DecisionLogEvent): boolean {
    if (!this.engine.entrypoints().includes(this.dropEntrypoint)) return false;
    return this.engine.evaluate(this.dropEntrypoint, event).result === true;
  }

  /**
   * Applies the mask policy's rules to the event (which it changes, after copying `input` and
   * `result` so that the caller's values stay intact) and records them in `erased`/`masked`.
   */
  public mask(event: DecisionLogEvent): void {
    if (!this.engine.entrypoints().includes(this.maskEntrypoint)) return;
    const { result } = this.engine.evaluate(this.maskEntrypoint, event);
    if (result === undefined) return;
    const rules = parseMaskRules(result);
    if (rules.length === 0) return;
    if (event.input !== undefined) event.input = clone(event.input);
    if (event.result !== undefined) event.result = clone(event.result);
    for (const rule of rules) applyRule(event, rule);
  }
}

/** The policy's result: a set (an array in JSON) of JSON pointers, or of `{op, path, value}`. */
export function parseMaskRules(value: unknown): MaskRule[] {
  if (!Array.isArray(value)) throw new MaskRuleError(`mask policy must return a set of rules, got ${JSON.stringify(value)}`);
  return value.map((raw) => {
    if (typeof raw === 'string') return maskRule(raw, 'remove', undefined);
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      const r = raw as Record<string, unknown>;
      // As OPA: in the object form, op is required and path must be a string.
      if (r.op !== 'remove' && r.op !== 'upsert') throw new MaskRuleError(`mask op is not supported: ${JSON.stringify(r.op)}`);
      if (typeof r.path !== 'string') throw new MaskRuleError(`mask rule path must be a string, got ${JSON.stringify(r.path)}`);
      return maskRule(r.path, r.op, r.value);
    }
    throw new MaskRuleError(`invalid mask rule format: ${JSON.stringify(raw)}`);
  });
}

function maskRule(path: string, op: 'remove' | 'upsert', value: unknown): MaskRule {
  if (path === '') throw new MaskRuleError('mask must be non-empty');
  if (!path.startsWith('/')) throw new MaskRuleError(`mask must be slash-prefixed: ${JSON.stringify(path)}`);
  const [part, ...keys] = path.slice(1).split('/');
  // OPA also allows /nd_builtin_cache, which Wasm evaluation does not produce.
  if (!MASKABLE.includes(part)) throw new MaskRuleError(`mask prefix not allowed: ${part}`);
  return { op, path, part: part as Part, keys, value };
}

/** One rule; a pointer to something that is not there changes nothing and is not recorded (OPA). */
function applyRule(event: DecisionLogEvent, rule: MaskRule): void {
  if (event[rule.part] === undefined) return;
  if (rule.op === 'remove') {
    if (rule.keys.length === 0) delete event[rule.part];
    else if (!removeAt(event[rule.part], rule.keys)) return;
    (event.erased ??= []).push(rule.path);
  } else {
    if (rule.keys.length === 0) event[rule.part] = rule.value;
    else if (!upsertAt(event[rule.part], rule.keys, rule.value)) return;
    (event.masked ??= []).push(rule.path);
  }
}

function removeAt(root: unknown, keys: readonly string[]): boolean {
  const parent = walk(root, keys.slice(0, -1), false);
  const last = keys[keys.length - 1];
  if (Array.isArray(parent)) {
    const i = index(last, parent.length);
    if (i === undefined) return false;
    parent.splice(i, 1);
    return true;
  }
  if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) {
    delete parent[last];
    return true;
  }
  return false;
}

/** Sets the value, creating missing objects on the way, as OPA's `mkdirp`; the target part must be an object. */
function upsertAt(root: unknown, keys: readonly string[], value: unknown): boolean {
  if (!isObject(root)) return false;
  const parent = walk(root, keys.slice(0, -1), true);
  const last = keys[keys.length - 1];
  if (Array.isArray(parent)) {
    const i = index(last, parent.length);
    if (i === undefined) return false;
    parent[i] = value;
    return true;
  }
  if (isObject(parent)) {
    parent[last] = value;
    return true;
  }
  return false;
}

function walk(node: unknown, keys: readonly string[], create: boolean): unknown {
  for (const key of keys) {
    if (Array.isArray(node)) {
      const i = index(key, node.length);
      if (i === undefined) return undefined;
      node = node[i];
    } else if (isObject(node)) {
      if (!Object.prototype.hasOwnProperty.call(node, key)) {
        if (!create) return undefined;
        node[key] = {};
      }
      node = node[key];
    } else {
      return undefined;
    }
  }
  return node;
}

function index(key: string, length: number): number | undefined {
  if (!/^\d+$/.test(key)) return undefined;
  const i = Number(key);
  return i < length ? i : undefined;
}

/** A number kept as written ({@link RawJson}) is a leaf, as a number is in OPA's event. */
function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof RawJson);
}

/** A deep copy of a JSON value that keeps numbers as written (structuredClone would make them plain objects). */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (!isObject(value)) return value;
  // fromEntries defines keys as own properties, `__proto__` included.
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]));
}
