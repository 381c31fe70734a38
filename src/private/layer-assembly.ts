import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OpaBundleBinding } from './bundle-binding';
import { LAYER_LAYOUT } from '../layer-contract';

/**
 * The layer template built by `bundle:runtime`: the launcher and the runtime with every dependency
 * inlined, laid out as {@link LAYER_LAYOUT} says. It sits in `lib/runtime`, found from both `src/`
 * (tests) and `lib/` (the published package).
 */
const RUNTIME_DIR = path.join(__dirname, '..', '..', 'lib', 'runtime');

export interface LayerContents {
  readonly config: Record<string, unknown>;
  /** Bundles embedded in the layer (those with an `embeddedFile`). */
  readonly embedded: OpaBundleBinding[];
}

/**
 * Lays the layer out in a fresh folder, as Lambda will unpack it at /opt:
 * `extensions/opa`, `opa-extension/index.js` and `main.js`, `opa-extension/config.json`,
 * `opa-extension/bundles/<name>.tar.gz`. The asset hash comes from the contents.
 */
export function assembleLayer(contents: LayerContents): string {
  const { LAUNCHER_DIR, LAUNCHER_NAME, RUNTIME_DIR: RUNTIME, RUNTIME_FILE, RUNTIME_MAIN_FILE } = LAYER_LAYOUT;
  const { CONFIG_FILE, BUNDLES_DIR, BUNDLE_SUFFIX } = LAYER_LAYOUT;
  const launcher = path.join(RUNTIME_DIR, LAUNCHER_DIR, LAUNCHER_NAME);
  const runtime = path.join(RUNTIME_DIR, RUNTIME, RUNTIME_FILE);
  const runtimeMain = path.join(RUNTIME_DIR, RUNTIME, RUNTIME_MAIN_FILE);
  for (const file of [launcher, runtime, runtimeMain]) {
    if (!fs.existsSync(file)) {
      throw new Error(`The extension runtime is missing at ${file}; build it with \`npx projen bundle:runtime\``);
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-extension-layer-'));
  fs.mkdirSync(path.join(dir, LAUNCHER_DIR));
  fs.mkdirSync(path.join(dir, RUNTIME, BUNDLES_DIR), { recursive: true });
  fs.copyFileSync(launcher, path.join(dir, LAUNCHER_DIR, LAUNCHER_NAME));
  // Lambda starts extensions as executables; the mode must survive into the zip.
  fs.chmodSync(path.join(dir, LAUNCHER_DIR, LAUNCHER_NAME), 0o755);
  fs.copyFileSync(runtime, path.join(dir, RUNTIME, RUNTIME_FILE));
  fs.copyFileSync(runtimeMain, path.join(dir, RUNTIME, RUNTIME_MAIN_FILE));
  fs.writeFileSync(path.join(dir, RUNTIME, CONFIG_FILE), JSON.stringify(contents.config, null, 2) + '\n');
  for (const bundle of contents.embedded) {
    fs.copyFileSync(bundle.embeddedFile!, path.join(dir, RUNTIME, BUNDLES_DIR, `${bundle.name}${BUNDLE_SUFFIX}`));
  }
  return dir;
}
