/**
 * Reads an OPA bundle (`.tar.gz`) into a {@link Bundle}, synchronously because it runs during the
 * extension's init, before `/register`. Follows the bundle file format and the checks OPA makes
 * when it reads one (https://www.openpolicyagent.org/docs/management-bundles#bundle-file-format,
 * `validateAndInjectDefaults` in OPA's `v1/bundle/bundle.go`). Rego sources are skipped: the
 * engine only runs the compiled Wasm.
 */
import * as zlib from 'node:zlib';
// The runtime is bundled by esbuild: its dependencies are inlined, so dev dependencies are right.
import { Parser, ReadEntry } from 'tar';
import { parse as parseYaml } from 'yaml';
import { BundleError } from '../errors';
import { Bundle, BundleManifest, WasmResolver } from './bundle';
import { rootsContain, rootsOverlap, splitPath } from './bundle-roots';
import { isPlainObject, mergeDocuments, setOwn } from './documents';

const GZIP_MAGIC = [0x1f, 0x8b];
const DATA_FILES = new Set(['data.json', 'data.yaml', 'data.yml']);

/** Reads and validates a bundle; every problem is a {@link BundleError} naming `name`. */
export function readBundle(name: string, archive: Buffer): Bundle {
  const files = readArchive(name, archive);
  const manifest = parseManifest(name, files.get('/.manifest'));
  if (files.has('/patch.json')) {
    throw new BundleError(name, 'delta bundles (patch.json) are not supported; publish a snapshot bundle');
  }

  const wasmModules = new Map<string, Uint8Array>();
  for (const [path, content] of files) if (path.endsWith('.wasm')) wasmModules.set(path, content);
  if (wasmModules.size === 0) {
    throw new BundleError(name, 'holds no Wasm module (policy.wasm); this extension evaluates compiled policies only: '
      + 'build the bundle with `opa build -t wasm -e <entrypoint> ...`');
  }
  for (const resolver of manifest.wasm) {
    if (!wasmModules.has(resolver.module)) {
      throw new BundleError(name, `manifest names wasm module ${resolver.module}, which is not in the bundle`);
    }
  }

  const data = readData(name, files);
  checkDataRoots(name, manifest.roots, data);
  return { name, manifest, data, wasmModules };
}

/** Regular files of the archive by path with a leading `/` (bundles are written with and without). */
function readArchive(name: string, archive: Buffer): Map<string, Buffer> {
  if (archive.length < 2 || archive[0] !== GZIP_MAGIC[0] || archive[1] !== GZIP_MAGIC[1]) {
    throw new BundleError(name, 'not a gzip archive (a bundle is a .tar.gz file)');
  }
  let tarball: Buffer;
  try {
    tarball = zlib.gunzipSync(archive);
  } catch (err) {
    throw new BundleError(name, `corrupt gzip archive: ${(err as Error).message}`, { cause: err });
  }

  const files = new Map<string, Buffer>();
  let failure: Error | undefined;
  let ended = false;
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type !== 'File' && entry.type !== 'OldFile') {
        entry.resume();
        return;
      }
      const path = normalizeArchivePath(entry.path);
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        if (files.has(path)) failure ??= new Error(`file ${path} appears more than once`);
        files.set(path, Buffer.concat(chunks));
      });
    },
  });
  parser.on('error', (err: Error) => { failure ??= err; });
  parser.on('end', () => { ended = true; });
  // Given the whole buffer at once, node-tar parses and emits every entry before end() returns.
  parser.end(tarball);
  if (failure) throw new BundleError(name, `not a valid tar archive: ${failure.message}`, { cause: failure });
  if (!ended) throw new BundleError(name, 'not a valid tar archive: the archive is truncated');
  return files;
}

function normalizeArchivePath(path: string): string {
  return '/' + path.replace(/^(\.?\/)+/, '');
}

