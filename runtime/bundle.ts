/**
 * Builds the extension runtime into `lib/runtime/opa-extension/`: `index.js` (the layer contract's
 * RUNTIME_FILE, `runtime/src/entry.ts`: listen, register, then load the rest) and `main.js`
 * (RUNTIME_MAIN_FILE, `runtime/src/main.ts`: everything else), each with its dependencies inlined,
 * and beside them `lazy/<name>.js` (LAZY_DIR), the packages only some configurations need, which
 * `main.js` requires on first use (`runtime/src/lazy/`): every kilobyte of code Node must compile
 * is added to every cold start, before `/register` in `index.js`, before the first `/event/next`
 * in `main.js`.
 *
 *   ts-node -T runtime/bundle.ts      (the `bundle:runtime` task)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { LAYER_LAYOUT } from '../src/layer-contract';

const ROOT = path.resolve(__dirname, '..');

/**
 * Package → the module that stands in for it in `main.js`, the name of its own file (`lazy/<name>.js`,
 * the name the stand-in loads) and the exports it offers (the rest is tree-shaken away).
 */
export const LAZY_PACKAGES: Record<string, { readonly shim: string; readonly name: string; readonly exports: readonly string[] }> = {
  'yaml': { shim: './runtime/src/lazy/yaml.ts', name: 'yaml', exports: ['parse', 'stringify'] },
  'yaml2': { shim: './runtime/src/lazy/yaml2.ts', name: 'yaml2', exports: ['parseAllDocuments', 'visit', 'isAlias', 'isMap', 'isSeq'] },
  'jose': { shim: './runtime/src/lazy/jose.ts', name: 'jose', exports: ['compactVerify', 'decodeProtectedHeader'] },
  '@smithy/signature-v4': { shim: './runtime/src/lazy/signature-v4.ts', name: 'signature-v4', exports: ['SignatureV4'] },
};

const COMMON: esbuild.BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  // The packages loaded on first use keep their functions' names (yaml's errors are told apart by
  // name); the runtime's own code does not (see OWN_CODE).
  keepNames: true,
  legalComments: 'none',
  // Prefer packages' ES modules, which esbuild can tree-shake: @smithy/signature-v4's CommonJS
  // build drags in all of @smithy/core (about 135 KB of the bundle).
  mainFields: ['module', 'main'],
  absWorkingDir: ROOT,
  logLevel: 'silent',
};

/**
 * The runtime's own builds: without keepNames, whose `__name(...)` call for every function and
 * class Node would compile and run at each start (main.js loads in 9.5 ms against 11.8 ms, median
 * of 25 interleaved requires). The runtime reads no function's `name`; its errors name themselves
 * in strings (`runtime/src/errors.ts`).
 */
const OWN_CODE: esbuild.BuildOptions = { ...COMMON, keepNames: false };

/** Each package of LAZY_PACKAGES bundled alone as CommonJS: its file name (`<name>.js`) → its text. */
export async function lazyPackageFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const [pkg, lazy] of Object.entries(LAZY_PACKAGES)) {
    const contents = `export { ${lazy.exports.join(', ')} } from ${JSON.stringify(pkg)};`;
    const result = await esbuild.build({ ...COMMON, stdin: { contents, resolveDir: ROOT }, write: false });
    files[`${lazy.name}.js`] = result.outputFiles[0].text;
  }
  return files;
}

/** The options of the runtime's build (`main.js`); `version` is the `version` label of decision logs and status. */
export function runtimeBuildOptions(version: string): esbuild.BuildOptions {
  const alias = Object.fromEntries(Object.entries(LAZY_PACKAGES).map(([pkg, { shim }]) => [pkg, shim]));
  return { ...OWN_CODE, entryPoints: ['runtime/src/main.ts'], define: { OPA_EXTENSION_VERSION: JSON.stringify(version) }, alias };
}

/** The options of the program's build (`index.js`): small, and without any of `main.js`'s code. */
export function entryBuildOptions(): esbuild.BuildOptions {
  return { ...OWN_CODE, entryPoints: ['runtime/src/entry.ts'] };
}

async function main(): Promise<void> {
  const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const dir = path.join(ROOT, 'lib', 'runtime', LAYER_LAYOUT.RUNTIME_DIR);
  const builds: Array<[string, esbuild.BuildOptions]> = [
    [LAYER_LAYOUT.RUNTIME_FILE, entryBuildOptions()],
    [LAYER_LAYOUT.RUNTIME_MAIN_FILE, runtimeBuildOptions(version)],
  ];
  const report = (file: string): void => console.log(`${path.relative(ROOT, file)}: ${(fs.statSync(file).size / 1024).toFixed(1)} KB`);
  for (const [file, options] of builds) {
    const outfile = path.join(dir, file);
    await esbuild.build({ ...options, outfile });
    report(outfile);
  }
  const lazyDir = path.join(dir, LAYER_LAYOUT.LAZY_DIR);
  fs.rmSync(lazyDir, { recursive: true, force: true });
  fs.mkdirSync(lazyDir);
  for (const [file, text] of Object.entries(await lazyPackageFiles())) {
    fs.writeFileSync(path.join(lazyDir, file), text);
    report(path.join(lazyDir, file));
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
