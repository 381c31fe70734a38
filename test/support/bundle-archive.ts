/**
 * Builds bundle archives in memory, for hand-made and deliberately broken or hostile bundles that
 * `opa build` would refuse to produce. Headers come from node-tar's `Header`; this file only lays
 * the blocks out (header, data padded to 512 bytes, two zero blocks at the end) and gzips them.
 */
import * as zlib from 'node:zlib';
import { Header } from 'tar';

const BLOCK = 512;

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export interface TarEntry {
  readonly path: string;
  /** node-tar's type name. @default 'File' */
  readonly type?: 'File' | 'OldFile' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'ContiguousFile' | 'ExtendedHeader' | 'GlobalExtendedHeader' | 'NextFileHasLongPath' | 'GNUDumpDir';
  readonly data?: Buffer | string;
  /** The size the header declares. @default the data's length */
  readonly size?: number;
  readonly linkpath?: string;
}

/** Header and padded data of each entry, with no end-of-archive marker. */
export function tarBlocks(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data ?? Buffer.alloc(0);
    const header = Buffer.alloc(BLOCK);
    new Header({ path: e.path, mode: 0o644, size: e.size ?? data.length, type: e.type ?? 'File', mtime: new Date(0), linkpath: e.linkpath }).encode(header, 0);
    blocks.push(header, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  return Buffer.concat(blocks);
}

/** The body of a pax extended header holding `records`. */
export function paxRecords(records: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length++;
    return `${length}${body}`;
  }).join(''));
}

/** A `.tar.gz` holding `files` (paths as given, with or without a leading `/`), in key order. */
export function packBundle(files: Record<string, Buffer | string>): Buffer {
  return zlib.gzipSync(packTar(files));
}

/** The same, uncompressed: a valid tar that is not gzip. */
export function packTar(files: Record<string, Buffer | string>): Buffer {
  return Buffer.concat([tarBlocks(Object.entries(files).map(([path, data]) => ({ path, data }))), END_OF_ARCHIVE]);
}

/**
 * gzip of the concatenated `pieces`, compressed as they come: builds archives that inflate to
 * gigabytes (decompression bombs) without holding them in memory.
 */
export async function gzipPieces(pieces: Iterable<Buffer>): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9, strategy: zlib.constants.Z_RLE });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve, reject) => gzip.on('end', resolve).on('error', reject));
  for (const piece of pieces) {
    if (!gzip.write(piece)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await ended;
  return Buffer.concat(chunks);
}

/** `count` copies of `chunk`, lazily. */
export function* repeated(chunk: Buffer, count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield chunk;
}
