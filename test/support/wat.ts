/**
 * Hand-written Wasm policies for what `opa build` cannot produce: a policy that traps, and one that
 * only offers the older ABI 1.1 call path (https://www.openpolicyagent.org/docs/wasm#abi-versions).
 * They speak just enough of the ABI for `@open-policy-agent/opa-wasm` (see its `src/opa.js`): a
 * "value" is the address of NUL-terminated JSON text, so `opa_json_parse` only terminates the text
 * and `opa_json_dump` is the identity.
 */
import wabt from 'wabt';

/** Entrypoints of {@link trapModule}: `trap/boom` traps; `trap/data` returns the data document. */
export const TRAP_ENTRYPOINTS = { boom: 'trap/boom', data: 'trap/data' } as const;

/** Entrypoints of {@link abi11Module}: `abi11/input` returns the input, `abi11/data` the data. */
export const ABI11_ENTRYPOINTS = { input: 'abi11/input', data: 'abi11/data' } as const;

/** ABI 1.2 module whose `opa_eval` executes `unreachable` for entrypoint 0. */
export async function trapModule(): Promise<Uint8Array> {
  return compileWat('trap.wat', moduleText(2, [TRAP_ENTRYPOINTS.boom, TRAP_ENTRYPOINTS.data], `
  (func (export "opa_eval") (param $reserved i32) (param $entrypoint i32) (param $data i32)
      (param $input i32) (param $inputLen i32) (param $heap i32) (param $format i32) (result i32)
    (global.set $heap (local.get $heap))
    (if (i32.eqz (local.get $entrypoint)) (then unreachable))
    (call $resultSet (local.get $data)))`));
}

/** ABI 1.1 module: evaluation only through the `opa_eval_ctx_*` functions and `eval`. */
export async function abi11Module(): Promise<Uint8Array> {
  // A context is four i32 slots: input, data, entrypoint, result.
  return compileWat('abi11.wat', moduleText(1, [ABI11_ENTRYPOINTS.input, ABI11_ENTRYPOINTS.data], `
  (func (export "opa_eval_ctx_new") (result i32) (call $malloc (i32.const 16)))
  (func (export "opa_eval_ctx_set_input") (param $ctx i32) (param $v i32) (i32.store offset=0 (local.get $ctx) (local.get $v)))
  (func (export "opa_eval_ctx_set_data") (param $ctx i32) (param $v i32) (i32.store offset=4 (local.get $ctx) (local.get $v)))
  (func (export "opa_eval_ctx_set_entrypoint") (param $ctx i32) (param $e i32) (i32.store offset=8 (local.get $ctx) (local.get $e)))
  (func (export "opa_eval_ctx_get_result") (param $ctx i32) (result i32) (i32.load offset=12 (local.get $ctx)))
  (func (export "eval") (param $ctx i32) (result i32)
    (i32.store offset=12 (local.get $ctx)
      (call $resultSet
        (if (result i32) (i32.eqz (i32.load offset=8 (local.get $ctx)))
          (then (i32.load offset=0 (local.get $ctx)))
          (else (i32.load offset=4 (local.get $ctx))))))
    (i32.const 0))`));
}

/** Compiles WAT text to a Wasm binary; `name` only labels error messages. */
export async function compileWat(name: string, text: string): Promise<Uint8Array> {
  const w = await wabt();
  const mod = w.parseWat(name, text);
  try {
    mod.validate();
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

/**
 * The part both modules share: memory, the ABI globals, a bump allocator, the JSON identity
 * functions and `$resultSet`, which wraps a value as `[{"result":<value>}]` (`[]` for address 0,
 * that is undefined). `body` adds the evaluation functions.
 */
function moduleText(minorVersion: number, entrypoints: readonly string[], body: string): string {
  const strings = new StringTable(64);
  const builtins = strings.add('{}');
  const eps = strings.add(JSON.stringify(Object.fromEntries(entrypoints.map((e, i) => [e, i]))));
  const empty = strings.add('[]');
  const prefix = strings.add('[{"result":');
  const suffix = strings.add('}]');
  return `(module
  (import "env" "memory" (memory 1))
  (global (export "opa_wasm_abi_version") i32 (i32.const 1))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const ${minorVersion}))
  (global $heap (mut i32) (i32.const ${strings.end()}))
  ${strings.segments()}
  (func $malloc (param $size i32) (result i32)
    (local $addr i32)
    (local.set $addr (global.get $heap))
    ;; One byte more than asked, for the NUL that opa_json_parse writes after the text.
    (global.set $heap (i32.add (local.get $addr) (i32.add (local.get $size) (i32.const 1))))
    (local.get $addr))
  ;; Copies the NUL-terminated text at $src to $dst; returns the address of the copied NUL.
  (func $copy (param $dst i32) (param $src i32) (result i32)
    (block $done
      (loop $next
        (i32.store8 (local.get $dst) (i32.load8_u (local.get $src)))
        (br_if $done (i32.eqz (i32.load8_u (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 1)))
        (local.set $src (i32.add (local.get $src) (i32.const 1)))
        (br $next)))
    (local.get $dst))
  (func $resultSet (param $value i32) (result i32)
    (local $start i32)
    (if (i32.eqz (local.get $value)) (then (return (i32.const ${empty}))))
    (local.set $start (global.get $heap))
    (global.set $heap (i32.add (call $copy (call $copy (call $copy (local.get $start) (i32.const ${prefix}))
      (local.get $value)) (i32.const ${suffix})) (i32.const 1)))
    (local.get $start))
  (func (export "opa_malloc") (param $size i32) (result i32) (call $malloc (local.get $size)))
  (func (export "opa_json_parse") (param $addr i32) (param $len i32) (result i32)
    (i32.store8 (i32.add (local.get $addr) (local.get $len)) (i32.const 0))
    (local.get $addr))
  (func (export "opa_json_dump") (param $value i32) (result i32) (local.get $value))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param $addr i32) (global.set $heap (local.get $addr)))
  (func (export "builtins") (result i32) (i32.const ${builtins}))
  (func (export "entrypoints") (result i32) (i32.const ${eps}))
  ${body}
)`;
}

/** Constant NUL-terminated strings laid out from `base`, emitted as data segments. */
class StringTable {
  private next: number;
  private readonly entries: { addr: number; text: string }[] = [];

  public constructor(base: number) {
    this.next = base;
  }

  public add(text: string): number {
    const addr = this.next;
    this.entries.push({ addr, text });
    this.next += Buffer.byteLength(text) + 1;
    return addr;
  }

  /** First free address, rounded up so the heap starts aligned. */
  public end(): number {
    return Math.ceil(this.next / 8) * 8;
  }

  public segments(): string {
    return this.entries
      .map(({ addr, text }) => `(data (i32.const ${addr}) "${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\00")`)
      .join('\n  ');
  }
}
