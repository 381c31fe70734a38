/**
 * A dependency the bundle holds as text, compiled the first time it is used. Node compiles (at
 * least pre-parses) every function of a script before running it, so each kilobyte of code in
 * `index.js` costs every cold start; packages that only some configurations need (YAML, JWS
 * verification) are carried as a string instead, which costs a scan, and compiled on first use.
 * `runtime/bundle.ts` builds them and swaps them in for the package through esbuild's `alias`;
 * run from source (tests), the packages are imported as usual and these modules are not used.
 * `node:vm` itself is loaded on the first such compile, not with the runtime.
 */

/** Returns a loader of the CommonJS module whose source `source()` gives: compiled once, on the first call. */
export function lazyModule<T>(name: string, source: () => string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      const module = { exports: {} as T };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const vm = require('node:vm') as typeof import('node:vm');
      const wrapper = vm.runInThisContext(`(function (module, exports, require) {${source()}\n})`, { filename: `opa-extension/lazy/${name}.js` }) as
        (m: typeof module, e: T, r: NodeJS.Require) => void;
      wrapper(module, module.exports, require);
      loaded = module.exports;
    }
    return loaded;
  };
}
