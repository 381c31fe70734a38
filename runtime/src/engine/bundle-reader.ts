/**
 * Reads an OPA bundle into a {@link Bundle}. Follows the bundle file format and the checks OPA
 * makes when it reads one (https://www.openpolicyagent.org/docs/management-bundles#bundle-file-format,
 * `validateAndInjectDefaults` in OPA's `v1/bundle/bundle.go`). Rego sources are skipped: the
 * engine only runs the compiled Wasm. The archive itself is read by `bundle-archive.ts`, once.
 */
import { Bundle, BundleManifest, WasmResolver } from './bundle';
import { ArchiveLimits, archiveLimits, BundleFile, readBundleArchive, readTarArchive } from './bundle-archive';
import { rootsContain, rootsOverlap, splitPath } from './bundle-roots';
import { DocumentBuilder, isPlainObject, setOwn } from './documents';
import { BundleError } from '../errors';
import { parseExactJson } from '../json-text';
import { Pacer } from '../pacer';
import { yamlToJson } from '../yaml-json';

const DATA_FILES = new Set(['data.json', 'data.yaml', 'data.yml']);

/** Reads an archive and its bundle: {@link readBundleArchive}, then {@link parseBundle}. */
export async function readBundle(
  name: string, archive: Buffer, limits: ArchiveLimits = archiveLimits(), signal?: AbortSignal,
): Promise<Bundle> {
  return parseBundle(name, await readBundleArchive(name, archive, limits, signal), signal);
}

/** Reads an uncompressed tar archive (an embedded `<name>.tar`) and its bundle: {@link readTarArchive}, then {@link parseBundle}. */
export async function readTarBundle(name: string, archive: Buffer, limits: ArchiveLimits = archiveLimits()): Promise<Bundle> {
  return parseBundle(name, readTarArchive(name, archive, limits));
}

/**
 * Builds and validates a bundle from the files of its archive; every problem is a
 * {@link BundleError} naming `name`. Long reads yield to the event loop between slices.
 */
export async function parseBundle(name: string, list: readonly BundleFile[], signal?: AbortSignal): Promise<Bundle> {
  const files = new Map(list.map((f) => [`/${f.path}`, f.data]));
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

  const data = await readData(name, files, signal);
  checkDataRoots(name, manifest.roots, data);
  return { name, manifest, data, wasmModules };
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
async function readData(name: string, files: ReadonlyMap<string, Buffer>, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const data = new DocumentBuilder();
  const pacer = new Pacer();
  // Shallowest first, then by name: a conflict is reported against the deeper file, the same way
  // whatever the order of the archive.
  const byDepth: string[][] = [];
  for (const path of files.keys()) {
    if (!DATA_FILES.has(path.slice(path.lastIndexOf('/') + 1))) continue;
    const depth = path.split('/').length;
    (byDepth[depth] ??= []).push(path);
  }
  const paths = byDepth.flatMap((level) => level.sort());
  for (const path of paths) {
    if (pacer.due()) {
      await pacer.yield();
      if (signal?.aborted) throw signal.reason;
    }
    const base = path.slice(path.lastIndexOf('/') + 1);
    const dir = splitPath(path.slice(1, path.length - base.length - 1));
    const value = parseDataFile(name, path, base, files.get(path)!);
    if (dir.length === 0 && !isPlainObject(value)) {
      throw new BundleError(name, `data file ${path} must hold an object at the root of the bundle, got ${describe(value)}`);
    }
    let tree: unknown = value;
    for (let i = dir.length - 1; i >= 0; i--) tree = setOwn({}, dir[i], tree);
    try {
      data.add(tree as Record<string, unknown>);
    } catch (err) {
      throw new BundleError(name, `data file ${path} conflicts with other data in the bundle: ${(err as Error).message}`, { cause: err });
    }
  }
  return data.document;
}

function parseDataFile(name: string, path: string, base: string, content: Buffer): unknown {
  const text = content.toString('utf8');
  try {
    // Numbers stay as written (a 64-bit ID, `1.0`), as OPA keeps them; YAML is read as OPA reads it.
    return parseExactJson(base === 'data.json' ? text : yamlToJson(text));
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
