/**
 * The V8 flags of the extension's process, in one place: the launcher's `--stack-size`, which this
 * module takes back out of the flags (not out of the stack) as soon as the program starts, and the
 * flags for the long run, set once init is done.
 *
 * Why the first: the launcher gives the Wasm engine a large stack (`--stack-size`, see
 * `runtime/launcher/opa`), and V8 sizes the main thread's stack once, when the process starts;
 * setting the flag later changes nothing. But V8 also checks a hash of every flag that differs from
 * its default before it takes compiled code from a cache, and Node.js loads its own modules
 * (`node:net`, `node:http`, ...) from such a cache, built into the binary: with `--stack-size` set,
 * each of them is compiled from source instead: the builtins a start loads (net, cluster, http,
 * zlib, ...) took 26.7 ms to load with the flag against 11.8 ms without it (Node.js 20, median of
 * 15). Setting the flag back to V8's default once started keeps the stack the process was given
 * and makes the hash match again (test/runtime/v8-flags.test.ts).
 */

type SetFlags = (flags: string) => void;
let setFlags: SetFlags | undefined;

/**
 * V8's `setFlagsFromString`, reached without loading `node:v8` where the binary allows it. `node:v8`
 * loads `node:stream` and the modules it brings (for heap snapshots), and the first flag change must
 * come before any of them, or they are compiled from source: the builtins of a start took 20.9 ms
 * to load when the flag was reset through `node:v8`, 10.9 ms through the binding, 9.3 ms without the
 * launcher's flag (Node.js 20, median of 21). Node.js 20 still has the binding behind
 * `process.binding('v8')`, deprecated (it warns, hence the warning switched off for the one call);
 * later versions (the Node.js layer's 26) do not, and get `node:v8`.
 */
function v8SetFlags(): SetFlags {
  if (setFlags) return setFlags;
  const quiet = process.noDeprecation;
  try {
    process.noDeprecation = true;
    const binding = (process as unknown as { binding(name: string): { setFlagsFromString?: unknown } }).binding('v8');
    if (typeof binding.setFlagsFromString === 'function') setFlags = binding.setFlagsFromString as SetFlags;
  } catch {
    // No such binding in this Node.js: node:v8 below.
  } finally {
    process.noDeprecation = quiet;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (setFlags ??= (require('node:v8') as typeof import('node:v8')).setFlagsFromString);
}

/**
 * V8's default `--stack-size` (KiB) on 64-bit targets, x64 and arm64 alike (`V8_DEFAULT_STACK_SIZE_KB`):
 * with the flag back at this value, it no longer counts in the hash that guards V8's code caches.
 */
export const V8_DEFAULT_STACK_SIZE_KB = 984;

/** Sets `--stack-size` back to V8's default; the stack the process started with stays as it was. */
export function restoreDefaultStackSizeFlag(): void {
  v8SetFlags()(`--stack-size=${V8_DEFAULT_STACK_SIZE_KB}`);
}

/**
 * V8 flags for the long run, set once init is done: launch flags that cap the heap make start-up
 * itself collect again and again (`--max-semi-space-size`: 1.3× the CPU of loading the runtime),
 * while these are read by V8 as it goes, so setting them now costs start-up nothing.
 * - `--semi-space-growth-factor=1` stops V8 from growing the young generation beyond the size
 *   start-up left it: under a stream of decisions it grows towards 16 MB per semi-space, memory a
 *   128 MB function shares with the extension (bench: RSS after 100k decisions 89 MB without this,
 *   65 MB with it).
 * - Not `--optimize-for-size`: it made the optimizing compiler favour memory (RSS after 42,000
 *   decisions 59 MB against 70 MB without it) while a decision still allocated pooled Buffers
 *   outside the V8 heap; since a decision no longer does, it saves nothing (RSS after 100k
 *   decisions 55.99 MB with and without it, two paired runs) and costs 8-10% of the extension's
 *   CPU per decision (paired A/B, c=1).
 * - Not `--no-maglev`: V8's mid-tier compiler (on by default from Node.js 22, so on the Node.js
 *   layer's binary; off in Node.js 20) makes the extension hold more, but no more than a bare
 *   Node server on the same binary does, and without it decisions are slow until the optimizing
 *   compiler has the hot code. On Node.js 26, against the bare server on the same binary (bench,
 *   figure `node layer`, three runs each): with Maglev, RSS after 100k decisions 78 MB (1.06-1.07×)
 *   and decision p50 over the first 20,000 decisions 1.03-1.10×; without it, 67-70 MB (0.93-0.95×)
 *   and p50 1.25-1.40×. Decisions/s after them: 0.91-1.10× either way.
 * This changes the flag hash too: a builtin first loaded after init (`node:https` for a bundle
 * download, say) is compiled from source, once, off the cold start's path.
 */
export function favourMemoryOnceInitDone(): void {
  v8SetFlags()('--semi-space-growth-factor=1');
}
