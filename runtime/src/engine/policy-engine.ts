/**
 * Evaluates the Wasm policies of the active bundles with `@open-policy-agent/opa-wasm`.
 *
 * OPA has one data tree, so every policy instance sees the data of every active bundle
 * (https://www.openpolicyagent.org/docs/management-bundles#multiple-sources-of-policy-and-data).
 * Activation builds a complete new state (instances, data, entrypoint index) beside the current
 * one and swaps it in with one assignment: a bundle that fails to load leaves the old state
 * serving, and a decision never sees half an activation.
 */
// The default import: opa-wasm's ESM entry (which esbuild picks for `import`) re-exports only
// `loadPolicy`, while its default export is the whole module, `loadPolicySync` included.
import opaWasm, { type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { BundleError, errorMessage } from '../errors';
import { bytesAt, childOf, CLOSE_BRACE, CLOSE_BRACKET, FALSE, JsonChild, MAX_JSON_DEPTH, OPEN_BRACE, OPEN_BRACKET, scanJson, stringifyJson, TRUE } from '../json-text';
import { Bundle } from './bundle';
import { rootsContain, rootsOverlap, splitPath } from './bundle-roots';
import { DocumentBuilder } from './documents';
import { ARRAY_INDEX, EntrypointIndex } from './entrypoint-index';
import { EvaluationError } from './errors';

/** `result` is absent when the document is undefined, as in OPA's `DataResponseV1`. */
export interface Decision {
  readonly result?: unknown;
}

interface ActiveBundle {
  readonly bundle: Bundle;
  /** Compiled once at activation; instantiating a compiled module again is cheap. */
  readonly modules: ReadonlyMap<string, WasmModule>;
}

interface Entrypoint {
  readonly name: string;
  readonly bundle: string;
  readonly policy: WasmPolicy;
  /** The id opa-wasm's `evaluate` takes, resolved once so a decision does no name lookup. */
  readonly id: number;
}

interface EngineState {
  readonly bundles: ReadonlyMap<string, ActiveBundle>;
  readonly index: EntrypointIndex<Entrypoint>;
  readonly entrypoints: readonly string[];
}

/**
 * The WebAssembly global, typed here because the project's `lib` (es2022, no DOM) does not declare
 * it; only what the engine uses.
 */
interface WasmGlobal {
  readonly Module: new (bytes: Uint8Array) => WasmModule;
  readonly RuntimeError: new (message?: string) => Error;
}
type WasmModule = Parameters<typeof opaWasm.loadPolicySync>[0];
const Wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;

const EMPTY_STATE: EngineState = { bundles: new Map(), index: new EntrypointIndex(), entrypoints: [] };
const encoder = new TextEncoder();

export class PolicyEngine {
  private state: EngineState = EMPTY_STATE;

  /** Loads `bundle` (replacing an active bundle of the same name); throws BundleError, leaving the engine as it was. */
  public activate(bundle: Bundle): void {
    const active: ActiveBundle = { bundle, modules: compileModules(bundle) };
    for (const other of this.state.bundles.values()) {
      if (other.bundle.name === bundle.name) continue;
      checkRootsDisjoint(bundle, other.bundle);
    }
    const bundles = new Map(this.state.bundles);
    bundles.set(bundle.name, active);
    this.state = buildState(bundles, bundle.name);
  }

  public isActive(name: string): boolean {
    return this.state.bundles.has(name);
  }

  /** Revisions of the active bundles, in OPA's status and decision-log shape. */
  public revisions(): Record<string, { revision: string }> {
    const out: Record<string, { revision: string }> = {};
    for (const [name, active] of this.state.bundles) out[name] = { revision: active.bundle.manifest.revision };
    return out;
  }

  /** Every entrypoint that can be asked, sorted. */
  public entrypoints(): string[] {
    return [...this.state.entrypoints];
  }

  /**
   * Evaluates the document at `path` (`app/rbac/allow` or its segments, already decoded).
   * `input` undefined means no input; a RawJson in it is passed as its text. Throws
   * EvaluationError when the policy fails.
   */
  public evaluate(path: readonly string[] | string, input?: unknown): Decision {
    const resultJson = this.evaluateJson(path, input === undefined ? undefined : encoder.encode(stringifyJson(input)));
    return resultJson === undefined ? {} : { result: JSON.parse(resultJson) };
  }

  /**
   * {@link evaluate} on JSON text: `input` is the input's UTF-8 JSON (valid, without lone
   * surrogate escapes), and the answer is the result's JSON as the policy wrote it, numbers
   * exactly as written, or undefined when the document is undefined.
   */
  public evaluateJson(path: readonly string[] | string, input?: Uint8Array): string | undefined {
    const segments = typeof path === 'string' ? splitPath(path.replace(/^\/+|\/+$/g, '')) : path;
    const resolved = this.state.index.resolve(segments);
    if (!resolved) return undefined;
    const { entry, rest } = resolved;
    let start: number;
    try {
      start = entry.policy.evaluate(entry.id, input);
    } catch (err) {
      throw new EvaluationError(entry.name, reasonOf(err), { cause: err });
    }
    // The result set's JSON, read where the policy wrote it in its memory.
    const memory = entry.policy.memory();
    const nul = nulAt(memory, start);
    const end = nul < 0 ? memory.length : nul;
    const scalar = rest.length === 0 ? scalarResult(memory, start, end) : undefined;
    if (scalar !== undefined) return scalar;
    // The result set: `[]`, or `[{"result":<value>}]` as the Wasm engine writes it. A result may
    // be nested as deeply as the policy makes it: no depth limit here.
    const first = scanJson(memory, start, end, Infinity).children[0];
    const value = first && resultOf(memory, first);
    const sub = value && subDocumentSpan(memory, value, rest);
    return sub ? memory.toString('utf8', sub.start, sub.end) : undefined;
  }
}

/** How the Wasm engine starts each item of a result set. */
const RESULT_KEY = Buffer.from('{"result":');

/**
 * The result of a set (`memory[setStart, setEnd)`) that holds one scalar (`[{"result":true}]`,
 * most decisions), read without a scan; undefined for anything else. With neither brace nor
 * bracket between the item's fixed start and the set's end, the set holds one item and its value
 * is a scalar.
 */
function scalarResult(memory: Buffer, setStart: number, setEnd: number): string | undefined {
  const start = setStart + 1 + RESULT_KEY.length; // after `[{"result":`
  const end = setEnd - 2; // before `}]`
  if (end <= start || memory[setStart] !== OPEN_BRACKET || !bytesAt(memory, setStart + 1, RESULT_KEY)) return undefined;
  if (memory[end] !== CLOSE_BRACE || memory[end + 1] !== CLOSE_BRACKET) return undefined;
  for (let i = start; i < end; i++) {
    if (memory[i] === OPEN_BRACE || memory[i] === OPEN_BRACKET) return undefined;
  }
  // A boolean, the usual decision, without making a string from the bytes.
  if (bytesAt(memory, start, TRUE) && end - start === TRUE.length) return 'true';
  if (bytesAt(memory, start, FALSE) && end - start === FALSE.length) return 'false';
  return memory.toString('utf8', start, end);
}


/**
 * The `result` of one item of the set. The engine writes each item as `{"result":<value>}`, its
 * only key, so the value is read in place without a second scan; any other shape is scanned.
 */
function resultOf(text: Buffer, item: JsonChild): JsonChild | undefined {
  if (bytesAt(text, item.start, RESULT_KEY)) {
    return { key: 'result', start: item.start + RESULT_KEY.length, end: item.end - 1 };
  }
  return childOf(text, 'result', item.start, item.end);
}

/** The value at `rest` inside the JSON value at `span`, with array indexes as decimal segments. */
function subDocumentSpan(text: Uint8Array, span: JsonChild, rest: readonly string[]): JsonChild | undefined {
  let node: JsonChild | undefined = span;
  for (const segment of rest) {
    if (text[node.start] === OPEN_BRACKET && !ARRAY_INDEX.test(segment)) return undefined;
    const key: string = text[node.start] === OPEN_BRACKET ? String(Number(segment)) : segment;
    node = text[node.start] === OPEN_BRACE || text[node.start] === OPEN_BRACKET ? childOf(text, key, node.start, node.end) : undefined;
    if (!node) return undefined;
  }
  return node;
}

/** The parts of opa-wasm's LoadedPolicy that evaluating on JSON text needs (its `evaluate` parses the result). */
interface PolicyInternals {
  readonly minorVersion: number;
  readonly mem: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  readonly wasmInstance: { readonly exports: Record<string, (...args: number[]) => number> };
  readonly dataAddr: number;
  readonly dataHeapPtr: number;
}

/**
 * One instantiated module, evaluated as opa-wasm's `evaluate` does (ABI 1.2's one-call `opa_eval`,
 * or the older context calls), but with the input as bytes and the result set returned as the JSON
 * bytes the policy wrote. What a decision reads from opa-wasm's LoadedPolicy is taken once, when
 * the data is set: the Wasm exports object is a getter into V8 and holds every export, so a
 * property read on it each decision is a slow lookup.
 */
class WasmPolicy {
  public readonly entrypoints: Record<string, number>;
  private readonly internals: PolicyInternals;
  private readonly exports: Record<string, (...args: number[]) => number>;
  private readonly opaEval?: (...args: number[]) => number;
  private readonly dataAddr: number;
  private readonly heapPtr: number;
  /** A view of the memory, empty until the first evaluation and once the memory grew. */
  private view = Buffer.alloc(0);

  /** `loaded` has its data set: the data's address and the heap after it no longer change. */
  public constructor(loaded: LoadedPolicy) {
    this.entrypoints = loaded.entrypoints as Record<string, number>;
    this.internals = loaded as unknown as PolicyInternals;
    this.exports = this.internals.wasmInstance.exports;
    this.opaEval = this.internals.minorVersion >= 2 ? this.exports.opa_eval : undefined;
    this.dataAddr = this.internals.dataAddr;
    this.heapPtr = this.internals.dataHeapPtr;
  }

  /**
   * Where in {@link memory} the result set's JSON starts, ended by a NUL. The next evaluation
   * reuses that part of the heap, so the caller reads it before it evaluates again.
   */
  public evaluate(entrypoint: number, input: Uint8Array | undefined): number {
    if (!this.opaEval) return this.evaluateWithContext(entrypoint, input);
    const inputLen = input ? input.byteLength : 0;
    if (input) this.copyIn(input, this.heapPtr);
    return this.opaEval(0, entrypoint, this.dataAddr, input ? this.heapPtr : 0, inputLen, this.heapPtr + inputLen, 0);
  }

  /** ABI 1.0 and 1.1: the input parsed in the module, then a context made for the evaluation. */
  private evaluateWithContext(entrypoint: number, input: Uint8Array | undefined): number {
    const wasm = this.exports;
    wasm.opa_heap_ptr_set(this.heapPtr);
    let inputAddr = 0;
    if (input) {
      const raw = wasm.opa_malloc(input.byteLength);
      this.copyIn(input, raw);
      inputAddr = wasm.opa_json_parse(raw, input.byteLength);
      if (inputAddr === 0) throw new Error('failed to parse json value');
    }
    const ctx = wasm.opa_eval_ctx_new();
    wasm.opa_eval_ctx_set_input(ctx, inputAddr);
    wasm.opa_eval_ctx_set_data(ctx, this.dataAddr);
    wasm.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    wasm.eval(ctx);
    return wasm.opa_json_dump(wasm.opa_eval_ctx_get_result(ctx));
  }

  private copyIn(bytes: Uint8Array, addr: number): void {
    const missing = addr + bytes.byteLength - this.memory().length;
    if (missing > 0) this.internals.mem.grow(Math.ceil(missing / WASM_PAGE_BYTES));
    this.memory().set(bytes, addr);
  }

  /**
   * A Buffer over the whole of the module's memory. Growing a Wasm memory (here, or inside the
   * policy as it allocates) detaches its old ArrayBuffer, which leaves a view of it empty: the view
   * is made again only then, without asking V8 for the memory's buffer on every evaluation.
   */
  public memory(): Buffer {
    if (this.view.length === 0) this.view = Buffer.from(this.internals.mem.buffer);
    return this.view;
  }
}

/** Bytes a result set is looked through in JavaScript before Buffer's `indexOf` (a call into Node.js) takes over. */
const SHORT_SCAN = 64;

/** Where the NUL that ends the string at `from` is, or -1; a decision's result set is short. */
function nulAt(memory: Buffer, from: number): number {
  const stop = Math.min(from + SHORT_SCAN, memory.length);
  for (let i = from; i < stop; i++) {
    if (memory[i] === 0) return i;
  }
  return stop === memory.length ? -1 : memory.indexOf(0, stop);
}

function compileModules(bundle: Bundle): Map<string, WasmModule> {
  const modules = new Map<string, WasmModule>();
  for (const [path, bytes] of bundle.wasmModules) {
    try {
      modules.set(path, new Wasm.Module(bytes));
    } catch (err) {
      throw new BundleError(bundle.name, `wasm module ${path} is not a valid WebAssembly module: ${reasonOf(err)}`, { cause: err });
    }
  }
  return modules;
}

/** OPA refuses two bundles that could write the same part of the data tree. */
function checkRootsDisjoint(a: Bundle, b: Bundle): void {
  for (const ra of a.manifest.roots) {
    for (const rb of b.manifest.roots) {
      if (rootsOverlap(ra, rb)) {
        throw new BundleError(a.name, `detected overlapping roots in manifests for these bundles: [${a.name}, ${b.name}] ('${ra}' and '${rb}')`);
      }
    }
  }
}

/**
 * Instantiates every module of every bundle with the merged data. `changed` names the bundle
 * being activated: every error is reported against it.
 */
function buildState(bundles: ReadonlyMap<string, ActiveBundle>, changed: string): EngineState {
  const names = [...bundles.keys()].sort();
  const data = new DocumentBuilder();
  for (const name of names) {
    try {
      data.add(bundles.get(name)!.bundle.data);
    } catch (err) {
      throw new BundleError(changed, `data conflicts with bundle ${name}: ${errorMessage(err)}`, { cause: err });
    }
  }
  // stringifyJson: numbers the bundles wrote beyond what a double holds are RawJson (parseExactJson).
  const dataJson = encoder.encode(stringifyJson(data.document));

  const index = new EntrypointIndex<Entrypoint>();
  const entrypoints: string[] = [];
  for (const name of names) {
    const { bundle, modules } = bundles.get(name)!;
    for (const [path, module] of modules) {
      const policy = instantiate(changed, bundle, path, module, dataJson);
      for (const entrypoint of entrypointsOf(bundle, path, policy)) {
        const entry: Entrypoint = { name: entrypoint, bundle: name, policy, id: policy.entrypoints[entrypoint] };
        if (!index.add(splitPath(entrypoint), entry)) {
          const owner = index.get(splitPath(entrypoint))!;
          throw new BundleError(changed, `entrypoint ${entrypoint} is provided by both bundle ${owner.bundle} and bundle ${name}`);
        }
        entrypoints.push(entrypoint);
      }
    }
  }
  return { bundles, index, entrypoints: entrypoints.sort() };
}

const WASM_PAGE_BYTES = 65_536;
/** opa-wasm's default initial memory. */
const MIN_INITIAL_PAGES = 5;
/**
 * OPA's Wasm heap holds parsed data at about 15 times its JSON size (measured: 115 MB for 8 MB
 * of data.json). Growing the memory to that size page by page while parsing is quadratic (an
 * 8 MB data.json took 33 s to set, past Lambda's 10 s init limit); starting with room for it
 * takes 0.4 s. Pages never touched cost no resident memory.
 */
const HEAP_BYTES_PER_DATA_BYTE = 16;

function instantiate(changed: string, bundle: Bundle, path: string, module: WasmModule, data: Uint8Array): WasmPolicy {
  try {
    const initialPages = Math.max(MIN_INITIAL_PAGES, Math.ceil((data.byteLength * HEAP_BYTES_PER_DATA_BYTE) / WASM_PAGE_BYTES));
    const policy = opaWasm.loadPolicySync(module, initialPages);
    policy.setData(toArrayBuffer(data));
    return new WasmPolicy(policy);
  } catch (err) {
    const where = changed === bundle.name ? '' : ` of bundle ${bundle.name}`;
    throw new BundleError(changed, `cannot load wasm module ${path}${where}: ${reasonOf(err)}`, { cause: err });
  }
}

/**
 * The manifest's `wasm` entries say which module answers which entrypoint; a module it does not
 * name (a hand-made bundle without a manifest) answers every entrypoint it exports.
 */
function entrypointsOf(bundle: Bundle, path: string, policy: WasmPolicy): string[] {
  const exported = policy.entrypoints;
  const names = Object.keys(exported).sort();
  const named = bundle.manifest.wasm.filter((w) => w.module === path).map((w) => w.entrypoint);
  for (const entrypoint of named) {
    if (!Object.prototype.hasOwnProperty.call(exported, entrypoint)) {
      throw new BundleError(bundle.name, `manifest names entrypoint ${entrypoint} for wasm module ${path}, which does not export it (it exports: ${names.join(', ') || 'none'})`);
    }
  }
  const entrypoints = named.length > 0 ? named : names;
  for (const entrypoint of entrypoints) {
    if (!rootsContain(bundle.manifest.roots, entrypoint)) {
      throw new BundleError(bundle.name, `manifest roots ${JSON.stringify(bundle.manifest.roots)} do not permit '${entrypoint}' entrypoint for wasm module '${path}'`);
    }
  }
  return entrypoints;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer as ArrayBuffer;
  if (bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

/** opa-wasm throws strings (`opa_abort` messages), plain objects and WebAssembly errors. */
function reasonOf(err: unknown): string {
  if (err instanceof Wasm.RuntimeError) return `policy trapped: ${err.message}`;
  // The Wasm engine recurses on the native stack; the launcher gives it room for input nested
  // MAX_JSON_DEPTH levels, and a document that still exhausts it is named as such.
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return `the Wasm engine ran out of stack: input or data nested too deeply (the server accepts input nested up to ${MAX_JSON_DEPTH} levels, OPA's limit)`;
  }
  return errorMessage(err);
}