function parseManifest(name: string, content: Buffer | undefined): BundleManifest {
  if (content === undefined) return { revision: '', roots: [''], wasm: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch (err) {
    throw new BundleError(name, `.manifest is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isPlainObject(raw)) throw new BundleError(name, '.manifest must be a JSON object');

  const revision = raw.revision ?? '';
  if (typeof revision !== 'string') throw new BundleError(name, `.manifest revision must be a string, got ${JSON.stringify(revision)}`);

  const rawRoots = raw.roots ?? [''];
  if (!Array.isArray(rawRoots) || !rawRoots.every((r) => typeof r === 'string')) {
    throw new BundleError(name, `.manifest roots must be an array of strings, got ${JSON.stringify(rawRoots)}`);
  }
  const roots = (rawRoots as string[]).map(trimSlashes);
  for (let i = 0; i < roots.length; i++) {
    for (let j = i + 1; j < roots.length; j++) {
      if (rootsOverlap(roots[i], roots[j])) throw new BundleError(name, `manifest has overlapped roots: '${roots[i]}' and '${roots[j]}'`);
    }
  }

  const metadata = raw.metadata;
  if (metadata !== undefined && !isPlainObject(metadata)) throw new BundleError(name, '.manifest metadata must be a JSON object');

  return { revision, roots, wasm: parseResolvers(name, raw.wasm ?? [], roots), ...(metadata ? { metadata } : {}) };
}

function parseResolvers(name: string, raw: unknown, roots: readonly string[]): WasmResolver[] {
  if (!Array.isArray(raw)) throw new BundleError(name, `.manifest wasm must be an array, got ${JSON.stringify(raw)}`);
  const seen = new Set<string>();
  return raw.map((item: unknown, i) => {
    if (!isPlainObject(item) || typeof item.entrypoint !== 'string' || typeof item.module !== 'string') {
      throw new BundleError(name, `.manifest wasm[${i}] must be an object with string entrypoint and module`);
    }
    const entrypoint = trimSlashes(item.entrypoint);
    const module = '/' + trimSlashes(item.module);
    if (!rootsContain(roots, entrypoint)) {
      throw new BundleError(name, `manifest roots ${JSON.stringify(roots)} do not permit '${entrypoint}' entrypoint for wasm module '${module}'`);
    }
    if (seen.has(entrypoint)) throw new BundleError(name, `entrypoint '${entrypoint}' cannot be used by more than one wasm module`);
    seen.add(entrypoint);
    return { entrypoint, module };
  });
}

/** Mounts each data file at its directory's path and merges them, refusing conflicts as OPA does. */
function readData(name: string, files: Map<string, Buffer>): Record<string, unknown> {
  let data: Record<string, unknown> = {};
  // Shallowest first, then by name: a conflict is reported against the deeper file, the same way
  // whatever the order of the archive.
  const depth = (path: string) => path.split('/').length;
  const paths = [...files.keys()].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
  for (const path of paths) {
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (!DATA_FILES.has(base)) continue;
    const dir = splitPath(path.slice(1, path.length - base.length - 1));
    const value = parseDataFile(name, path, base, files.get(path)!);
    if (dir.length === 0 && !isPlainObject(value)) {
      throw new BundleError(name, `data file ${path} must hold an object at the root of the bundle, got ${describe(value)}`);
    }
    let tree: unknown = value;
    for (let i = dir.length - 1; i >= 0; i--) tree = setOwn({}, dir[i], tree);
    try {
      data = mergeDocuments(data, tree as Record<string, unknown>);
    } catch (err) {
      throw new BundleError(name, `data file ${path} conflicts with other data in the bundle: ${(err as Error).message}`, { cause: err });
    }
  }
  return data;
}

function parseDataFile(name: string, path: string, base: string, content: Buffer): unknown {
  const text = content.toString('utf8');
  try {
    return base === 'data.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new BundleError(name, `data file ${path} is not valid ${base === 'data.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`, { cause: err });
  }
}

/** OPA refuses data outside the manifest roots (`do not permit data at path`). */
function checkDataRoots(name: string, roots: readonly string[], data: Record<string, unknown>): void {
  const visit = (path: string, node: unknown): void => {
    if (rootsContain(roots, path)) return;
    if (isPlainObject(node) && roots.some((root) => root.startsWith(path === '' ? '' : path + '/'))) {
      for (const key of Object.keys(node)) visit(path === '' ? key : `${path}/${key}`, node[key]);
      return;
    }
    throw new BundleError(name, `manifest roots ${JSON.stringify(roots)} do not permit data at path '/${path}'`);
  };
  visit('', data);
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
