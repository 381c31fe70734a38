import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { OpaBundleBinding } from './bundle-binding';
import { EMBEDDED_TAR_MAX_BYTES, LAYER_LAYOUT } from '../layer-contract';

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
 * `extensions/opa`, `opa-extension/index.js`, `main.js` and `lazy/`, `opa-extension/config.json`,
 * `opa-extension/bundles/<name>.tar` (or `.tar.gz`, see {@link embedBundle}). The asset hash comes
 * from the contents.
 */
export function assembleLayer(contents: LayerContents): string {
  const { LAUNCHER_DIR, LAUNCHER_NAME, RUNTIME_DIR: RUNTIME, RUNTIME_FILE, RUNTIME_MAIN_FILE, LAZY_DIR } = LAYER_LAYOUT;
  const { CONFIG_FILE, BUNDLES_DIR } = LAYER_LAYOUT;
  const launcher = path.join(RUNTIME_DIR, LAUNCHER_DIR, LAUNCHER_NAME);
  const runtime = path.join(RUNTIME_DIR, RUNTIME, RUNTIME_FILE);
  const runtimeMain = path.join(RUNTIME_DIR, RUNTIME, RUNTIME_MAIN_FILE);
  const lazy = path.join(RUNTIME_DIR, RUNTIME, LAZY_DIR);
  for (const file of [launcher, runtime, runtimeMain, lazy]) {
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
  fs.cpSync(lazy, path.join(dir, RUNTIME, LAZY_DIR), { recursive: true });
  fs.writeFileSync(path.join(dir, RUNTIME, CONFIG_FILE), JSON.stringify(contents.config, null, 2) + '\n');
  for (const bundle of contents.embedded) embedBundle(bundle.embeddedFile!, path.join(dir, RUNTIME, BUNDLES_DIR, bundle.name));
  return dir;
}

/**
 * Writes the archive at `file` as `<base>.tar`, inflated, so that init reads it without gunzip; or
 * as `<base>.tar.gz`, unchanged, when it inflates to more than EMBEDDED_TAR_MAX_BYTES, or does not
 * inflate at all: the layer's check (`checkEmbeddedBundles`) then refuses it with the message of
 * the extension's own reader.
 */
function embedBundle(file: string, base: string): void {
  const archive = fs.readFileSync(file);
  let tar: Buffer | undefined;
  try {
    tar = zlib.gunzipSync(archive, { maxOutputLength: EMBEDDED_TAR_MAX_BYTES });
  } catch {
    tar = undefined;
  }
  if (tar) fs.writeFileSync(`${base}${LAYER_LAYOUT.TAR_BUNDLE_SUFFIX}`, tar);
  else fs.writeFileSync(`${base}${LAYER_LAYOUT.BUNDLE_SUFFIX}`, archive);
}
