/**
 * A dependency loaded the first time it is used. Node compiles (at least pre-parses) every
 * function of a script it loads, so each kilobyte of code in `main.js` costs every cold start;
 * packages that only some configurations need (YAML, JWS verification, SigV4 signing) are bundled
 * into files of their own beside it instead (`opa-extension/lazy/<name>.js`, see LAYER_LAYOUT),
 * and required on first use. `runtime/bundle.ts` builds them and swaps these modules in for the
 * packages through esbuild's `alias`; run from source (tests), the packages are imported as usual
 * and these modules are not used.
 */
import { join } from 'node:path';
import { LAYER_LAYOUT } from '../../../src/layer-contract';

/** Returns a loader of the bundled package `name` (`lazy/<name>.js` beside `main.js`): required once, on the first call. */
export function lazyModule<T>(name: string): () => T {
  let loaded: T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return () => (loaded ??= require(join(__dirname, LAYER_LAYOUT.LAZY_DIR, `${name}.js`)) as T);
}
