/**
 * Packs a bundle directory (`policy.wasm`, data files, an optional `.manifest`) into a `.tar.gz`
 * that is the same bytes for the same contents: the layer's asset hash is computed from the files
 * of the layer, so a repack that only differs in timestamps or owners would publish a new layer
 * version for an unchanged policy.
 *
 * What is packed is what OPA's bundle reader reads from a directory (`v1/bundle/bundle.go`,
 * `Reader.Read`): Rego modules, `policy.wasm`, `plan.json`, `data.json`/`data.yaml`/`data.yml`
 * at any depth (mounted at their directory), and at the root `.manifest`, `.signatures.json` and
 * `patch.json`. Every other file is left out, as OPA ignores it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { Header, Pax } from 'tar';

const BLOCK = 512;
const FILE_NAMES = new Set(['policy.wasm', 'plan.json', 'data.json', 'data.yaml', 'data.yml']);
const ROOT_ONLY = new Set(['.manifest', '.signatures.json', 'patch.json']);
/** Fixed attributes of every entry: the only thing that varies is the path and the contents. */
const ENTRY = { mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), type: 'File' } as const;
/** gzip's OS byte (RFC 1952 §2.3.1): 255, "unknown", as Go's compress/gzip writes, whatever the platform. */
const GZIP_OS_UNKNOWN = 0xff;

/** A directory that cannot be packed; the message names the file. */
export class PackError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'PackError';
  }
}

/** Packs `directory` into `output`; returns the archive's paths, in archive order. */
export function packDirectory(directory: string, output: string): string[] {
  if (!fs.statSync(directory).isDirectory()) throw new PackError(`${directory} is not a directory`);
  const root = fs.realpathSync(directory);
  const files = collect(root, '', []).sort((a, b) => (a.archivePath < b.archivePath ? -1 : a.archivePath > b.archivePath ? 1 : 0));
  checkContents(directory, files.map((f) => f.archivePath));
  const blocks: Buffer[] = [];
  for (const file of files) blocks.push(...entryBlocks(file.archivePath, fs.readFileSync(file.source)));
  blocks.push(Buffer.alloc(2 * BLOCK));
  const gzip = zlib.gzipSync(Buffer.concat(blocks), { level: zlib.constants.Z_BEST_COMPRESSION });
  gzip[9] = GZIP_OS_UNKNOWN;
  fs.writeFileSync(output, gzip);
  return files.map((f) => f.archivePath);
}

interface SourceFile {
  /** Slash path inside the bundle, without a leading `/`. */
  readonly archivePath: string;
  /** The file to read (a link's target). */
  readonly source: string;
}

function collect(root: string, relative: string, out: SourceFile[]): SourceFile[] {
  const dir = path.join(root, relative);
  for (const name of fs.readdirSync(dir)) {
    const rel = relative === '' ? name : `${relative}/${name}`;
    const full = path.join(dir, name);
    let stat = fs.lstatSync(full);
    let source = full;
    if (stat.isSymbolicLink()) {
      source = followLink(root, rel, full);
      stat = fs.statSync(source);
      if (stat.isDirectory()) {
        throw new PackError(`${rel} is a symbolic link to a directory; copy the directory in, or point the bundle at it directly`);
      }
    }
    if (stat.isDirectory()) {
      collect(root, rel, out);
      continue;
    }
    if (!isBundleFile(rel, name)) continue;
    if (!stat.isFile()) throw new PackError(`${rel} is not a regular file`);
    out.push({ archivePath: rel, source });
  }
  return out;
}

/** The target of a link, which must lie inside the directory: a bundle never reaches outside it. */
function followLink(root: string, rel: string, full: string): string {
  let target: string;
  try {
    target = fs.realpathSync(full);
  } catch (err) {
    throw new PackError(`${rel} is a symbolic link that cannot be followed: ${(err as Error).message}`);
  }
  const inside = path.relative(root, target);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
    throw new PackError(`${rel} is a symbolic link to ${target}, outside the bundle directory; copy the file in instead`);
  }
  return target;
}

function isBundleFile(rel: string, name: string): boolean {
  if (name.endsWith('.rego') || FILE_NAMES.has(name)) return true;
  if (!ROOT_ONLY.has(name)) return false;
  if (rel !== name) throw new PackError(`${rel}: ${name} is only read at the root of a bundle; move it there`);
  return true;
}

/** Refuses a directory with nothing the extension can serve, with a hint at what is there instead. */
function checkContents(directory: string, paths: readonly string[]): void {
  const names = paths.map((p) => p.slice(p.lastIndexOf('/') + 1));
  if (names.some((n) => n === 'policy.wasm' || n.startsWith('data.') || n === '.manifest')) return;
  const hints: string[] = [];
  if (names.some((n) => n.endsWith('.rego'))) hints.push('it holds Rego sources: compile them at synth with OpaBundle.fromRego(directory, { entrypoints })');
  const otherWasm = fs.readdirSync(directory).filter((n) => n.endsWith('.wasm'));
  if (otherWasm.length > 0) hints.push(`a compiled policy must be named policy.wasm (found ${otherWasm.join(', ')})`);
  throw new PackError(`holds no policy.wasm, data.json, data.yaml or .manifest${hints.length ? `; ${hints.join('; ')}` : ''}`);
}

/** A header (with a pax record before it when the path does not fit ustar), the data and its padding. */
function entryBlocks(archivePath: string, data: Buffer): Buffer[] {
  const attributes = { ...ENTRY, path: archivePath, size: data.length };
  const header = Buffer.alloc(BLOCK);
  const needsPax = new Header(attributes).encode(header, 0);
  const blocks: Buffer[] = needsPax ? [new Pax(attributes).encode(), header] : [header];
  blocks.push(data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  return blocks;
}
