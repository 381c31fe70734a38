/**
 * Builds bundle archives in memory, for hand-made and deliberately broken bundles that `opa build`
 * would refuse to produce. Headers come from node-tar's `Header`; this file only lays the blocks
 * out (header, data padded to 512 bytes, two zero blocks at the end) and gzips them.
 */
import * as zlib from 'node:zlib';
import { Header } from 'tar';

const BLOCK = 512;

/** A `.tar.gz` holding `files` (paths as given, with or without a leading `/`), in key order. */
export function packBundle(files: Record<string, Buffer | string>): Buffer {
  return zlib.gzipSync(packTar(files));
}

/** The same, uncompressed: a valid tar that is not gzip. */
export function packTar(files: Record<string, Buffer | string>): Buffer {
  const blocks: Buffer[] = [];
  for (const [file, content] of Object.entries(files)) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const header = Buffer.alloc(BLOCK);
    new Header({ path: file, mode: 0o644, size: data.length, type: 'File', mtime: new Date(0) }).encode(header, 0);
    blocks.push(header, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}
