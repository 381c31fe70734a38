import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OpaBundleBinding } from './bundle-binding';

/**
 * The layer template built by `bundle:runtime`: `extensions/opa` (launcher) and
 * `opa-extension/index.js` (runtime with every dependency inlined). It sits in `lib/runtime`,
 * found from both `src/` (tests) and `lib/` (the published package).
 */
const RUNTIME_DIR = path.join(__dirname, '..', '..', 'lib', 'runtime');

export interface LayerContents {
  readonly config: Record<string, unknown>;
  /** Bundles embedded in the layer (those with an `embeddedFile`). */
  readonly embedded: OpaBundleBinding[];
}

/**
 * Lays the layer out in a fresh folder, as Lambda will unpack it at /opt:
 * `extensions/opa`, `opa-extension/index.js`, `opa-extension/config.json`,
 * `opa-extension/bundles/<name>.tar.gz`. The asset hash comes from the contents.
 */
export function assembleLayer(contents: LayerContents): string {
  const launcher = path.join(RUNTIME_DIR, 'extensions', 'opa');
  const runtime = path.join(RUNTIME_DIR, 'opa-extension', 'index.js');
  for (const file of [launcher, runtime]) {
    if (!fs.existsSync(file)) {
      throw new Error(`The extension runtime is missing at ${file}; build it with \`npx projen bundle:runtime\``);
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-extension-layer-'));
  fs.mkdirSync(path.join(dir, 'extensions'));
  fs.mkdirSync(path.join(dir, 'opa-extension', 'bundles'), { recursive: true });
  fs.copyFileSync(launcher, path.join(dir, 'extensions', 'opa'));
  // Lambda starts extensions as executables; the mode must survive into the zip.
  fs.chmodSync(path.join(dir, 'extensions', 'opa'), 0o755);
  fs.copyFileSync(runtime, path.join(dir, 'opa-extension', 'index.js'));
  fs.writeFileSync(path.join(dir, 'opa-extension', 'config.json'), JSON.stringify(contents.config, null, 2) + '\n');
  for (const bundle of contents.embedded) {
    fs.copyFileSync(bundle.embeddedFile!, path.join(dir, 'opa-extension', 'bundles', `${bundle.name}.tar.gz`));
  }
  return dir;
}
